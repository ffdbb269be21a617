"""The grouped 2-D convolution on the CPU: forward, gradient w.r.t. the input, gradient w.r.t. the weight.

Dimension legend (the same as :mod:`minigrad.kernels.conv_geometry`)::

    N   batch            G   groups           C, O   input / output channels
    Cg  C / G            Og  O / G            H, W   input height / width
    kh, kw  kernel size  oh, ow  output size  Hp, Wp padded input size (H + 2*pad_h, W + 2*pad_w)

Every function here computes exactly what :mod:`minigrad.kernels.reference` specifies, with
results in the dtype of the inputs (float32 stays float32). There are two ways to do it:

* **im2col + matmul** (``_*_im2col``): copy every receptive field into a column, then each group
  is a matrix product that BLAS runs near peak speed, done one block of images at a time so the
  columns stay in cache. Right for wide groups (dense convs, 1x1 convs), where a group's
  matrices are big. A 1x1 conv without padding needs no im2col: its columns are its pixels.
* **direct loops** (``_*_direct``, Numba): one parallel task per (image, group) slides the
  kernel over that group's channels. Right for narrow groups (ResNeXt's 3x3 grouped conv has
  4-16 channels per group): there each group's matrix product is too thin for BLAS, and the
  im2col copy (``kh*kw`` times the input) costs more than the arithmetic itself.

:func:`uses_direct_path` picks between them; 1x1 kernels without padding need no im2col at all
(``_*_pointwise``: one batched matrix product per group).
"""

from dataclasses import replace

import numpy as np
from numba import njit, prange

from minigrad.kernels.im2col import col2im, im2col

__all__ = ["conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight", "uses_direct_path", "path_name"]

# Largest channels-per-group (input and output) for which the direct loops are used.
# Measured with benchmarks/conv.py on a 2-core AVX-512 machine: at Cg = Og = 16 (64x512x8x8,
# groups=32) the direct loops are still faster than im2col + matmul; at 64 BLAS wins clearly.
DIRECT_MAX_CHANNELS_PER_GROUP = 16


def uses_direct_path(geom):
    """True when the direct loops compute this convolution, False for im2col + matmul."""
    # Narrow groups: each group's matmul would be (Og x Cg*kh*kw) @ (Cg*kh*kw x N*oh*ow) with
    # Og and Cg*kh*kw tiny, which BLAS runs far below peak, while im2col still copies kh*kw
    # times the input. Depthwise convs (Cg = 1) are the extreme case.
    # Stride 1 only: then an output row is one contiguous run of the padded input, which LLVM
    # vectorises; with stride 2 the loops stay scalar and im2col + matmul wins by 2-6x
    # (measured at batch 128: 64 ch, 32x32, groups 4: 347 vs 150 ms forward+backward;
    # 128 ch, 16x16, groups 4: 470 vs 73 ms).
    return (
        geom.stride_h == 1
        and geom.stride_w == 1
        and geom.in_channels_per_group <= DIRECT_MAX_CHANNELS_PER_GROUP
        and geom.out_channels_per_group <= DIRECT_MAX_CHANNELS_PER_GROUP
    )


def path_name(geom):
    """Which of the three paths computes this convolution: "direct", "pointwise" or "im2col"."""
    if uses_direct_path(geom):
        return "direct"
    return "pointwise" if _is_pointwise(geom) else "im2col"


def conv2d_forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``, in the dtype of ``x``."""
    _check_shape("x", x, geom.input_shape)
    _check_shape("weight", weight, geom.weight_shape)
    if uses_direct_path(geom):
        return _conv2d_forward_direct(x, weight, geom)
    if _is_pointwise(geom):
        return _conv2d_forward_pointwise(x, weight, geom)
    return _conv2d_forward_im2col(x, weight, geom)


def conv2d_grad_input(grad_out, weight, geom):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``: dL/dx, in the dtype of ``grad_out``."""
    _check_shape("grad_out", grad_out, geom.output_shape)
    _check_shape("weight", weight, geom.weight_shape)
    if uses_direct_path(geom):
        return _conv2d_grad_input_direct(grad_out, weight, geom)
    if _is_pointwise(geom):
        return _conv2d_grad_input_pointwise(grad_out, weight, geom)
    return _conv2d_grad_input_im2col(grad_out, weight, geom)


