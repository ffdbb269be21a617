"""Classroom task t15: make a slow kernel fast. Max pooling, once as plain Python, once with Numba.

Max pooling with a ``k x k`` window and stride ``s`` (no padding) keeps the largest value of each
window, channel by channel::

    out[n, c, p, q] = max over i, j < k of x[n, c, p*s + i, q*s + j]
    out_h = (H - k) // s + 1            (the same for out_w)

`max_pool2d_slow` is the specification: obviously right, and slow, because every element access
goes through the Python interpreter (about a microsecond each). `max_pool2d_fast` must return
exactly the same array (same values, same dtype) many times faster; the grading compares the two
in the same run and asks for a speed *ratio*, never an absolute time, so a busy machine does not
change the verdict. It is not the framework's pooling (``minigrad/functions/pooling.py``); it
is an exercise in what Numba compiles well: plain loops over NumPy arrays, no Python objects.
"""

import numpy as np
from numba import njit

__all__ = ["max_pool2d_slow", "max_pool2d_fast", "pooled_shape"]


def pooled_shape(shape, kernel_size, stride):
    """``(N, C, out_h, out_w)``; a ValueError quoting the numbers when the window does not fit."""
    if len(shape) != 4:
        raise ValueError(f"max pooling expects an (N, C, H, W) array, got shape {tuple(shape)}")
    for name, value in (("kernel_size", kernel_size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    batch, channels, height, width = shape
    if kernel_size > height or kernel_size > width:
        raise ValueError(f"kernel_size={kernel_size} does not fit in the {height}x{width} image")
    return batch, channels, (height - kernel_size) // stride + 1, (width - kernel_size) // stride + 1


def max_pool2d_slow(x, kernel_size, stride):
    """The specification, in pure Python loops: ``(N, C, H, W) -> (N, C, out_h, out_w)``."""
    out = np.empty(pooled_shape(x.shape, kernel_size, stride), dtype=x.dtype)
    batch, channels, out_h, out_w = out.shape
    for n in range(batch):
        for c in range(channels):
            for p in range(out_h):
                for q in range(out_w):
                    window = [x[n, c, p * stride + i, q * stride + j]
                              for i in range(kernel_size) for j in range(kernel_size)]
                    out[n, c, p, q] = max(window)
    return out


@njit(cache=True)
def _max_pool2d_loops(x, kernel_size, stride, out):
    """Fill ``out`` (N, C, out_h, out_w) with the window maxima of ``x``; compiled by Numba."""
    # BEGIN SOLUTION t15_numba_speedup
    batch, channels, out_h, out_w = out.shape
    for n in range(batch):
        for c in range(channels):
            for p in range(out_h):
                for q in range(out_w):
                    # Start from the window's first element, not from 0: an all-negative window
                    # has a negative maximum. `>` keeps the first of equal values, as max() does.
                    best = x[n, c, p * stride, q * stride]
                    for i in range(kernel_size):
                        for j in range(kernel_size):
                            value = x[n, c, p * stride + i, q * stride + j]
                            if value > best:
                                best = value
                    out[n, c, p, q] = best
    # END SOLUTION


def max_pool2d_fast(x, kernel_size, stride):
    """The same result as `max_pool2d_slow`, from `_max_pool2d_loops`."""
    out = np.empty(pooled_shape(x.shape, kernel_size, stride), dtype=x.dtype)
    _max_pool2d_loops(np.ascontiguousarray(x), kernel_size, stride, out)
    return out
