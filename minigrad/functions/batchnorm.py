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
``y = x * scale + shift`` with ``scale = gamma * inv_std`` and ``shift = beta - scale * running_mean``
per channel, so ``dx = dy * scale``, ``dgamma = sum dy * xhat``, ``dbeta = sum dy``
(:class:`BatchNormEval`, one pass each way).
"""

import numpy as np

from minigrad.autograd import Function, array_hint
from minigrad.functions.dtypes import require_float
from minigrad.kernels import batchnorm_cpu, batchnorm_eval_cpu, batchnorm_relu_cpu, relu_cpu
from minigrad.kernels.threads import use_numba_threads
from minigrad.tensor import Tensor


class BatchNorm(Function):
    """Training-mode batch norm: y = gamma * (x - mean) / sqrt(var + eps) + beta with batch statistics.

    The arithmetic (the formulas above) is in the Numba kernels of ``minigrad/kernels/batchnorm_cpu.py``;
    here the input is viewed as (N, C, S) with S = H*W, and the running statistics
    (NumPy arrays or None) are updated in place as a side effect, so the batch statistics are
    computed once.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5, momentum=0.1, running_mean=None, running_var=None):
        as_3d = x.reshape(x.shape[0], x.shape[1], -1)
        y, mean, inv_std = _normalise(as_3d, weight, bias, eps, momentum, running_mean, running_var, relu=False)
        ctx.save_for_backward(as_3d, mean, inv_std, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_out):
        x, mean, inv_std, weight = ctx.saved_tensors
        use_numba_threads()
        grad_input, grad_weight, grad_bias = batchnorm_cpu.batch_norm_backward(
            grad_out.reshape(x.shape), x, mean, inv_std, weight
        )
        return grad_input.reshape(grad_out.shape), grad_weight, grad_bias


class BatchNormReLU(Function):
    """y = max(BatchNorm(x), 0) in training mode, fused (a fast chapter: ``kernels/batchnorm_relu_cpu.py``).

    The same numbers as ``relu(batch_norm(x, ...))`` (to rounding in float32, exactly the same
    formulas), with one pass less over the activation each way: the ReLU's mask is recomputed
    from ``x`` inside BatchNorm's backward (``BN(x) > 0``, with the forward's own arithmetic)
    instead of writing ``dy * [y > 0]`` to memory first.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5, momentum=0.1, running_mean=None, running_var=None):
        return _fused_forward(ctx, x, None, weight, bias, eps, momentum, running_mean, running_var)

    @staticmethod
    def backward(ctx, grad_out):
        grad_input, _, grad_weight, grad_bias = _fused_backward(ctx, grad_out, with_residual=False)
        return grad_input, grad_weight, grad_bias


class BatchNormAddReLU(Function):
    """y = max(BatchNorm(x) + residual, 0) in training mode, fused: the end of a ResNeXt block,
    where the shortcut joins (``kernels/batchnorm_relu_cpu.py``; the same numbers as
    ``relu(batch_norm(x, ...) + residual)`` to rounding in float32).

    The residual's gradient is the ReLU's masked dy, written by BatchNorm's backward as it goes.
    """

    @staticmethod
    def forward(ctx, x, residual, weight, bias, eps=1e-5, momentum=0.1, running_mean=None, running_var=None):
        return _fused_forward(ctx, x, residual, weight, bias, eps, momentum, running_mean, running_var)

    @staticmethod
    def backward(ctx, grad_out):
        return _fused_backward(ctx, grad_out, with_residual=True)


class BatchNormEval(Function):
    """Evaluation mode, with the running statistics: ``y = x * scale + shift`` per channel, then
    ``+ residual`` if one is given (a fourth input) and ``max(., 0)`` if ``relu``: what the layers
    :class:`BatchNorm`, :class:`BatchNormReLU` and :class:`BatchNormAddReLU` compute in ``eval()``.

    The forward is one pass (``kernels/batchnorm_eval_cpu.py``) with the same numbers as the
    elementwise ops ``x * scale + shift (+ residual)``, ``relu``; the backward is NumPy (training
    never runs it).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *residual, running_mean, running_var, eps, relu):
        inv_std, mean = (1.0 / np.sqrt(running_var + eps)).astype(x.dtype), running_mean.astype(x.dtype)
        scale = weight * inv_std
        shift = bias - scale * mean
        as_3d = x.reshape(x.shape[0], x.shape[1], -1)
        use_numba_threads()
        y = batchnorm_eval_cpu.affine_forward(as_3d, scale, shift, relu,
                                              residual[0].reshape(as_3d.shape) if residual else None)
        ctx.save_for_backward(x, y if relu else None, scale, inv_std, mean)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_out):
        x, y, scale, inv_std, mean = ctx.saved_tensors
        grad = grad_out if y is None else relu_cpu.relu_backward(grad_out, y.reshape(grad_out.shape))
        channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # broadcasts a (C,) array over (N, C, ...)
        over_values = (0,) + tuple(range(2, x.ndim))     # every axis but the channel's
        need = ctx.needs_input_grad
        grad_x = grad * scale.reshape(channel) if need[0] else None
        if need[1]:
            xhat = (x - mean.reshape(channel)) * inv_std.reshape(channel)
            grad_weight = (grad * xhat).sum(axis=over_values)
        else:
            grad_weight = None
        grad_bias = grad.sum(axis=over_values) if need[2] else None
        grads = (grad_x, grad_weight, grad_bias)
        if len(need) == 4:  # the residual's gradient is the (masked) dy itself
            grads += (grad if need[3] else None,)
        return grads