def conv2d_grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``: dL/dw, in the dtype of ``x``."""
    _check_shape("x", x, geom.input_shape)
    _check_shape("grad_out", grad_out, geom.output_shape)
    if uses_direct_path(geom):
        return _conv2d_grad_weight_direct(x, grad_out, geom)
    if _is_pointwise(geom):
        return _conv2d_grad_weight_pointwise(x, grad_out, geom)
    return _conv2d_grad_weight_im2col(x, grad_out, geom)


def _check_shape(name, array, expected):
    if array.shape != expected:
        raise ValueError(f"{name} has shape {array.shape}, but the geometry expects {expected}")


# --------------------------------------------------------------------------------------------
# Pointwise: 1x1 kernels without padding (ResNeXt's conv_reduce, conv_expand and shortcut)
#
# A 1x1 kernel has no taps to unfold: each output pixel mixes the channels of one input pixel
# (every stride-th one). Viewing an image as a (C, P) matrix of P = oh*ow pixels, a group is one
# matrix product per image, which np.matmul broadcasts over the batch without any copy:
#
#     forward   (N, Og, P) = W_g (Og, Cg)    @ x_g (N, Cg, P)
#     grad_in   (N, Cg, P) = W_g^T (Cg, Og)  @ dY_g (N, Og, P)
#     grad_w    (Og, Cg)   = sum_n dY_g[n] (Og, P) @ x_g[n]^T (P, Cg)
#
# Measured at batch 128 against im2col + matmul (which transpose-copies to (C, N*P) and back):
# 64 -> 64 channels at 32x32, forward / grad input / grad weight 14 / 14 / 10 ms instead of
# 29 / 34 / 25 ms.
# --------------------------------------------------------------------------------------------


def _is_pointwise(geom):
    """A 1x1 kernel without padding: every output pixel reads one (strided) input pixel."""
    return geom.kernel_h == geom.kernel_w == 1 and geom.pad_h == geom.pad_w == 0


def _pointwise_pixels(x, geom):
    """``(N, C, H, W) -> (N, C, oh*ow)``: the input pixels a 1x1 kernel reads (every stride-th one)."""
    if geom.stride_h == geom.stride_w == 1:
        return x.reshape(geom.batch, geom.in_channels, geom.out_h * geom.out_w)
    strided = np.ascontiguousarray(x[:, :, :: geom.stride_h, :: geom.stride_w])  # (N, C, oh, ow)
    return strided.reshape(geom.batch, geom.in_channels, geom.out_h * geom.out_w)


def _conv2d_forward_pointwise(x, weight, geom):
    pixels = _pointwise_pixels(x, geom)  # (N, C, P)
    out = np.empty((geom.batch, geom.out_channels, geom.out_h * geom.out_w), dtype=x.dtype)
    # BEGIN SOLUTION t05_grouped_conv_forward
    for _, channels, filters in _group_slices(geom):
        # (N, Og, P) = (Og, Cg) @ (N, Cg, P)
        np.matmul(weight[filters, :, 0, 0], pixels[:, channels], out=out[:, filters])
    # END SOLUTION
    return out.reshape(geom.output_shape)


def _conv2d_grad_input_pointwise(grad_out, weight, geom):
    grad_out_pixels = grad_out.reshape(geom.batch, geom.out_channels, -1)  # (N, O, P)
    grad_pixels = np.empty((geom.batch, geom.in_channels, geom.out_h * geom.out_w), dtype=grad_out.dtype)
    # BEGIN SOLUTION t06_conv_backward
    for _, channels, filters in _group_slices(geom):
        # (N, Cg, P) = (Og, Cg)^T @ (N, Og, P)
        np.matmul(weight[filters, :, 0, 0].T, grad_out_pixels[:, filters], out=grad_pixels[:, channels])
    # END SOLUTION
    if geom.stride_h == geom.stride_w == 1:
        return grad_pixels.reshape(geom.input_shape)
    grad_x = np.zeros(geom.input_shape, dtype=grad_out.dtype)  # pixels a stride skips get no gradient
    grad_x[:, :, :: geom.stride_h, :: geom.stride_w] = grad_pixels.reshape(geom.batch, geom.in_channels, geom.out_h, geom.out_w)
    return grad_x


def _conv2d_grad_weight_pointwise(x, grad_out, geom):
    pixels = _pointwise_pixels(x, geom)  # (N, C, P)
    grad_out_pixels = grad_out.reshape(geom.batch, geom.out_channels, -1)  # (N, O, P)
    grad_weight = np.empty(geom.weight_shape, dtype=x.dtype)
    # BEGIN SOLUTION t06_conv_backward
    for _, channels, filters in _group_slices(geom):
        # (Og, Cg) = sum_n (N, Og, P) @ (N, P, Cg)
        grad_weight[filters, :, 0, 0] = np.matmul(grad_out_pixels[:, filters], pixels[:, channels].transpose(0, 2, 1)).sum(axis=0)
    # END SOLUTION
    return grad_weight


# --------------------------------------------------------------------------------------------
# im2col + matmul, one group and one block of images at a time
#
# A grouped convolution is G dense convolutions side by side, each on its own channel slice, so
# the loops below run over groups and, inside a group, over blocks of n consecutive images:
# each (group, block) pair is a small dense convolution with ``_block_geometry``. Per block:
#
#     cols      (Cg*kh*kw, n*oh*ow)    im2col of the block (one column per output pixel)
#     forward   (Og, n*oh*ow)        = W_g @ cols  (or its transpose, see below)
#     grad_in   (Cg*kh*kw, n*oh*ow)  = W_g^T @ dY_g, folded back by col2im
#     grad_w    (Cg*kh*kw, Og)      += cols @ dY_g^T, summed over the blocks
#
# Why blocks: one column matrix for the whole batch is kh*kw times the input (576 x 65536
# floats = 150 MB for 64 x 64ch x 32x32, 3x3), written once and read once from main memory.
# A block of ~COLUMN_BLOCK_BYTES stays in the 32 MB L3 cache between im2col and the matmul, and
# bounds peak memory. Blocks much smaller than that lost (measured on 2 shared cores): each
# multithreaded OpenBLAS call then paid ~15 ms of thread wake-up when other processes kept the
# cores busy, so 1-image blocks ran the forward matmuls 6x slower than one big call.
#
# Why these matmul orientations (same numbers, different speed in OpenBLAS, measured on
# 65536-column batches cut into blocks): with few filters per tap row (Og=64, Cg*kh*kw=576)
# the forward as cols^T @ W^T took 84 ms against 216 ms for W @ cols, but with a square
# weight (1x1, Og = Cg = 256) W @ cols took 124 ms against 223 ms: the forward picks by shape.
# grad_w as cols @ dY^T took 64 ms against 113 ms for dY @ cols^T (244 vs 364 ms for 1x1).
#
# im2col and col2im run serially here (see minigrad.kernels.im2col): BLAS already uses every
# core, and a Numba parallel region right after a BLAS call fought OpenBLAS's still-spinning
# threads (64 one-image parallel im2col calls: 505 ms, serial: 66 ms).
# --------------------------------------------------------------------------------------------

# Column-matrix bytes per block. Measured on 64 x 64ch x 32x32, 3x3, forward+backward, under
# load: 8 MiB blocks 1060 ms, 32 MiB 766 ms, one 150 MB whole-batch block 715 ms; 32 MiB keeps
# most of the speed with 4.7x less memory.
COLUMN_BLOCK_BYTES = 32 * 2**20


def _image_blocks(geom, itemsize):
    """Consecutive slices of the batch whose one-group column matrix takes ~COLUMN_BLOCK_BYTES."""
    bytes_per_image = geom.col_rows * geom.out_h * geom.out_w * itemsize
    images = max(1, min(geom.batch, COLUMN_BLOCK_BYTES // bytes_per_image))
    return [slice(first, min(first + images, geom.batch)) for first in range(0, geom.batch, images)]


def _block_geometry(geom, images):
    """The dense convolution that one group computes on the slice ``images``: Cg channels in, Og out."""
    return replace(
        geom, batch=images.stop - images.start, groups=1,
        in_channels=geom.in_channels_per_group, out_channels=geom.out_channels_per_group,
    )  # fmt: skip


def _group_slices(geom):
    """``(g, input channels of group g, output channels of group g)`` for every group."""
    Cg, Og = geom.in_channels_per_group, geom.out_channels_per_group
    return [(g, slice(g * Cg, (g + 1) * Cg), slice(g * Og, (g + 1) * Og)) for g in range(geom.groups)]


def _grad_out_matrix(grad_out_block):
    """``(n, Og, oh, ow) -> (Og, n*oh*ow)``: columns in im2col's order (one per output pixel)."""
    out_channels_per_group = grad_out_block.shape[1]
    return grad_out_block.transpose(1, 0, 2, 3).reshape(out_channels_per_group, -1)


