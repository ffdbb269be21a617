"""Reductions over some axes: sum, mean, max.

In every backward the gradient, which has the reduced shape, is first reshaped as if
``keepdims=True`` so that it broadcasts back over the axes that were reduced.
"""

import numpy as np

from minigrad.autograd import Function


def normalize_axes(axis, ndim):
    """``axis`` as a sorted tuple of non-negative ints (None means every axis)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for a in axes:
        # (the builtin ``max`` is shadowed by this module's ``max`` op, so none is used here)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(a) % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"axis {axis} repeats an axis")
    return tuple(sorted(normalized))


def _kept_shape(shape, axes):
    """The output shape with keepdims=True: reduced axes become size 1."""
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


class Sum(Function):
    """y = sum_{i in axes} x_i ;  dx = dy broadcast back over the reduced axes"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim)
        ctx.input_shape, ctx.axes = x.shape, axes
        return np.sum(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_out):
        # BEGIN SOLUTION t01_elementwise_backward
        grad = grad_out.reshape(_kept_shape(ctx.input_shape, ctx.axes))
        return np.broadcast_to(grad, ctx.input_shape).copy()
        # END SOLUTION


class Mean(Function):
    """y = (1/n) sum_{i in axes} x_i ;  dx = dy / n broadcast back (n = number of reduced elements)"""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim)
        ctx.input_shape, ctx.axes = x.shape, axes
        return np.mean(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_out):
        count = int(np.prod([ctx.input_shape[a] for a in ctx.axes]))
        # BEGIN SOLUTION t01_elementwise_backward
        grad = grad_out.reshape(_kept_shape(ctx.input_shape, ctx.axes)) / count
        return np.broadcast_to(grad, ctx.input_shape).astype(grad_out.dtype)
        # END SOLUTION


class Max(Function):
    """y = max_{i in axes} x_i ;  dx_i = dy * [x_i == y] / (number of maxima)

    When several elements tie for the maximum the gradient is shared equally between them
    (as ``torch.amax``), which keeps the gradient the same whichever tied element one picks.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim)
        kept = np.max(x, axis=axes, keepdims=True)
        is_max = x == kept
        ctx.save_for_backward(is_max)
        ctx.axes = axes
        return kept if keepdims else kept.reshape(np.delete(np.array(x.shape, dtype=int), axes))

    @staticmethod
    def backward(ctx, grad_out):
        (is_max,) = ctx.saved_tensors
        grad = grad_out.reshape(_kept_shape(is_max.shape, ctx.axes))
        ties = is_max.sum(axis=ctx.axes, keepdims=True)
        return (grad * is_max / ties).astype(grad_out.dtype)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - mirrors torch.sum
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - mirrors torch.max
    return Max.apply(x, axis=axis, keepdims=keepdims)
