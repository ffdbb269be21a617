"""Ops that move values around without changing them: reshape, permute, pad, concatenate.

Their backward moves the gradient back the same way: reshape back, permute by the inverse
permutation, cut the padding off, split the concatenation.  ``flatten``, ``transpose``, ``stack``
and ``split`` are built from these (and from slicing) rather than being ops of their own.
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.functions.indexing import getitem


class Reshape(Function):
    """y = x viewed with a new shape ;  dx = dy viewed with x's shape"""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out.reshape(ctx.input_shape)


class Permute(Function):
    """y = x with axes reordered: y.shape[i] = x.shape[axes[i]] ;  dx = dy permuted by the inverse order"""

    @staticmethod
    def forward(ctx, x, axes):
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"permute needs a reordering of all {x.ndim} axes, got {tuple(axes)}")
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, grad_out):
        return np.transpose(grad_out, np.argsort(ctx.axes))


class Pad(Function):
    """y = x surrounded by zeros ;  dx = the middle of dy (the padding received no input)

    ``pad_width`` is NumPy's: one ``(before, after)`` pair per axis.
    """

    @staticmethod
    def forward(ctx, x, pad_width):
        if len(pad_width) != x.ndim or any(b < 0 or a < 0 for b, a in pad_width):
            raise ValueError(f"pad needs one non-negative (before, after) pair per axis of shape {x.shape}, got {pad_width}")
        ctx.middle = tuple(slice(before, before + size) for (before, _), size in zip(pad_width, x.shape))
        return np.pad(x, pad_width)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out[ctx.middle].copy()


class Concatenate(Function):
    """y = [x_1, x_2, ...] joined along ``axis`` ;  dx_k = the slice of dy that came from x_k"""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("concatenate needs at least one tensor")
        ndim = arrays[0].ndim
        if not -ndim <= axis < ndim:
            raise ValueError(f"concatenate axis {axis} is out of range for {ndim}-dimensional tensors")
        axis %= ndim

        def other_sizes(shape):
            return shape[:axis] + shape[axis + 1:]

        for a in arrays:
            if a.ndim != ndim or other_sizes(a.shape) != other_sizes(arrays[0].shape):
                raise ValueError(
                    f"concatenate along axis {axis} needs equal sizes on the other axes, got shapes "
                    + ", ".join(str(x.shape) for x in arrays)
                )
        ctx.axis = axis
        ctx.boundaries = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad_out):
        return tuple(np.split(grad_out, ctx.boundaries, axis=ctx.axis))


def reshape(x, shape):
    return Reshape.apply(x, shape=tuple(int(s) for s in shape))


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` into one (PyTorch's ``torch.flatten``)."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim={start_dim} comes after end_dim={end_dim} for shape {x.shape}")
    merged = int(np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def permute(x, axes):
    return Permute.apply(x, axes=tuple(int(a) % max(x.ndim, 1) for a in axes))


def transpose(x, *axes):
    """No axes: reverse them all (NumPy's ``.T``).  Two axes: swap them (PyTorch's ``transpose(a, b)``)."""
    if not axes:
        return permute(x, tuple(reversed(range(x.ndim))))
    if len(axes) == 2:
        order = list(range(x.ndim))
        first, second = axes[0] % x.ndim, axes[1] % x.ndim
        order[first], order[second] = order[second], order[first]
        return permute(x, order)
    return permute(x, axes)


def pad(x, pad_width):
    """Zero padding with NumPy's ``pad_width``: an int, or one ``(before, after)`` pair per axis."""
    if isinstance(pad_width, int):
        pad_width = [(pad_width, pad_width)] * x.ndim
    return Pad.apply(x, pad_width=tuple((int(b), int(a)) for b, a in pad_width))


def concatenate(tensors, axis=0):
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join tensors of equal shape along a new axis (built from reshape + concatenate)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shape = tensors[0].shape
    for t in tensors:
        if t.shape != shape:
            raise ValueError(f"stack needs tensors of equal shape, got {shape} and {t.shape}")
    axis = axis % (len(shape) + 1)
    expanded = shape[:axis] + (1,) + shape[axis:]
    return concatenate([reshape(t, expanded) for t in tensors], axis=axis)


def split(x, split_size_or_sections, axis=0):
    """Cut ``x`` along ``axis`` into pieces (PyTorch's ``torch.split``): an int gives pieces of
    that size (the last may be smaller); a list gives the size of each piece."""
    axis = axis % x.ndim
    length = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections < 1:
            raise ValueError(f"split size must be >= 1, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (length // split_size_or_sections)
        if length % split_size_or_sections:
            sizes.append(length % split_size_or_sections)
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise ValueError(f"split sizes {sizes} add up to {sum(sizes)}, but axis {axis} has size {length}")
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(getitem(x, index))
        start += size
    return pieces