def _columns(x_block, block):
    """``(n, Cg, H, W) -> (Cg*kh*kw, n*oh*ow)``: im2col of one group's block of images."""
    return im2col(x_block, block)[0]


def _fold_columns(grad_cols, block):
    """``(Cg*kh*kw, n*oh*ow) -> (n, Cg, H, W)``: col2im, the adjoint of :func:`_columns`."""
    return col2im(grad_cols[None], block)


def _conv2d_forward_im2col(x, weight, geom):
    Og, oh, ow = geom.out_channels_per_group, geom.out_h, geom.out_w
    out = np.empty(geom.output_shape, dtype=x.dtype)
    # BEGIN SOLUTION t05_grouped_conv_forward
    for _, channels, filters in _group_slices(geom):
        weight_matrix = weight[filters].reshape(Og, geom.col_rows)  # (Og, Cg*kh*kw)
        for images in _image_blocks(geom, x.itemsize):
            block = _block_geometry(geom, images)
            cols = _columns(x[images, channels], block)  # (Cg*kh*kw, n*oh*ow)
            if Og < geom.col_rows:
                # (n*oh*ow, Og) = (Cg*kh*kw, n*oh*ow)^T @ (Og, Cg*kh*kw)^T, then (n, oh, ow, Og) -> (n, Og, oh, ow)
                out_block = (cols.T @ weight_matrix.T).reshape(block.batch, oh, ow, Og).transpose(0, 3, 1, 2)
            else:
                # (Og, n*oh*ow) = (Og, Cg*kh*kw) @ (Cg*kh*kw, n*oh*ow), then (Og, n, oh, ow) -> (n, Og, oh, ow)
                out_block = (weight_matrix @ cols).reshape(Og, block.batch, oh, ow).transpose(1, 0, 2, 3)
            out[images, filters] = out_block
    # END SOLUTION
    return out


