"""The convolution, specified in plain NumPy: slow, short, obviously right.

Every fast kernel (Numba CPU, numba.cuda) is tested against the functions in this file, so they
are written for the reader, not for speed: one loop over the ``kh * kw`` kernel taps, and for each
tap one ``einsum`` over the strided window of the padded input that this tap sees.

Dimension legend (see :mod:`minigrad.kernels.conv_geometry`)::

    N batch   G groups   Cg = C/G input channels per group   Og = O/G output channels per group
    H,W input size   kh,kw kernel size   oh,ow output size

The math, for output pixel ``(y, x)`` of filter ``o`` in group ``g`` (``o`` counted inside its
group, ``c`` inside its group's channel slice), with ``xp`` the zero-padded input::

    out[n, g*Og + o, y, x] = sum_{c, i, j} w[g*Og + o, c, i, j]
                             * xp[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw]

Its two gradients follow by reading the same sum the other way round:

    grad_input[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw] += sum_o w[g*Og + o, c, i, j] * gy[n, g*Og + o, y, x]
    grad_weight[g*Og + o, c, i, j] = sum_{n, y, x} xp[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw] * gy[n, g*Og + o, y, x]

(the ``+=`` because several (output pixel, tap) pairs land on the same input pixel; the part of
the gradient that lands on padding is cut away at the end).

No bias here: the autograd ``Function`` adds it. Results have the dtype of ``x`` (or of
``grad_out``); nothing is upcast.
"""

import numpy as np

__all__ = ["conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight", "im2col", "col2im"]


def _pad(x, geom):
    """Zero-pad the two spatial axes of an ``(N, C, H, W)`` array."""
    return np.pad(x, ((0, 0), (0, 0), (geom.pad_h, geom.pad_h), (geom.pad_w, geom.pad_w)))


def _tap_window(padded, geom, i, j):
    """The ``(N, C, oh, ow)`` strided view of the padded input seen by kernel tap ``(i, j)``.

    Output pixel ``(y, x)`` reads padded pixel ``(y*sh + i*dh, x*sw + j*dw)``.
    """
    top = i * geom.dilation_h
    left = j * geom.dilation_w
    return padded[
        :,
        :,
        top : top + geom.stride_h * (geom.out_h - 1) + 1 : geom.stride_h,
        left : left + geom.stride_w * (geom.out_w - 1) + 1 : geom.stride_w,
    ]


