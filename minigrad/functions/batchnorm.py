"""Batch normalisation over every axis except the channel axis 1 ((N, C) or (N, C, H, W) inputs).

Training mode, per channel, over the M = N*H*W values of that channel in the batch::

    mean = (1/M) sum x              var = (1/M) sum (x - mean)^2      (biased, used to normalise)
    xhat = (x - mean) * inv_std,    inv_std = 1 / sqrt(var + eps)
    y    = gamma * xhat + beta

Backward (derived by following mean and var through xhat; all sums over the M values)::

    dbeta  = sum dy
    dgamma = sum dy * xhat
    dx     = gamma * inv_std / M * (M * dy - sum dy - xhat * sum(dy * xhat))

The running statistics follow PyTorch: ``running = (1 - momentum) * running + momentum * batch``,
with the *unbiased* variance (``var * M / (M - 1)``) for ``running_var``.
Evaluation mode normalises with the running statistics: y is then an affine function of x,
built from elementwise ops.
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.functions import elementwise
from minigrad.tensor import Tensor


def _reduction_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(array, ndim):
    """(C,) -> (1, C, 1, 1) (or (1, C) for 2-D inputs) so it broadcasts over x."""
    return array.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNorm(Function):
    """Training-mode batch norm: y = gamma * (x - mean) / sqrt(var + eps) + beta with batch statistics.

    ``running_mean``/``running_var`` (NumPy arrays or None) are updated in place as a side effect,
    so the batch statistics are computed once.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5, momentum=0.1, running_mean=None, running_var=None):
        axes = _reduction_axes(x)
        count = x.size // x.shape[1]
        mean = x.mean(axis=axes)
        centered = x - _per_channel(mean, x.ndim)
        var = np.mean(centered * centered, axis=axes)
        inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        xhat = centered * _per_channel(inv_std, x.ndim)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * count / max(count - 1, 1)
        ctx.save_for_backward(xhat, inv_std, weight)
        return xhat * _per_channel(weight, x.ndim) + _per_channel(bias, x.ndim)

    @staticmethod
    def backward(ctx, grad_out):
        xhat, inv_std, weight = ctx.saved_tensors
        axes = _reduction_axes(xhat)
        count = xhat.size // xhat.shape[1]
        # BEGIN SOLUTION t07_batchnorm_backward
        grad_bias = grad_out.sum(axis=axes)
        grad_weight = (grad_out * xhat).sum(axis=axes)
        grad_input = None
        if ctx.needs_input_grad[0]:
            scale = _per_channel(weight * inv_std / count, xhat.ndim)
            grad_input = scale * (
                count * grad_out
                - _per_channel(grad_bias, xhat.ndim)
                - xhat * _per_channel(grad_weight, xhat.ndim)
            )
        # END SOLUTION
        return grad_input, grad_weight, grad_bias


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """PyTorch's ``F.batch_norm``: batch statistics when ``training``, running ones otherwise.

    ``running_mean``/``running_var`` are NumPy arrays of shape (C,) (or None when not tracked;
    then evaluation also uses batch statistics).  ``weight``/``bias`` are (C,) Tensors or None.
    """
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm expects a 2-D, 3-D or 4-D input (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    for name, value in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if value is not None and tuple(value.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},) for input {x.shape}, got {tuple(value.shape)}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and value.dtype != x.dtype:
            raise ValueError(f"batch_norm: input dtype {x.dtype} and {name} dtype {value.dtype} differ; convert them to one dtype")
    if weight is None:
        weight = Tensor(np.ones(channels, dtype=x.dtype))
    if bias is None:
        bias = Tensor(np.zeros(channels, dtype=x.dtype))
    use_batch_stats = training or running_mean is None or running_var is None
    if use_batch_stats:
        if training and x.size // channels < 2:
            raise ValueError(f"batch_norm in training needs more than 1 value per channel, got input shape {x.shape}")
        return BatchNorm.apply(
            x, weight, bias, eps=eps, momentum=momentum,
            running_mean=running_mean if training else None,
            running_var=running_var if training else None,
        )
    inv_std = Tensor((1.0 / np.sqrt(running_var + eps)).astype(x.dtype))
    scale = elementwise.mul(weight, inv_std)                                  # gamma / sqrt(var + eps)
    shift = elementwise.sub(bias, elementwise.mul(scale, running_mean.astype(x.dtype)))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    return x * scale.reshape(shape) + shift.reshape(shape)