def _conv2d_grad_input_im2col(grad_out, weight, geom):
    grad_x = np.empty(geom.input_shape, dtype=grad_out.dtype)
    # BEGIN SOLUTION t06_conv_backward
    for _, channels, filters in _group_slices(geom):
        weight_matrix = weight[filters].reshape(geom.out_channels_per_group, geom.col_rows)  # (Og, Cg*kh*kw)
        for images in _image_blocks(geom, grad_out.itemsize):
            block = _block_geometry(geom, images)
            # (Cg*kh*kw, n*oh*ow) = (Og, Cg*kh*kw)^T @ (Og, n*oh*ow)
            grad_cols = weight_matrix.T @ _grad_out_matrix(grad_out[images, filters])
            grad_x[images, channels] = _fold_columns(grad_cols, block)  # (n, Cg, H, W)
    # END SOLUTION
    return grad_x


def _conv2d_grad_weight_im2col(x, grad_out, geom):
    G, Og = geom.groups, geom.out_channels_per_group
    # Built transposed, (G, Cg*kh*kw, Og): the fast matmul orientation gives it that way round.
    grad_weight_transposed = np.zeros((G, geom.col_rows, Og), dtype=x.dtype)
    # BEGIN SOLUTION t06_conv_backward
    for g, channels, filters in _group_slices(geom):
        for images in _image_blocks(geom, x.itemsize):
            cols = _columns(x[images, channels], _block_geometry(geom, images))  # (Cg*kh*kw, n*oh*ow)
            # (Cg*kh*kw, Og) += (Cg*kh*kw, n*oh*ow) @ (Og, n*oh*ow)^T
            grad_weight_transposed[g] += cols @ _grad_out_matrix(grad_out[images, filters]).T
    # END SOLUTION
    # (G, Cg*kh*kw, Og) -> (G, Og, Cg*kh*kw) -> (O, Cg, kh, kw)
    return grad_weight_transposed.transpose(0, 2, 1).reshape(geom.weight_shape)