def _fused_forward(ctx, x, residual, weight, bias, eps, momentum, running_mean, running_var):
    """The forward of both fused Functions: ``max(BN(x) (+ residual), 0)``; saves x, y and the statistics."""
    as_3d = x.reshape(x.shape[0], x.shape[1], -1)
    y, mean, inv_std = _normalise(as_3d, weight, bias, eps, momentum, running_mean, running_var, relu=True,
                                  residual=None if residual is None else residual.reshape(as_3d.shape))
    ctx.save_for_backward(as_3d, y, mean, inv_std, weight, bias)
    return y.reshape(x.shape)


def _fused_backward(ctx, grad_out, with_residual):
    """(dx, d residual or None, dgamma, dbeta) from what :func:`_fused_forward` saved."""
    x, y, mean, inv_std, weight, bias = ctx.saved_tensors
    use_numba_threads()
    grad_residual = np.empty(x.shape, dtype=grad_out.dtype) if with_residual else None
    grad_input, grad_weight, grad_bias = batchnorm_relu_cpu.batch_norm_relu_backward(
        grad_out.reshape(x.shape), y, x, mean, inv_std, weight, bias, grad_residual
    )
    if with_residual:
        grad_residual = grad_residual.reshape(grad_out.shape)
    return grad_input.reshape(grad_out.shape), grad_residual, grad_weight, grad_bias


def _normalise(as_3d, weight, bias, eps, momentum, running_mean, running_var, relu, residual=None):
    """The forward kernel on an (N, C, S) view, and the running statistics' update in place."""
    use_numba_threads()  # the kernels run one parallel task per channel
    y, mean, var, inv_std = batchnorm_cpu.batch_norm_forward(as_3d, weight, bias, eps, relu, residual)
    count = as_3d.shape[0] * as_3d.shape[2]
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * mean
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += momentum * var * count / max(count - 1, 1)
    return y, mean, inv_std


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """PyTorch's ``F.batch_norm``: batch statistics when ``training``, running ones otherwise.

    ``running_mean``/``running_var`` are NumPy arrays of shape (C,) (or None when not tracked;
    then evaluation also uses batch statistics).  ``weight``/``bias`` are (C,) Tensors or None.
    """
    return _batch_norm(BatchNorm, x, running_mean, running_var, weight, bias, training, momentum, eps)


