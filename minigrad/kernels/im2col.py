"""``im2col`` and ``col2im`` in Numba: unfold receptive fields into columns, and fold them back.

The column matrix of one group has one row per weight tap and one column per output pixel, so a
grouped convolution becomes ``G`` matrix products that BLAS does fast::

    cols[g, (c*kh + i)*kw + j, (n*oh + y)*ow + x] = xp[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw]

with ``xp`` the zero-padded input (padding is never materialised: an out-of-range pixel reads 0).
Shape ``(G, Cg*kh*kw, N*oh*ow)`` = ``geom.col_shape``; legend in
:mod:`minigrad.kernels.conv_geometry`.

``col2im`` is the adjoint (transpose) of ``im2col``: every column entry is *added* back onto the
input pixel it was copied from, so a pixel that lies in several receptive fields gets the sum of
its column entries. It is what turns the column gradient back into the input gradient. Its loops
mirror im2col's (``=`` becomes ``+=``, source and destination swap), with two differences: rows
that fell on zero padding are skipped instead of zeroed, and a strided row is added pixel by
pixel (NumPy's ``a[::s] += b`` would be one statement, but Numba compiles the loop just as well).

Both loops are serial on purpose: the convolution runs the whole im2col + matmul path on several
threads at once, each on its own slice of the batch (see :mod:`minigrad.kernels.conv.batches`), so
a Numba parallel region inside would only fight those threads. They are compiled ``nogil`` so that
the threads really do run at the same time. Their innermost step copies (or adds) one output row
at a time as a 1-D slice, which LLVM turns into SIMD code. They take the geometry as one
:data:`~minigrad.kernels.conv_geometry.KernelGeometry` record (``geometry.stride_h``, ...).

The loop functions are plain Python; ``NUMBA_DISABLE_JIT=1`` runs them as such, for debugging.
"""

import numpy as np
from numba import njit

__all__ = ["im2col", "col2im"]


@njit(cache=True, nogil=True)
def _valid_output_range(offset, stride, in_size, out_size):
    """Output positions ``o`` in ``[begin, end)`` whose input position ``o*stride + offset`` lies in
    ``[0, in_size)``; the others fall on zero padding. Used to keep branches out of inner loops."""
    begin = max(0, (-offset + stride - 1) // stride)  # smallest o with o*stride + offset >= 0
    end = max(0, (in_size - 1 - offset) // stride + 1)  # one past the largest o with ... <= in_size - 1
    end = min(end, out_size)
    return min(begin, end), end


@njit(cache=True, nogil=True)
def _im2col_loops(x, cols, geometry):
    """Fill ``cols`` (G, Cg*kh*kw, N*oh*ow) from ``x`` (N, C, H, W); every element is written."""
    batch, in_channels, in_h, in_w = x.shape
    in_channels_per_group, kernel_h, kernel_w = geometry.in_channels_per_group, geometry.kernel_h, geometry.kernel_w
    stride_h, stride_w, pad_h, pad_w = geometry.stride_h, geometry.stride_w, geometry.pad_h, geometry.pad_w
    dilation_h, dilation_w, out_h, out_w = geometry.dilation_h, geometry.dilation_w, geometry.out_h, geometry.out_w
    # BEGIN SOLUTION t04_im2col
    for channel in range(in_channels):
        group = channel // in_channels_per_group
        channel_in_group = channel % in_channels_per_group
        for i in range(kernel_h):
            y_begin, y_end = _valid_output_range(i * dilation_h - pad_h, stride_h, in_h, out_h)
            for j in range(kernel_w):
                x_begin, x_end = _valid_output_range(j * dilation_w - pad_w, stride_w, in_w, out_w)
                row = (channel_in_group * kernel_h + i) * kernel_w + j
                in_x_offset = j * dilation_w - pad_w  # output column x_out reads input x_out*sw + in_x_offset
                first_in_x = x_begin * stride_w + in_x_offset
                in_x_stop = first_in_x + (x_end - x_begin) * stride_w
                for n in range(batch):
                    for y in range(out_h):
                        column = (n * out_h + y) * out_w
                        dest = cols[group, row, column : column + out_w]
                        if y < y_begin or y >= y_end:
                            dest[:] = 0
                            continue
                        source = x[n, channel, y * stride_h - pad_h + i * dilation_h]
                        dest[:x_begin] = 0
                        dest[x_begin:x_end] = source[first_in_x:in_x_stop:stride_w]
                        dest[x_end:] = 0
    # END SOLUTION


@njit(cache=True, nogil=True)
def _col2im_loops(cols, grad_x, geometry):
    """Add ``cols`` (G, Cg*kh*kw, N*oh*ow) onto ``grad_x`` (N, C, H, W), which starts at zero.
    Column entries that came from padding are dropped."""
    batch, in_channels, in_h, in_w = grad_x.shape
    in_channels_per_group, kernel_h, kernel_w = geometry.in_channels_per_group, geometry.kernel_h, geometry.kernel_w
    stride_h, stride_w, pad_h, pad_w = geometry.stride_h, geometry.stride_w, geometry.pad_h, geometry.pad_w
    dilation_h, dilation_w, out_h, out_w = geometry.dilation_h, geometry.dilation_w, geometry.out_h, geometry.out_w
    # BEGIN SOLUTION t04_im2col
    for channel in range(in_channels):
        group = channel // in_channels_per_group
        channel_in_group = channel % in_channels_per_group
        for i in range(kernel_h):
            y_begin, y_end = _valid_output_range(i * dilation_h - pad_h, stride_h, in_h, out_h)
            for j in range(kernel_w):
                x_begin, x_end = _valid_output_range(j * dilation_w - pad_w, stride_w, in_w, out_w)
                row = (channel_in_group * kernel_h + i) * kernel_w + j
                in_x_offset = j * dilation_w - pad_w
                for n in range(batch):
                    for y in range(y_begin, y_end):
                        column = (n * out_h + y) * out_w
                        source = cols[group, row, column : column + out_w]
                        dest = grad_x[n, channel, y * stride_h - pad_h + i * dilation_h]
                        for x_out in range(x_begin, x_end):
                            dest[x_out * stride_w + in_x_offset] += source[x_out]
    # END SOLUTION


def im2col(x, geom):
    """``(N, C, H, W) -> (G, Cg*kh*kw, N*oh*ow)``, same dtype as ``x``."""
    if x.shape != geom.input_shape:
        raise ValueError(f"im2col: input shape {x.shape} does not match geometry {geom.input_shape}")
    # A C-contiguous array keeps Numba at one compiled version per dtype.
    x = np.ascontiguousarray(x)
    cols = np.empty(geom.col_shape, dtype=x.dtype)
    _im2col_loops(x, cols, geom.record())
    return cols


def col2im(cols, geom):
    """``(G, Cg*kh*kw, N*oh*ow) -> (N, C, H, W)``, same dtype as ``cols``."""
    if cols.shape != geom.col_shape:
        raise ValueError(f"col2im: column shape {cols.shape} does not match geometry {geom.col_shape}")
    cols = np.ascontiguousarray(cols)
    grad_x = np.zeros(geom.input_shape, dtype=cols.dtype)
    _col2im_loops(cols, grad_x, geom.record())
    return grad_x