# --------------------------------------------------------------------------------------------
# Direct loops (stride 1 only), one parallel task per (image n, group g)
#
# Each task copies its group's Cg input planes into a zero-padded scratch buffer, so the kernel
# loops never test for borders. Each padded plane is stored flat, row after row (row pitch Wp):
#
#     padded[c, p*Wp + q] = xp[n, g*Cg + c, p, q]
#
# Output pixel (y, x) and tap (i, j) read padded index
#
#     (y + i*dh)*Wp + x + j*dw  =  y*Wp + x + shift(i, j),   shift = i*dh*Wp + j*dw
#
# An output row that runs past ow simply wraps into the next padded row, so we compute Wp
# "columns" per output row instead of ow (the Wp - ow extra ones are thrown away) and the oh
# short loops become one long contiguous loop over oh*Wp positions, which LLVM vectorises:
#
#     out_flat[o, y*Wp + x] += w[o, c, i, j] * padded[c, shift(i, j) + y*Wp + x]
# --------------------------------------------------------------------------------------------


def _copy_padded(source, n, first_channel, padded, pad_h, pad_w, padded_w):
    """``padded[c, (p + pad_h)*Wp + q + pad_w] = source[n, first_channel + c, p, q]``; the border
    of ``padded`` is already zero."""
    channels = padded.shape[0]
    height, width = source.shape[2], source.shape[3]
    for c in range(channels):
        for p in range(height):
            start = (p + pad_h) * padded_w + pad_w
            for q in range(width):
                padded[c, start + q] = source[n, first_channel + c, p, q]


def _copy_to_row_pitch(source, n, first_channel, flat, row_pitch):
    """``flat[c, y*row_pitch + x] = source[n, first_channel + c, y, x]`` (an output-sized plane)."""
    channels = flat.shape[0]
    height, width = source.shape[2], source.shape[3]
    for c in range(channels):
        for y in range(height):
            for x in range(width):
                flat[c, y * row_pitch + x] = source[n, first_channel + c, y, x]


_copy_padded_jit = njit(cache=True)(_copy_padded)
_copy_to_row_pitch_jit = njit(cache=True)(_copy_to_row_pitch)

# In the loops below, the innermost loop over ``k`` runs over 1-D contiguous slices: that is the
# form LLVM turns into SIMD code (indexing the 2-D scratch arrays directly stays scalar and is
# ~5x slower).


def _direct_forward_one_task(x, weight, out, n, g, groups, pad_h, pad_w, dilation_h, dilation_w):
    """out[n, g*Og + o, y, x] = sum_{c,i,j} w[g*Og + o, c, i, j] * padded[c, (y + i*dh)*Wp + x + j*dw]"""
    _, _, in_h, in_w = x.shape
    out_channels, in_channels_per_group, kernel_h, kernel_w = weight.shape
    out_h, out_w = out.shape[2], out.shape[3]
    out_channels_per_group = out_channels // groups
    padded_h, padded_w = in_h + 2 * pad_h, in_w + 2 * pad_w
    positions = out_h * padded_w  # output rows at pitch Wp, wrapping (see above)
    # With wrapping rows the last position reads (kw - 1)*dw past the final padded row.
    padded = np.zeros((in_channels_per_group, padded_h * padded_w + (kernel_w - 1) * dilation_w), dtype=x.dtype)
    _copy_padded_jit(x, n, g * in_channels_per_group, padded, pad_h, pad_w, padded_w)
    out_flat = np.zeros((out_channels_per_group, positions), dtype=x.dtype)
    # o outermost: one output plane stays in L1 cache while every tap is added onto it.
    for o in range(out_channels_per_group):
        out_plane = out_flat[o]
        for c in range(in_channels_per_group):
            for i in range(kernel_h):
                for j in range(kernel_w):
                    tap_weight = weight[g * out_channels_per_group + o, c, i, j]
                    shift = i * dilation_h * padded_w + j * dilation_w
                    source = padded[c, shift : shift + positions]
                    for k in range(positions):
                        out_plane[k] += tap_weight * source[k]
    for o in range(out_channels_per_group):
        for y in range(out_h):
            for x_out in range(out_w):
                out[n, g * out_channels_per_group + o, y, x_out] = out_flat[o, y * padded_w + x_out]