def batch_norm_relu(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """``relu(batch_norm(x, ...))`` with the same arguments, fused (:class:`BatchNormReLU`; in evaluation :class:`BatchNormEval`).

    >>> import minigrad as mg
    >>> x = mg.randn(4, 3, 2, 2, generator=0)
    >>> fused = batch_norm_relu(x, None, None, training=True)
    >>> bool((fused.data == mg.functional.relu(batch_norm(x, None, None, training=True)).data).all())
    True
    """
    return _batch_norm(BatchNormReLU, x, running_mean, running_var, weight, bias, training, momentum, eps)


def batch_norm_add_relu(x, residual, running_mean, running_var, weight=None, bias=None, training=False,
                        momentum=0.1, eps=1e-5):
    """``relu(batch_norm(x, ...) + residual)``, fused (:class:`BatchNormAddReLU`; in evaluation :class:`BatchNormEval`).

    >>> import minigrad as mg
    >>> x, r = mg.randn(4, 3, 2, 2, generator=0), mg.randn(4, 3, 2, 2, generator=1)
    >>> fused = batch_norm_add_relu(x, r, None, None, training=True)
    >>> unfused = mg.functional.relu(batch_norm(x, None, None, training=True) + r)
    >>> bool(abs(fused.data - unfused.data).max() < 1e-6)
    True
    """
    if not isinstance(residual, Tensor):
        raise TypeError(f"batch_norm_add_relu: residual must be a Tensor, got {type(residual).__name__}{array_hint(residual)}")
    if isinstance(x, Tensor) and (residual.shape != x.shape or residual.dtype != x.dtype):
        raise ValueError(f"batch_norm_add_relu: residual must match the input, {x.shape} {x.dtype}; "
                         f"got {residual.shape} {residual.dtype}")
    return _batch_norm(BatchNormAddReLU, x, running_mean, running_var, weight, bias, training, momentum, eps,
                       residual=residual)


NAMES = {BatchNorm: "batch_norm", BatchNormReLU: "batch_norm_relu", BatchNormAddReLU: "batch_norm_add_relu"}


def _batch_norm(function, x, running_mean, running_var, weight, bias, training, momentum, eps, residual=None):
    name = NAMES[function]
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}{array_hint(x)}")
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"{name} expects a 2-D, 3-D or 4-D input (N, C, ...), got shape {x.shape}")
    require_float(name, input=x.data)
    channels = x.shape[1]
    for label, value in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if value is not None and tuple(value.shape) != (channels,):
            raise ValueError(f"{name}: {label} must have shape ({channels},) for input {x.shape}, got {tuple(value.shape)}")
    for label, value in (("weight", weight), ("bias", bias)):
        if value is not None and value.dtype != x.dtype:
            raise ValueError(f"{name}: input dtype {x.dtype} and {label} dtype {value.dtype} differ; convert them to one dtype")
    if weight is None:
        weight = Tensor(np.ones(channels, dtype=x.dtype))
    if bias is None:
        bias = Tensor(np.zeros(channels, dtype=x.dtype))
    use_batch_stats = training or running_mean is None or running_var is None
    if use_batch_stats:
        if training and x.numel() // channels < 2:
            raise ValueError(f"{name} in training needs more than 1 value per channel, got input shape {x.shape}")
        inputs = (x, weight, bias) if residual is None else (x, residual, weight, bias)
        return function.apply(
            *inputs, eps=eps, momentum=momentum,
            running_mean=running_mean if training else None,
            running_var=running_var if training else None,
        )
    inputs = (x, weight, bias) if residual is None else (x, weight, bias, residual)
    return BatchNormEval.apply(*inputs, running_mean=running_mean, running_var=running_var, eps=eps,
                               relu=function is not BatchNorm)