def _split_groups(array, groups):
    """``(N, G*K, h, w) -> (N, G, K, h, w)``: make the group axis explicit."""
    n, channels, h, w = array.shape
    return array.reshape(n, groups, channels // groups, h, w)


def conv2d_forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``: the grouped convolution."""
    G, Og, Cg = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group
    weight_by_group = weight.reshape(G, Og, Cg, geom.kernel_h, geom.kernel_w)
    padded = _pad(x, geom)
    out = np.zeros((geom.batch, G, Og, geom.out_h, geom.out_w), dtype=x.dtype)
    for i in range(geom.kernel_h):
        for j in range(geom.kernel_w):
            window = _split_groups(_tap_window(padded, geom, i, j), G)  # (N, G, Cg, oh, ow)
            # out[n,g,o,y,x] += sum_c w[g,o,c,i,j] * window[n,g,c,y,x]
            out += np.einsum("ngchw,goc->ngohw", window, weight_by_group[:, :, :, i, j])
    return out.reshape(geom.output_shape)


def conv2d_grad_input(grad_out, weight, geom):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``: gradient of the loss w.r.t. ``x``."""
    G, Og, Cg = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group
    weight_by_group = weight.reshape(G, Og, Cg, geom.kernel_h, geom.kernel_w)
    grad_out_by_group = _split_groups(grad_out, G)  # (N, G, Og, oh, ow)
    padded_h = geom.in_h + 2 * geom.pad_h
    padded_w = geom.in_w + 2 * geom.pad_w
    grad_padded = np.zeros((geom.batch, geom.in_channels, padded_h, padded_w), dtype=grad_out.dtype)
    for i in range(geom.kernel_h):
        for j in range(geom.kernel_w):
            # The window is a view into grad_padded; for a fixed tap the strided positions are
            # distinct, so this in-place += is a plain scatter-add.
            window = _split_groups(_tap_window(grad_padded, geom, i, j), G)  # (N, G, Cg, oh, ow)
            window += np.einsum("ngohw,goc->ngchw", grad_out_by_group, weight_by_group[:, :, :, i, j])
    return grad_padded[:, :, geom.pad_h : geom.pad_h + geom.in_h, geom.pad_w : geom.pad_w + geom.in_w].copy()


def conv2d_grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``: gradient of the loss w.r.t. the weight."""
    G, Og, Cg = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group
    grad_out_by_group = _split_groups(grad_out, G)  # (N, G, Og, oh, ow)
    padded = _pad(x, geom)
    grad_weight = np.zeros((G, Og, Cg, geom.kernel_h, geom.kernel_w), dtype=x.dtype)
    for i in range(geom.kernel_h):
        for j in range(geom.kernel_w):
            window = _split_groups(_tap_window(padded, geom, i, j), G)  # (N, G, Cg, oh, ow)
            # gw[g,o,c,i,j] = sum_{n,y,x} window[n,g,c,y,x] * gy[n,g,o,y,x]
            grad_weight[:, :, :, i, j] = np.einsum("ngchw,ngohw->goc", window, grad_out_by_group)
    return grad_weight.reshape(geom.weight_shape)


def im2col(x, geom):
    """``(N, C, H, W) -> (G, Cg*kh*kw, N*oh*ow)``: unfold every receptive field into a column.

    Row ``c*kh*kw + i*kw + j`` of group ``g`` holds tap ``(i, j)`` of channel ``g*Cg + c``, the
    same order as ``weight.reshape(G, Og, Cg*kh*kw)``; column ``n*oh*ow + y*ow + x`` is output
    pixel ``(n, y, x)``. So the convolution becomes, per group, one matrix product::

        (G, Og, N*oh*ow) = (G, Og, Cg*kh*kw) @ (G, Cg*kh*kw, N*oh*ow)
    """
    G, Cg = geom.groups, geom.in_channels_per_group
    padded = _pad(x, geom)
    cols = np.zeros((G, Cg, geom.kernel_h, geom.kernel_w, geom.col_cols), dtype=x.dtype)
    for i in range(geom.kernel_h):
        for j in range(geom.kernel_w):
            window = _split_groups(_tap_window(padded, geom, i, j), G)  # (N, G, Cg, oh, ow)
            # (N, G, Cg, oh, ow) -> (G, Cg, N, oh, ow) -> (G, Cg, N*oh*ow)
            cols[:, :, i, j, :] = window.transpose(1, 2, 0, 3, 4).reshape(G, Cg, geom.col_cols)
    return cols.reshape(geom.col_shape)


def col2im(cols, geom):
    """``(G, Cg*kh*kw, N*oh*ow) -> (N, C, H, W)``: the adjoint of :func:`im2col`.

    Every column entry is added back onto the input pixel it was copied from; pixels inside
    several receptive fields receive several contributions, and padding is cut away.
    """
    G, Cg = geom.groups, geom.in_channels_per_group
    cols_by_tap = cols.reshape(G, Cg, geom.kernel_h, geom.kernel_w, geom.batch, geom.out_h, geom.out_w)
    padded_h = geom.in_h + 2 * geom.pad_h
    padded_w = geom.in_w + 2 * geom.pad_w
    padded = np.zeros((geom.batch, geom.in_channels, padded_h, padded_w), dtype=cols.dtype)
    for i in range(geom.kernel_h):
        for j in range(geom.kernel_w):
            window = _split_groups(_tap_window(padded, geom, i, j), G)  # (N, G, Cg, oh, ow)
            # (G, Cg, N, oh, ow) -> (N, G, Cg, oh, ow)
            window += cols_by_tap[:, :, i, j].transpose(2, 0, 1, 3, 4)
    return padded[:, :, geom.pad_h : geom.pad_h + geom.in_h, geom.pad_w : geom.pad_w + geom.in_w].copy()