def _direct_grad_input_one_task(grad_out, weight, grad_x, n, g, groups, pad_h, pad_w, dilation_h, dilation_w):
    """grad_padded[c, (y + i*dh)*Wp + x + j*dw] += w[g*Og + o, c, i, j] * gy[n, g*Og + o, y, x],
    the forward loops with source and destination swapped; then the padding is cut away."""
    _, _, in_h, in_w = grad_x.shape
    out_channels, in_channels_per_group, kernel_h, kernel_w = weight.shape
    out_channels_per_group = out_channels // groups
    padded_h, padded_w = in_h + 2 * pad_h, in_w + 2 * pad_w
    positions = grad_out.shape[2] * padded_w
    # The wrapped columns (x >= ow) of grad_out_flat stay zero, so they add nothing.
    grad_out_flat = np.zeros((out_channels_per_group, positions), dtype=grad_out.dtype)
    _copy_to_row_pitch_jit(grad_out, n, g * out_channels_per_group, grad_out_flat, padded_w)
    grad_padded = np.zeros((in_channels_per_group, padded_h * padded_w + (kernel_w - 1) * dilation_w), dtype=grad_out.dtype)
    # c outermost: one input-gradient plane stays in L1 cache while it collects every tap.
    for c in range(in_channels_per_group):
        for i in range(kernel_h):
            for j in range(kernel_w):
                shift = i * dilation_h * padded_w + j * dilation_w
                dest = grad_padded[c, shift : shift + positions]
                for o in range(out_channels_per_group):
                    tap_weight = weight[g * out_channels_per_group + o, c, i, j]
                    grad_out_plane = grad_out_flat[o]
                    for k in range(positions):
                        dest[k] += tap_weight * grad_out_plane[k]
    for c in range(in_channels_per_group):
        for p in range(in_h):
            start = (p + pad_h) * padded_w + pad_w
            for q in range(in_w):
                grad_x[n, g * in_channels_per_group + c, p, q] = grad_padded[c, start + q]


def _direct_grad_weight_one_task(x, grad_out, grad_weight_per_image, n, g, groups, pad_h, pad_w, dilation_h, dilation_w):
    """grad_weight_per_image[n, g*Og + o, c, i, j] = sum_{y,x} padded[c, (y + i*dh)*Wp + x + j*dw] * gy[n, g*Og + o, y, x];
    the caller sums over n (each task writes only its own image's slice: no races)."""
    _, _, in_h, in_w = x.shape
    _, out_channels, in_channels_per_group, kernel_h, kernel_w = grad_weight_per_image.shape
    out_channels_per_group = out_channels // groups
    padded_h, padded_w = in_h + 2 * pad_h, in_w + 2 * pad_w
    positions = grad_out.shape[2] * padded_w
    padded = np.zeros((in_channels_per_group, padded_h * padded_w + (kernel_w - 1) * dilation_w), dtype=x.dtype)
    _copy_padded_jit(x, n, g * in_channels_per_group, padded, pad_h, pad_w, padded_w)
    # Zero in the wrapped columns, so garbage positions add nothing to the sums.
    grad_out_flat = np.zeros((out_channels_per_group, positions), dtype=grad_out.dtype)
    _copy_to_row_pitch_jit(grad_out, n, g * out_channels_per_group, grad_out_flat, padded_w)
    for o in range(out_channels_per_group):
        grad_out_plane = grad_out_flat[o]
        for c in range(in_channels_per_group):
            for i in range(kernel_h):
                for j in range(kernel_w):
                    shift = i * dilation_h * padded_w + j * dilation_w
                    source = padded[c, shift : shift + positions]
                    total = grad_out_flat.dtype.type(0)
                    for k in range(positions):
                        total += source[k] * grad_out_plane[k]
                    grad_weight_per_image[n, g * out_channels_per_group + o, c, i, j] = total


def _direct_forward_loops(x, weight, out, groups, pad_h, pad_w, dilation_h, dilation_w):
    for task in prange(x.shape[0] * groups):
        _direct_forward_one_task_jit(x, weight, out, task // groups, task % groups, groups, pad_h, pad_w, dilation_h, dilation_w)


def _direct_grad_input_loops(grad_out, weight, grad_x, groups, pad_h, pad_w, dilation_h, dilation_w):
    for task in prange(grad_out.shape[0] * groups):
        _direct_grad_input_one_task_jit(grad_out, weight, grad_x, task // groups, task % groups, groups, pad_h, pad_w, dilation_h, dilation_w)


def _direct_grad_weight_loops(x, grad_out, grad_weight_per_image, groups, pad_h, pad_w, dilation_h, dilation_w):
    for task in prange(x.shape[0] * groups):
        _direct_grad_weight_one_task_jit(
            x, grad_out, grad_weight_per_image, task // groups, task % groups, groups, pad_h, pad_w, dilation_h, dilation_w
        )


# One parallel task per (image n, group g): each writes only its own slice of the output, so
# no two threads touch the same element. The per-task work lives in its own (serial) function:
# inside a prange body Numba's parallel lowering stops LLVM from vectorising the inner loops
# (measured 4x slower).
_direct_forward_one_task_jit = njit(cache=True)(_direct_forward_one_task)
_direct_grad_input_one_task_jit = njit(cache=True)(_direct_grad_input_one_task)
# A sum is a chain of dependent additions; only if it may reorder them ("reassoc") does LLVM
# split the dot products above over SIMD lanes, which makes them ~10x faster (1.1 -> 0.1 ns per
# float32 element, measured). Results change only by rounding (float64 tests still agree with
# the reference to 1e-12). No other fastmath flag is on: NaN and inf behave as IEEE says.
_direct_grad_weight_one_task_jit = njit(cache=True, fastmath={"reassoc"})(_direct_grad_weight_one_task)
_direct_forward_jit = njit(cache=True, parallel=True)(_direct_forward_loops)
_direct_grad_input_jit = njit(cache=True, parallel=True)(_direct_grad_input_loops)
_direct_grad_weight_jit = njit(cache=True, parallel=True)(_direct_grad_weight_loops)


def _padding_dilation(geom):
    assert geom.stride_h == geom.stride_w == 1, "the direct loops are for stride 1 only (uses_direct_path)"
    return geom.pad_h, geom.pad_w, geom.dilation_h, geom.dilation_w


def _conv2d_forward_direct(x, weight, geom):
    # C-contiguous inputs keep Numba at one compiled version per dtype.
    x, weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
    out = np.empty(geom.output_shape, dtype=x.dtype)
    _direct_forward_jit(x, weight, out, geom.groups, *_padding_dilation(geom))
    return out


def _conv2d_grad_input_direct(grad_out, weight, geom):
    grad_out, weight = np.ascontiguousarray(grad_out), np.ascontiguousarray(weight)
    grad_x = np.empty(geom.input_shape, dtype=grad_out.dtype)
    _direct_grad_input_jit(grad_out, weight, grad_x, geom.groups, *_padding_dilation(geom))
    return grad_x


def _conv2d_grad_weight_direct(x, grad_out, geom):
    x, grad_out = np.ascontiguousarray(x), np.ascontiguousarray(grad_out)
    grad_weight_per_image = np.empty((geom.batch,) + geom.weight_shape, dtype=x.dtype)
    _direct_grad_weight_jit(x, grad_out, grad_weight_per_image, geom.groups, *_padding_dilation(geom))
    return grad_weight_per_image.sum(axis=0)
