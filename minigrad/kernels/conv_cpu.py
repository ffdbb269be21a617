"""The grouped 2-D convolution on the CPU: forward, gradient w.r.t. the input, gradient w.r.t. the weight.

Dimension legend (the same as :mod:`minigrad.kernels.conv_geometry`)::

    N   batch            G   groups           C, O   input / output channels
    Cg  C / G            Og  O / G            H, W   input height / width
    kh, kw  kernel size  oh, ow  output size  Hp, Wp padded input size (H + 2*pad_h, W + 2*pad_w)

Every function here computes exactly what :mod:`minigrad.kernels.reference` specifies, with
results in the dtype of the inputs (float32 stays float32). There are four ways to do it, and
:func:`path_name` picks one:

* **direct loops** (``_*_direct``, Numba; narrow groups, and at stride 1 images of 16x16 and
  more): one parallel task per (block of images, group) slides the kernel over that group's
  channels. Right for ResNeXt's 3x3 grouped conv (4-16 channels per group), where each
  group's matrix product is too thin for BLAS, and measured as fast as BLAS or faster on
  larger images. Strides are handled by splitting the input into its stride phases.
* **pointwise** (``_*_pointwise``; 1x1 kernels without padding): a 1x1 conv needs no unfolding
  at all, its columns are its pixels: one batched matrix product per group.
* **shifted matmuls** (``_*_shifted``; the other stride-1 convs: wide groups on small images):
  one matrix product per kernel tap, each with a shifted view of the zero-padded input, which
  BLAS reads in place.
* **im2col + matmul** (``_*_im2col``; everything else: strided convs with wide groups): copy
  every receptive field into a column, then each group is one matrix product that BLAS runs
  near peak speed. This is the classic formulation, and the one the classroom tasks t05 and
  t06 ask for.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numba
import numpy as np
from numba import njit, prange

from minigrad.kernels.im2col import col2im, im2col

__all__ = ["conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight", "uses_direct_path", "path_name"]

# When the direct loops compute a convolution (see uses_direct_path). Measured with one BLAS
# thread per product on 2 cores, forward + grad input + grad weight, direct loops against
# shifted matmuls: at 32x32 and 16x16 the direct loops won at every width tried, up to 256
# channels (32 x 128ch x 32x32 dense: 201 against 220 ms; 32 x 512ch x 32x32 groups 8: 370
# against 577 ms); at 8x8 they win only for narrow groups (64 x 512ch, groups 32, 16 channels
# per group: 32 against 45 ms) and lose for wide ones (64 x 1024ch, groups 32, 32 per group:
# 146 against 118 ms; 32 x 128ch dense: 31 against 23 ms).
DIRECT_MAX_CHANNELS_PER_GROUP = 16
DIRECT_MIN_OUTPUT_PIXELS = 256
# At stride 2, 3x3, forward + grad input + grad weight, direct loops against im2col + matmul:
# 128 x 64ch x 32x32 groups 4 (16 per group) 43 against 93 ms; 128 x 128ch x 16x16 groups 4
# (32 per group) 35 against 42 ms; dense 64 -> 128ch at 32x32, batch 64: 77 against 62 ms.
DIRECT_MAX_CHANNELS_PER_GROUP_STRIDED = 32


def uses_direct_path(geom):
    """True when the direct loops compute this convolution: at stride 1 for narrow groups (at
    most DIRECT_MAX_CHANNELS_PER_GROUP channels per group in and out) and for images of at least
    DIRECT_MIN_OUTPUT_PIXELS output pixels; at larger strides for groups of at most
    DIRECT_MAX_CHANNELS_PER_GROUP_STRIDED channels. A 1x1 conv without padding is a plain
    matrix product, left to BLAS unless it has stride 1 and narrow groups."""
    # Narrow groups: each group's matmul would be (Og x Cg*kh*kw) @ (Cg*kh*kw x N*oh*ow) with
    # Og and Cg*kh*kw tiny, which BLAS runs far below peak. Depthwise convs (Cg = 1) are the
    # extreme case. Large images: the loops' long rows of contiguous pixels keep the SIMD
    # units as busy as BLAS does, without the cost of laying the input out for BLAS.
    widest = max(geom.in_channels_per_group, geom.out_channels_per_group)
    if geom.stride_h != 1 or geom.stride_w != 1:
        return widest <= DIRECT_MAX_CHANNELS_PER_GROUP_STRIDED and not _is_pointwise(geom)
    if _is_pointwise(geom):
        return widest <= DIRECT_MAX_CHANNELS_PER_GROUP
    return widest <= DIRECT_MAX_CHANNELS_PER_GROUP or geom.out_h * geom.out_w >= DIRECT_MIN_OUTPUT_PIXELS


def path_name(geom):
    """Which path computes this convolution: "direct", "pointwise", "shifted" or "im2col"."""
    if uses_direct_path(geom):
        return "direct"
    if _is_pointwise(geom):
        return "pointwise"
    if geom.stride_h == geom.stride_w == 1 and SHIFTED_MATMULS:
        return "shifted"
    return "im2col"


# Whether the stride-1 convs that the direct loops leave (small images, wide groups) use the
# shifted matmuls (True) or im2col + matmul. Measured with benchmarks/conv.py (2 cores, one
# BLAS thread per product) on 64 x 64ch x 32x32, 3x3, before the direct loops took that shape
# over, forward / forward+backward: im2col 79 / 172 ms, shifted 41 / 112 ms. Tests turn it off
# to reach the im2col functions.
SHIFTED_MATMULS = True


def conv2d_forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``, in the dtype of ``x``."""
    _check_shape("x", x, geom.input_shape)
    _check_shape("weight", weight, geom.weight_shape)
    path = path_name(geom)
    if path == "direct":
        return _conv2d_forward_direct(x, weight, geom)
    matmul_path = {"pointwise": _conv2d_forward_pointwise, "shifted": _conv2d_forward_shifted, "im2col": _conv2d_forward_im2col}[path]
    return _gather_batch_slices(matmul_path, x, weight, geom, geom.output_shape)


def conv2d_grad_input(grad_out, weight, geom):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``: dL/dx, in the dtype of ``grad_out``."""
    _check_shape("grad_out", grad_out, geom.output_shape)
    _check_shape("weight", weight, geom.weight_shape)
    path = path_name(geom)
    if path == "direct":
        return _conv2d_grad_input_direct(grad_out, weight, geom)
    matmul_path = {"pointwise": _conv2d_grad_input_pointwise, "shifted": _conv2d_grad_input_shifted, "im2col": _conv2d_grad_input_im2col}[path]
    return _gather_batch_slices(matmul_path, grad_out, weight, geom, geom.input_shape)


def conv2d_grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``: dL/dw, in the dtype of ``x``."""
    _check_shape("x", x, geom.input_shape)
    _check_shape("grad_out", grad_out, geom.output_shape)
    path = path_name(geom)
    if path == "direct":
        return _conv2d_grad_weight_direct(x, grad_out, geom)
    matmul_path = {"pointwise": _conv2d_grad_weight_pointwise, "shifted": _conv2d_grad_weight_shifted, "im2col": _conv2d_grad_weight_im2col}[path]

    def run(images):
        return matmul_path(x[images], grad_out[images], _batch_slice_geometry(geom, images))

    return sum(_map_on_threads(run, _batch_chunks(geom.batch)))  # summed over the batch chunks


def _check_shape(name, array, expected):
    if array.shape != expected:
        raise ValueError(f"{name} has shape {array.shape}, but the geometry expects {expected}")


# --------------------------------------------------------------------------------------------
# The matmul paths on every core: one slice of the batch per thread
#
# The pointwise, shifted and im2col paths spend their time in BLAS. Rather than making each
# matrix product one multithreaded BLAS call, each of T threads (T = numba.get_num_threads(),
# the same count the direct loops use) runs the whole path on its own consecutive slice of the
# batch; the gradient w.r.t. the weight adds up the T partial sums. NumPy's matmul and the
# nogil im2col kernels release the GIL, so the threads do run at once. BLAS itself is best left
# on one thread (the training command and the benchmarks do so, see
# minigrad.backend.limit_blas_threads): OpenBLAS's threads keep spinning after each call and
# slow down whatever runs next. Measured on 2 cores,
# 1x1 conv 512 -> 1024 channels at 8x8, batch 64, forward: one call with one BLAS thread 46 ms,
# with two BLAS threads 25 ms, two slices on two threads with one BLAS thread each 23 ms.
# --------------------------------------------------------------------------------------------

_pool, _pool_threads = None, 0


def _forget_pool():
    """In a forked child the pool's threads do not exist: start a new pool when one is needed."""
    global _pool, _pool_threads
    _pool, _pool_threads = None, 0


os.register_at_fork(after_in_child=_forget_pool)


def _batch_chunks(batch):
    """Consecutive slices of the batch, one per thread (fewer when the batch is smaller)."""
    threads = max(1, min(numba.get_num_threads(), batch))
    return _consecutive_slices(batch, -(-batch // threads))


def _batch_slice_geometry(geom, images):
    """The same convolution on the images ``images`` only."""
    return replace(geom, batch=images.stop - images.start)


def _gather_batch_slices(matmul_path, batched, weight, geom, result_shape):
    """``matmul_path(batched[images], weight, ...)`` for one slice of the batch per thread, each
    slice's result written into its images of one ``result_shape`` array."""
    result = np.empty(result_shape, dtype=batched.dtype)

    def run(images):
        result[images] = matmul_path(batched[images], weight, _batch_slice_geometry(geom, images))

    _map_on_threads(run, _batch_chunks(geom.batch))
    return result


def _map_on_threads(function, chunks):
    """``[function(chunk) for chunk in chunks]``, run on a pool of threads when there are several."""
    global _pool, _pool_threads
    if len(chunks) == 1:
        return [function(chunks[0])]
    if _pool_threads < len(chunks):
        _pool = ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="minigrad-conv")
        _pool_threads = len(chunks)
    return list(_pool.map(function, chunks))


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
# grad_w adds up one product per image: np.matmul over the batch would first build an
# (N, Og, Cg) stack (512 -> 1024 channels at batch 64: 134 MB) only to sum it.
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
    grad_weight = np.zeros(geom.weight_shape, dtype=x.dtype)
    # BEGIN SOLUTION t06_conv_backward
    for _, channels, filters in _group_slices(geom):
        for n in range(geom.batch):
            # (Og, Cg) += (Og, P) @ (P, Cg); one image at a time, never an (N, Og, Cg) stack
            grad_weight[filters, :, 0, 0] += grad_out_pixels[n, filters] @ pixels[n, channels].T
    # END SOLUTION
    return grad_weight


# --------------------------------------------------------------------------------------------
# Shifted matmuls (stride 1, wide groups): im2col without the column matrix
#
# Lay a block of n images out as the direct loops do (below): each channel's zero-padded planes
# flat, row after row at pitch Wp, the n images one after another (L = Hp*Wp values each).
# Then the im2col column of tap (i, j) at every output position k = m*L + y*Wp + x is the
# padded block shifted by s(i, j) = i*dh*Wp + j*dw:
#
#     cols[(c, i, j), k] = padded[c, k + s(i, j)]
#
# so instead of copying kh*kw shifted copies of the input into a column matrix, each tap is
# one matrix product with a shifted *view* of the padded block, which BLAS reads in place
# (a row stride that is not the row length is fine for BLAS):
#
#     forward   out_flat (Og, n*L)  = sum_{i,j} W_g[:, :, i, j] (Og, Cg) @ padded[:, s : s + n*L]
#     grad_w    dW_g[:, :, i, j]   += grad_out_flat (Og, n*L) @ padded[:, s : s + n*L]^T
#
# Positions with y >= oh or x >= ow read past their image's last row or column: garbage in
# out_flat, thrown away, and zeros in grad_out_flat, so they add nothing to grad_w. The
# gradient w.r.t. the input is the forward on grad_out with transposed, flipped filters (see
# the direct loops). Measured on one core, forward of 32 x 64ch x 32x32, 3x3: im2col +
# matmul 50 ms, shifted matmuls 33 ms.
# --------------------------------------------------------------------------------------------

# Bytes of padded input per block (at least one image): one block and its products stay in
# cache while the kh*kw products run over it. Measured (2 cores), forward / grad input / grad
# weight of 32 x 512ch x 32x32, groups 8: 256 KiB (one image) 158 / 147 / 171 ms, 4 MiB
# 244 / 198 / 213 ms; 64 x 64ch x 32x32 dense: the same at 256 KiB and 1 MiB, slower at 4 MiB.
SHIFTED_BLOCK_BYTES = 2**18


def _padded_images(x_block, pad_h, pad_w, tail):
    """``(n, C, H, W) -> (C, n*Hp*Wp + tail)``: each image zero-padded and flattened, the n images
    one after another, and ``tail`` zeros at the end for the last image's shifted reads."""
    n, channels, height, width = x_block.shape
    padded_h, padded_w = height + 2 * pad_h, width + 2 * pad_w
    padded = np.zeros((channels, n * padded_h * padded_w + tail), dtype=x_block.dtype)
    planes = padded[:, : n * padded_h * padded_w].reshape(channels, n, padded_h, padded_w)
    planes[:, :, pad_h : pad_h + height, pad_w : pad_w + width] = x_block.transpose(1, 0, 2, 3)
    return padded


def _shifted_layout(in_h, in_w, kh, kw, pad_h, pad_w, dilation_h, dilation_w):
    """``(Hp, Wp, L, tail, shifts)``: the padded image, its flat size L = Hp*Wp, the zeros
    needed past the last image for its shifted reads, and each tap's shift s(i, j)."""
    padded_h, padded_w = in_h + 2 * pad_h, in_w + 2 * pad_w
    shifts = [i * dilation_h * padded_w + j * dilation_w for i in range(kh) for j in range(kw)]
    return padded_h, padded_w, padded_h * padded_w, shifts[-1], shifts


def _shifted_forward(x, weight, groups, pad_h, pad_w, dilation_h, dilation_w):
    """A stride-1 convolution of ``x`` ``(N, C, H, W)`` with ``weight`` ``(O, Cg, kh, kw)``."""
    batch, _, in_h, in_w = x.shape
    out_channels, Cg, kh, kw = weight.shape
    Og = out_channels // groups
    padded_h, padded_w, image_size, tail, shifts = _shifted_layout(in_h, in_w, kh, kw, pad_h, pad_w, dilation_h, dilation_w)
    out_h, out_w = padded_h - (kh - 1) * dilation_h, padded_w - (kw - 1) * dilation_w
    # (G, kh*kw, Og, Cg): one contiguous (Og, Cg) matrix per group and tap
    tap_weights = np.ascontiguousarray(weight.reshape(groups, Og, Cg, kh * kw).transpose(0, 3, 1, 2))
    out = np.empty((batch, out_channels, out_h, out_w), dtype=x.dtype)
    for images in _blocks_of_images(batch, Cg * image_size * x.itemsize, SHIFTED_BLOCK_BYTES):
        n = images.stop - images.start
        positions = n * image_size
        product = np.empty((Og, positions), dtype=x.dtype)
        for g in range(groups):
            padded = _padded_images(x[images, g * Cg : (g + 1) * Cg], pad_h, pad_w, tail)
            out_flat = np.zeros((Og, positions), dtype=x.dtype)
            for tap, shift in enumerate(shifts):
                # (Og, n*L) = (Og, Cg) @ (Cg, n*L), a view of the padded block
                np.matmul(tap_weights[g, tap], padded[:, shift : shift + positions], out=product)
                out_flat += product
            # (Og, n*L) -> (Og, n, Hp, Wp), keep the valid corner -> (n, Og, oh, ow)
            out[images, g * Og : (g + 1) * Og] = out_flat.reshape(Og, n, padded_h, padded_w)[:, :, :out_h, :out_w].transpose(1, 0, 2, 3)
    return out


def _conv2d_forward_shifted(x, weight, geom):
    return _shifted_forward(x, weight, geom.groups, geom.pad_h, geom.pad_w, geom.dilation_h, geom.dilation_w)


def _conv2d_grad_input_shifted(grad_out, weight, geom):
    grad_out, flipped, full_pad_h, full_pad_w = _grad_input_as_forward(grad_out, weight, geom)
    return _shifted_forward(grad_out, flipped, geom.groups, full_pad_h, full_pad_w, geom.dilation_h, geom.dilation_w)


def _conv2d_grad_weight_shifted(x, grad_out, geom):
    G, Og, Cg, kh, kw = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group, geom.kernel_h, geom.kernel_w
    pad_h, pad_w = geom.pad_h, geom.pad_w
    padded_h, padded_w, image_size, tail, shifts = _shifted_layout(geom.in_h, geom.in_w, kh, kw, pad_h, pad_w, geom.dilation_h, geom.dilation_w)
    tap_grads = np.zeros((G, kh * kw, Og, Cg), dtype=x.dtype)
    for images in _blocks_of_images(geom.batch, Cg * image_size * x.itemsize, SHIFTED_BLOCK_BYTES):
        n = images.stop - images.start
        positions = n * image_size
        for g in range(G):
            padded = _padded_images(x[images, g * Cg : (g + 1) * Cg], pad_h, pad_w, tail)
            # grad_out at the forward's output positions, zero everywhere else
            grad_out_flat = np.zeros((Og, positions), dtype=x.dtype)
            grad_out_planes = grad_out_flat.reshape(Og, n, padded_h, padded_w)
            grad_out_planes[:, :, : geom.out_h, : geom.out_w] = grad_out[images, g * Og : (g + 1) * Og].transpose(1, 0, 2, 3)
            for tap, shift in enumerate(shifts):
                # (Og, Cg) += (Og, n*L) @ (n*L, Cg)
                tap_grads[g, tap] += grad_out_flat @ padded[:, shift : shift + positions].T
    # (G, kh*kw, Og, Cg) -> (G, Og, Cg, kh*kw) -> (O, Cg, kh, kw)
    return tap_grads.transpose(0, 2, 3, 1).reshape(geom.weight_shape)


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
# A block of ~COLUMN_BLOCK_BYTES is read back by the matmul while it is still in cache, and
# bounds peak memory (one block per thread).
#
# Why these matmul orientations (same numbers, different speed in OpenBLAS, measured on
# 65536-column batches cut into blocks): with few filters per tap row (Og=64, Cg*kh*kw=576)
# the forward as cols^T @ W^T took 84 ms against 216 ms for W @ cols, but with a square
# weight (1x1, Og = Cg = 256) W @ cols took 124 ms against 223 ms: the forward picks by shape.
# grad_w as cols @ dY^T took 64 ms against 113 ms for dY @ cols^T (244 vs 364 ms for 1x1).
#
# im2col and col2im run serially here: each thread runs this whole path on its own slice of
# the batch (see "The matmul paths on every core" above).
# --------------------------------------------------------------------------------------------

# Column-matrix bytes per block (at least one image). Measured on 2 cores, one BLAS thread per
# product, forward / grad input / grad weight of 64 x 64ch x 32x32, 3x3: 32 MiB blocks
# 57 / 61 / 52 ms, 2 MiB 49 / 54 / 45 ms; 32 x 512ch x 32x32 groups 8: 255 / 260 / 220 ms
# against 197 / 204 / 170 ms. Smaller blocks gained nothing more.
COLUMN_BLOCK_BYTES = 2 * 2**20


def _image_blocks(geom, itemsize):
    """Consecutive slices of the batch whose one-group column matrix takes ~COLUMN_BLOCK_BYTES."""
    return _blocks_of_images(geom.batch, geom.col_rows * geom.out_h * geom.out_w * itemsize, COLUMN_BLOCK_BYTES)


def _blocks_of_images(batch, bytes_per_image, block_bytes):
    """Consecutive slices of the batch of ~``block_bytes`` each (at least one image)."""
    return _consecutive_slices(batch, max(1, min(batch, block_bytes // bytes_per_image)))


def _consecutive_slices(batch, size):
    """``[0:size], [size:2*size], ...`` up to the end of the batch (the last one may be shorter)."""
    return [slice(first, min(first + size, batch)) for first in range(0, batch, size)]


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
# Direct loops, one parallel task per (block of images, group g)
#
# Each task copies its group's Cg input planes into a zero-padded scratch buffer, so the kernel
# loops never test for borders. At stride 1 each padded plane is stored flat, row after row
# (row pitch Wp):
#
#     padded[c, p*Wp + q] = xp[n, g*Cg + c, p, q]
#
# Output pixel (y, x) and tap (i, j) read padded index
#
#     (y + i*dh)*Wp + x + j*dw  =  (y*Wp + x) + i*dh*Wp + j*dw  =  k + start(i, j)
#
# An output row that runs past ow simply wraps into the next padded row, so we compute Wp
# "columns" per output row instead of ow (the Wp - ow extra ones are thrown away), and the oh
# short loops become one long contiguous loop over the positions k = y*Wp + x, which LLVM
# vectorises. Tap (i, j) of channel c adds a contiguous run of the buffer to the output:
#
#     out_flat[o, k] += w[o, c, i, j] * padded[c, start(i, j) + k]
#
# Strides: with stride s the taps read every s-th pixel, which does not vectorise. So the
# padded planes are split into s*s phases (polyphase): phase (a, b) holds the pixels whose row
# is a mod sh and column b mod sw, in a plane of Hq x Wq = ceil(Hp/sh) x ceil(Wp/sw):
#
#     phases[c, (a*sw + b)*phase_size + u*Wq + v] = xp[n, g*Cg + c, u*sh + a, v*sw + b]
#
# Pixel (y*sh + i*dh, x*sw + j*dw) lies in phase ((i*dh) % sh, (j*dw) % sw) at row
# y + (i*dh)//sh, column x + (j*dw)//sw: again a contiguous run, now with k = y*Wq + x and
# start(i, j) = phase*phase_size + ((i*dh)//sh)*Wq + (j*dw)//sw. Stride 1 is the case of one
# phase, Hq = Hp, Wq = Wp. A task takes several small images, one after another in each phase,
# Hq*Wq values apart (see DIRECT_TASK_PIXELS); positions between them are garbage, dropped.
#
# Register blocking: written one tap at a time, that loop loads and stores every output value
# once per multiply-add, and the memory traffic, not the arithmetic, sets its speed. So the
# loops below take FILTER_BLOCK = 4 filters and a whole kernel row at once: each output value
# is loaded and stored once per kernel row, each input value loaded once for four filters (for
# a 3-wide row: 12 multiply-adds per 7 loads and 4 stores, instead of 1 per 2 loads and 1
# store). Measured on one core, forward of 64 x 128ch x 32x32, groups 32: 26 ms one tap at a
# time, 8 ms blocked. Each group's filters are padded with zero filters to a multiple of four,
# so no loop has a remainder (a depthwise conv, Og = 1, thus does 4x the arithmetic it needs).
#
# The gradient w.r.t. the input, at stride 1, is itself a stride-1 convolution, of grad_out,
# with each group's weight transposed (Og <-> Cg) and flipped (i -> kh-1-i, j -> kw-1-j), and
# padding (kh-1)*dh - pad_h by (kw-1)*dw - pad_w. So it runs the forward loops:
#
#     dL/dx[c, p, q] = sum_{o,i,j} w[o, c, kh-1-i, kw-1-j] * gy_padded[o, p + i*dh, q + j*dw]
#
# At larger strides it runs the forward's loops backwards instead: every tap adds the filters'
# share of grad_out back onto the run of phase buffer that the forward read,
#
#     grad_phases[c, start(i, j) + k] += sum_o w[o, c, i, j] * grad_out_flat[o, k]
#
# (grad_out_flat is zero at the garbage positions), and the phases are then copied back.
# --------------------------------------------------------------------------------------------

FILTER_BLOCK = 4


def _tap_starts(kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, phase_size, plane_w):
    """``start[i, j]``: where tap (i, j)'s run of pixels begins in a channel's phase buffer."""
    start = np.empty((kernel_h, kernel_w), dtype=np.int64)
    for i in range(kernel_h):
        for j in range(kernel_w):
            phase = ((i * dilation_h) % stride_h) * stride_w + (j * dilation_w) % stride_w
            start[i, j] = phase * phase_size + ((i * dilation_h) // stride_h) * plane_w + (j * dilation_w) // stride_w
    return start


def _phase_layout(in_h, in_w, out_h, kernel_h, kernel_w, images, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w):
    """The sizes a task works with: ``(plane_size, plane_w, phase_size, start, positions, buffer_size)``.

    plane_size = Hq*Wq (one phase of one image, Wq its row pitch), phase_size = images*Hq*Wq
    (one phase of the task's images), start[i, j] (see :func:`_tap_starts`), positions = the
    output positions k computed, and buffer_size = a channel's buffer: every phase of every
    image, and room for the last tap's run of positions (which, at stride 1, reads
    (kw - 1)*dw past the final padded row).
    """
    plane_h, plane_w = -(-(in_h + 2 * pad_h) // stride_h), -(-(in_w + 2 * pad_w) // stride_w)
    plane_size = plane_h * plane_w
    phase_size = images * plane_size
    start = _tap_starts_jit(kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, phase_size, plane_w)
    positions = (images - 1) * plane_size + out_h * plane_w
    buffer_size = max(stride_h * stride_w * phase_size, start.max() + positions)
    return plane_size, plane_w, phase_size, start, positions, buffer_size


# The four copies below move a task's images (n = first_image + m, m < images) between the
# (N, C, H, W) arrays and a task's buffers, where image m starts at offset m*plane_size.


def _copy_into_phases(source, first_image, images, first_channel, phases, plane_size, phase_size, pad_h, pad_w, stride_h, stride_w, plane_w):
    """``phases[c, (a*sw + b)*phase_size + m*plane_size + u*Wq + v] = xp[n, first_channel + c, u*sh + a, v*sw + b]``
    for the pixels of each image (xp: ``source`` zero-padded); the padding is already zero."""
    height, width = source.shape[2], source.shape[3]
    for m in range(images):
        n, offset = first_image + m, m * plane_size
        if stride_h == stride_w == 1:  # one phase: the padded image itself (the common case, kept simple and fast)
            for c in range(phases.shape[0]):
                for p in range(height):
                    start = offset + (p + pad_h) * plane_w + pad_w
                    for q in range(width):
                        phases[c, start + q] = source[n, first_channel + c, p, q]
            continue
        for c in range(phases.shape[0]):
            for p in range(height):
                row = p + pad_h
                row_start = (row % stride_h) * stride_w * phase_size + offset + (row // stride_h) * plane_w
                for b in range(stride_w):
                    # padded columns v*sw + b that hold a pixel: source columns q = v*sw + b - pad_w
                    first_v, end_v = max(0, -(-(pad_w - b) // stride_w)), (width - 1 + pad_w - b) // stride_w + 1
                    start = row_start + b * phase_size
                    for v in range(first_v, end_v):
                        phases[c, start + v] = source[n, first_channel + c, p, v * stride_w + b - pad_w]


def _copy_from_phases(phases, plane_size, phase_size, dest, first_image, images, first_channel, pad_h, pad_w, stride_h, stride_w, plane_w):
    """``dest[n, first_channel + c, p, q] = phases[c, ...]``: the inverse of :func:`_copy_into_phases`,
    dropping the padding."""
    height, width = dest.shape[2], dest.shape[3]
    for m in range(images):
        for c in range(phases.shape[0]):
            for p in range(height):
                row = p + pad_h
                row_start = (row % stride_h) * stride_w * phase_size + m * plane_size + (row // stride_h) * plane_w
                for q in range(width):
                    col = q + pad_w
                    dest[first_image + m, first_channel + c, p, q] = phases[c, row_start + (col % stride_w) * phase_size + col // stride_w]


def _copy_to_row_pitch(source, first_image, images, first_channel, channels, flat, plane_size, row_pitch):
    """``flat[c, m*plane_size + y*row_pitch + x] = source[n, first_channel + c, y, x]`` for c <
    ``channels`` (output-sized planes at row pitch Wq)."""
    height, width = source.shape[2], source.shape[3]
    for m in range(images):
        for c in range(channels):
            for y in range(height):
                start = m * plane_size + y * row_pitch
                for x in range(width):
                    flat[c, start + x] = source[first_image + m, first_channel + c, y, x]


def _copy_from_row_pitch(flat, plane_size, dest, first_image, images, first_channel, channels, row_pitch):
    """``dest[n, first_channel + c, y, x] = flat[c, m*plane_size + y*row_pitch + x]`` for c <
    ``channels``: the inverse of :func:`_copy_to_row_pitch`, dropping the wrapped columns."""
    height, width = dest.shape[2], dest.shape[3]
    for m in range(images):
        for c in range(channels):
            for y in range(height):
                flat_row, dest_row = flat[c, m * plane_size + y * row_pitch :], dest[first_image + m, first_channel + c, y]
                for x in range(width):
                    dest_row[x] = flat_row[x]


# In the loops below the innermost loop over ``k`` runs over 1-D contiguous slices, one per tap:
# that is the form LLVM turns into SIMD code. (Indexing 2-D arrays, or one slice at offsets
# known only at run time, stayed scalar: LLVM could not prove that the taps do not overlap the
# outputs. Measured 4x slower.)


def _add_kernel_row(out_flat, o, w, c, i, phases_c, start):
    """``out_flat[o + b, k] += sum_j w[o + b, c, i, j] * phases_c[start[j] + k]`` for the four
    filters b = 0..3 and every position k (kernel row i of channel c)."""
    positions = out_flat.shape[1]
    out0, out1, out2, out3 = out_flat[o], out_flat[o + 1], out_flat[o + 2], out_flat[o + 3]
    if w.shape[3] == 3:
        # The usual 3-wide kernel row, written out.
        tap0 = phases_c[start[0] : start[0] + positions]
        tap1 = phases_c[start[1] : start[1] + positions]
        tap2 = phases_c[start[2] : start[2] + positions]
        a0, a1, a2 = w[o, c, i, 0], w[o, c, i, 1], w[o, c, i, 2]
        b0, b1, b2 = w[o + 1, c, i, 0], w[o + 1, c, i, 1], w[o + 1, c, i, 2]
        c0, c1, c2 = w[o + 2, c, i, 0], w[o + 2, c, i, 1], w[o + 2, c, i, 2]
        d0, d1, d2 = w[o + 3, c, i, 0], w[o + 3, c, i, 1], w[o + 3, c, i, 2]
        for k in range(positions):
            s0, s1, s2 = tap0[k], tap1[k], tap2[k]
            out0[k] += a0 * s0 + a1 * s1 + a2 * s2
            out1[k] += b0 * s0 + b1 * s1 + b2 * s2
            out2[k] += c0 * s0 + c1 * s1 + c2 * s2
            out3[k] += d0 * s0 + d1 * s1 + d2 * s2
    else:
        # Any other width: one tap at a time, still four filters per input load.
        for j in range(w.shape[3]):
            tap = phases_c[start[j] : start[j] + positions]
            a, b, c_, d = w[o, c, i, j], w[o + 1, c, i, j], w[o + 2, c, i, j], w[o + 3, c, i, j]
            for k in range(positions):
                s = tap[k]
                out0[k] += a * s
                out1[k] += b * s
                out2[k] += c_ * s
                out3[k] += d * s


def _dot_kernel_row(grad_w, o, c, i, phases_c, start, grad_out_flat):
    """``grad_w[o + b, c, i, j] = sum_k phases_c[start[j] + k] * grad_out_flat[o + b, k]`` for the
    four filters b = 0..3 and every j: the dot products of :func:`_add_kernel_row`'s inputs with
    the output gradient, all in one pass over k."""
    positions = grad_out_flat.shape[1]
    gy0, gy1, gy2, gy3 = grad_out_flat[o], grad_out_flat[o + 1], grad_out_flat[o + 2], grad_out_flat[o + 3]
    zero = grad_out_flat.dtype.type(0)
    if grad_w.shape[3] == 3:
        tap0 = phases_c[start[0] : start[0] + positions]
        tap1 = phases_c[start[1] : start[1] + positions]
        tap2 = phases_c[start[2] : start[2] + positions]
        a0, a1, a2, b0, b1, b2 = zero, zero, zero, zero, zero, zero
        c0, c1, c2, d0, d1, d2 = zero, zero, zero, zero, zero, zero
        for k in range(positions):
            s0, s1, s2 = tap0[k], tap1[k], tap2[k]
            y0, y1, y2, y3 = gy0[k], gy1[k], gy2[k], gy3[k]
            a0, a1, a2 = a0 + s0 * y0, a1 + s1 * y0, a2 + s2 * y0
            b0, b1, b2 = b0 + s0 * y1, b1 + s1 * y1, b2 + s2 * y1
            c0, c1, c2 = c0 + s0 * y2, c1 + s1 * y2, c2 + s2 * y2
            d0, d1, d2 = d0 + s0 * y3, d1 + s1 * y3, d2 + s2 * y3
        grad_w[o, c, i, 0], grad_w[o, c, i, 1], grad_w[o, c, i, 2] = a0, a1, a2
        grad_w[o + 1, c, i, 0], grad_w[o + 1, c, i, 1], grad_w[o + 1, c, i, 2] = b0, b1, b2
        grad_w[o + 2, c, i, 0], grad_w[o + 2, c, i, 1], grad_w[o + 2, c, i, 2] = c0, c1, c2
        grad_w[o + 3, c, i, 0], grad_w[o + 3, c, i, 1], grad_w[o + 3, c, i, 2] = d0, d1, d2
    else:
        for j in range(grad_w.shape[3]):
            tap = phases_c[start[j] : start[j] + positions]
            a, b, c_, d = zero, zero, zero, zero
            for k in range(positions):
                s = tap[k]
                a += s * gy0[k]
                b += s * gy1[k]
                c_ += s * gy2[k]
                d += s * gy3[k]
            grad_w[o, c, i, j], grad_w[o + 1, c, i, j], grad_w[o + 2, c, i, j], grad_w[o + 3, c, i, j] = a, b, c_, d


def _add_back_to_tap(grad_tap, o, w, c, i, j, grad_out_flat):
    """``grad_tap[k] += sum_b w[o + b, c, i, j] * grad_out_flat[o + b, k]`` for the four filters
    b = 0..3: what tap (i, j) of channel c passed on to those filters, sent back."""
    gy0, gy1, gy2, gy3 = grad_out_flat[o], grad_out_flat[o + 1], grad_out_flat[o + 2], grad_out_flat[o + 3]
    a, b, c_, d = w[o, c, i, j], w[o + 1, c, i, j], w[o + 2, c, i, j], w[o + 3, c, i, j]
    for k in range(grad_tap.shape[0]):
        grad_tap[k] += a * gy0[k] + b * gy1[k] + c_ * gy2[k] + d * gy3[k]


def _direct_forward_one_task(x, blocked_weight, out, first_image, images, g, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w):
    """out[n, g*Og + o, y, x] = sum_{c,i,j} w[g, o, c, i, j] * phases[c, start(i, j) + m*Hq*Wq + y*Wq + x]
    for the images n = first_image + m, m < ``images``, with ``blocked_weight`` of shape
    (G, Og rounded up to FILTER_BLOCK, Cg, kh, kw)."""
    _, _, in_h, in_w = x.shape
    _, out_channels, out_h, _ = out.shape
    groups, filters, in_channels_per_group, kernel_h, kernel_w = blocked_weight.shape
    out_channels_per_group = out_channels // groups
    plane_size, plane_w, phase_size, start, positions, buffer_size = _phase_layout_jit(
        in_h, in_w, out_h, kernel_h, kernel_w, images, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w
    )
    phases = np.zeros((in_channels_per_group, buffer_size), dtype=x.dtype)
    _copy_into_phases_jit(
        x, first_image, images, g * in_channels_per_group, phases, plane_size, phase_size, pad_h, pad_w, stride_h, stride_w, plane_w
    )
    out_flat = np.zeros((filters, positions), dtype=x.dtype)
    w = blocked_weight[g]
    for o in range(0, filters, FILTER_BLOCK):
        for c in range(in_channels_per_group):
            for i in range(kernel_h):
                _add_kernel_row_jit(out_flat, o, w, c, i, phases[c], start[i])
    _copy_from_row_pitch_jit(out_flat, plane_size, out, first_image, images, g * out_channels_per_group, out_channels_per_group, plane_w)


def _direct_grad_input_one_task(grad_out, blocked_weight, grad_x, first_image, images, g, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w):
    """grad_phases[c, start(i, j) + k] += sum_o w[g, o, c, i, j] * grad_out_flat[o, k], then
    grad_x[first_image + m, g*Cg + c] = the pixels of grad_phases (the forward's loops, backwards)."""
    _, out_channels, out_h, _ = grad_out.shape
    _, _, in_h, in_w = grad_x.shape
    groups, filters, in_channels_per_group, kernel_h, kernel_w = blocked_weight.shape
    out_channels_per_group = out_channels // groups
    plane_size, plane_w, phase_size, start, positions, buffer_size = _phase_layout_jit(
        in_h, in_w, out_h, kernel_h, kernel_w, images, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w
    )
    # Zero at the garbage positions and in the padding filters, so they send nothing back.
    grad_out_flat = np.zeros((filters, positions), dtype=grad_out.dtype)
    _copy_to_row_pitch_jit(grad_out, first_image, images, g * out_channels_per_group, out_channels_per_group, grad_out_flat, plane_size, plane_w)
    grad_phases = np.zeros((in_channels_per_group, buffer_size), dtype=grad_out.dtype)
    w = blocked_weight[g]
    for c in range(in_channels_per_group):
        for i in range(kernel_h):
            for j in range(kernel_w):
                grad_tap = grad_phases[c, start[i, j] : start[i, j] + positions]
                for o in range(0, filters, FILTER_BLOCK):
                    _add_back_to_tap_jit(grad_tap, o, w, c, i, j, grad_out_flat)
    _copy_from_phases_jit(
        grad_phases, plane_size, phase_size, grad_x, first_image, images, g * in_channels_per_group, pad_h, pad_w, stride_h, stride_w, plane_w
    )


def _direct_grad_weight_one_task(x, grad_out, grad_weight_blocks, block, first_image, images, g, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w):
    """grad_weight_blocks[block, g, o, c, i, j] = sum_k phases[c, start(i, j) + k] * grad_out_flat[o, k]
    over the task's images; the caller sums over the blocks (each task writes only its own
    block's slice: no races)."""
    _, _, in_h, in_w = x.shape
    _, out_channels, out_h, _ = grad_out.shape
    _, groups, filters, in_channels_per_group, kernel_h, kernel_w = grad_weight_blocks.shape
    out_channels_per_group = out_channels // groups
    plane_size, plane_w, phase_size, start, positions, buffer_size = _phase_layout_jit(
        in_h, in_w, out_h, kernel_h, kernel_w, images, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w
    )
    phases = np.zeros((in_channels_per_group, buffer_size), dtype=x.dtype)
    _copy_into_phases_jit(
        x, first_image, images, g * in_channels_per_group, phases, plane_size, phase_size, pad_h, pad_w, stride_h, stride_w, plane_w
    )
    # Zero at the garbage positions and in the padding filters, so they add nothing to the sums.
    grad_out_flat = np.zeros((filters, positions), dtype=grad_out.dtype)
    _copy_to_row_pitch_jit(grad_out, first_image, images, g * out_channels_per_group, out_channels_per_group, grad_out_flat, plane_size, plane_w)
    grad_w = grad_weight_blocks[block, g]
    for o in range(0, filters, FILTER_BLOCK):
        for c in range(in_channels_per_group):
            for i in range(kernel_h):
                _dot_kernel_row_jit(grad_w, o, c, i, phases[c], start[i], grad_out_flat)


def _direct_forward_loops(x, blocked_weight, out, images_per_task, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w):
    groups, batch = blocked_weight.shape[0], x.shape[0]
    for task in prange(-(-batch // images_per_task) * groups):
        first_image, g = (task // groups) * images_per_task, task % groups
        images = min(images_per_task, batch - first_image)
        _direct_forward_one_task_jit(x, blocked_weight, out, first_image, images, g, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w)


def _direct_grad_input_loops(grad_out, blocked_weight, grad_x, images_per_task, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w):
    groups, batch = blocked_weight.shape[0], grad_out.shape[0]
    for task in prange(-(-batch // images_per_task) * groups):
        first_image, g = (task // groups) * images_per_task, task % groups
        images = min(images_per_task, batch - first_image)
        _direct_grad_input_one_task_jit(
            grad_out, blocked_weight, grad_x, first_image, images, g, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w
        )


def _direct_grad_weight_loops(x, grad_out, grad_weight_blocks, images_per_task, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w):
    groups, batch = grad_weight_blocks.shape[1], x.shape[0]
    for task in prange(grad_weight_blocks.shape[0] * groups):
        block, g = task // groups, task % groups
        first_image = block * images_per_task
        images = min(images_per_task, batch - first_image)
        _direct_grad_weight_one_task_jit(
            x, grad_out, grad_weight_blocks, block, first_image, images, g, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w
        )


_tap_starts_jit = njit(cache=True)(_tap_starts)
_phase_layout_jit = njit(cache=True)(_phase_layout)
_copy_into_phases_jit = njit(cache=True)(_copy_into_phases)
_copy_from_phases_jit = njit(cache=True)(_copy_from_phases)
_copy_to_row_pitch_jit = njit(cache=True)(_copy_to_row_pitch)
_copy_from_row_pitch_jit = njit(cache=True)(_copy_from_row_pitch)
# Inlined into the task loops: a call per kernel row cost more than the row itself on small
# images (64 x 512ch x 8x8: 28 ms called, 11 ms inlined, one core).
_add_kernel_row_jit = njit(cache=True, inline="always")(_add_kernel_row)
_add_back_to_tap_jit = njit(cache=True, inline="always")(_add_back_to_tap)
# A sum is a chain of dependent additions; only if it may reorder them ("reassoc") does LLVM
# split the dot products above over SIMD lanes, which makes them ~10x faster (1.1 -> 0.1 ns per
# float32 element, measured). Results change only by rounding (float64 tests still agree with
# the reference to 1e-12). No other fastmath flag is on: NaN and inf behave as IEEE says.
# (Inlined code takes its caller's flags, so the grad_weight task carries the flag too.)
_dot_kernel_row_jit = njit(cache=True, inline="always", fastmath={"reassoc"})(_dot_kernel_row)
# One parallel task per (block of images, group): each writes only its own slice of the
# output, so no two threads touch the same element. The per-task work lives in its own
# (serial) function: inside a prange body Numba's parallel lowering stops LLVM from vectorising
# the inner loops (measured 4x slower).
_direct_forward_one_task_jit = njit(cache=True)(_direct_forward_one_task)
_direct_grad_input_one_task_jit = njit(cache=True)(_direct_grad_input_one_task)
_direct_grad_weight_one_task_jit = njit(cache=True, fastmath={"reassoc"})(_direct_grad_weight_one_task)
_direct_forward_jit = njit(cache=True, parallel=True)(_direct_forward_loops)
_direct_grad_input_jit = njit(cache=True, parallel=True)(_direct_grad_input_loops)
_direct_grad_weight_jit = njit(cache=True, parallel=True)(_direct_grad_weight_loops)


def _geometry_ints(geom):
    """Padding, stride and dilation as the loop functions take them."""
    return geom.pad_h, geom.pad_w, geom.stride_h, geom.stride_w, geom.dilation_h, geom.dilation_w


def _blocked_filters(weight, groups):
    """``(G*Og, Cg, kh, kw) -> (G, Og', Cg, kh, kw)``, Og' = Og rounded up to a multiple of
    FILTER_BLOCK; the extra filters are zero."""
    out_channels, in_channels_per_group, kernel_h, kernel_w = weight.shape
    out_channels_per_group = out_channels // groups
    filters = -(-out_channels_per_group // FILTER_BLOCK) * FILTER_BLOCK
    blocked = np.zeros((groups, filters, in_channels_per_group, kernel_h, kernel_w), dtype=weight.dtype)
    blocked[:, :out_channels_per_group] = weight.reshape(groups, out_channels_per_group, in_channels_per_group, kernel_h, kernel_w)
    return blocked


# Padded pixels per task and phase plane: a task takes as many images as fit (at least one),
# laid one after another, so that small images make fewer, longer tasks (and fewer per-task
# weight gradients to add up). Measured forward / grad input / grad weight on 2 cores, 64 x
# 512ch x 8x8, groups 32: one image per task 7.4 / 7.4 / 10.1 ms, ten images 7.1 / 7.3 / 7.6 ms;
# 64 x 1024ch x 8x8: grad weight 37.8 -> 26.0 ms. 2048 pixels was slower again.
DIRECT_TASK_PIXELS = 1024


def _images_per_task(in_h, in_w, geom):
    """Images per task for inputs of ``in_h x in_w`` padded and phase-split as ``geom`` says."""
    plane_h = -(-(in_h + 2 * geom.pad_h) // geom.stride_h)
    plane_w = -(-(in_w + 2 * geom.pad_w) // geom.stride_w)
    return max(1, DIRECT_TASK_PIXELS // (plane_h * plane_w))


def _conv2d_forward_direct(x, weight, geom):
    # C-contiguous inputs keep Numba at one compiled version per dtype.
    x = np.ascontiguousarray(x)
    out = np.empty(geom.output_shape, dtype=x.dtype)
    _direct_forward_jit(x, _blocked_filters(weight, geom.groups), out, _images_per_task(geom.in_h, geom.in_w, geom), *_geometry_ints(geom))
    return out


def _conv2d_grad_input_direct(grad_out, weight, geom):
    """Stride 1: the forward loops on grad_out, with every group's filters transposed and
    flipped. Larger strides: the forward's loops backwards."""
    if geom.stride_h > 1 or geom.stride_w > 1:
        grad_x = np.empty(geom.input_shape, dtype=grad_out.dtype)
        _direct_grad_input_jit(
            np.ascontiguousarray(grad_out), _blocked_filters(weight, geom.groups), grad_x,
            _images_per_task(geom.in_h, geom.in_w, geom), *_geometry_ints(geom),
        )  # fmt: skip
        return grad_x
    grad_out, flipped, full_pad_h, full_pad_w = _grad_input_as_forward(grad_out, weight, geom)
    full = replace(geom, pad_h=full_pad_h, pad_w=full_pad_w)  # only its padding is used below
    grad_x = np.empty(geom.input_shape, dtype=grad_out.dtype)
    _direct_forward_jit(
        grad_out, _blocked_filters(flipped, geom.groups), grad_x,
        _images_per_task(grad_out.shape[2], grad_out.shape[3], full), *_geometry_ints(full),
    )  # fmt: skip
    return grad_x


def _grad_input_as_forward(grad_out, weight, geom):
    """The stride-1 convolution whose forward is dL/dx: ``(grad_out, filters, pad_h, pad_w)``.

    Filters ``(G*Cg, Og, kh, kw)``: each group's weight transposed and flipped, see "The gradient
    w.r.t. the input, at stride 1, is itself a stride-1 convolution" above. Padding
    ``(kh-1)*dh - pad_h``; where the forward's padding is wider than that (``pad_h >
    (kh-1)*dh``) it would be negative: those outer rows of grad_out only ever met zero padding
    in the forward pass, so they are cut off and the padding is zero.
    """
    G, Og, Cg, kh, kw = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group, geom.kernel_h, geom.kernel_w
    # (G*Og, Cg, kh, kw) -> (G, Cg, Og, kh, kw), flipped in both kernel axes -> (G*Cg, Og, kh, kw)
    flipped = weight.reshape(G, Og, Cg, kh, kw).transpose(0, 2, 1, 3, 4)[:, :, :, ::-1, ::-1].reshape(G * Cg, Og, kh, kw)
    full_pad_h, full_pad_w = (kh - 1) * geom.dilation_h - geom.pad_h, (kw - 1) * geom.dilation_w - geom.pad_w
    crop_h, crop_w = max(0, -full_pad_h), max(0, -full_pad_w)
    grad_out = grad_out[:, :, crop_h : geom.out_h - crop_h, crop_w : geom.out_w - crop_w]
    return np.ascontiguousarray(grad_out), flipped, max(0, full_pad_h), max(0, full_pad_w)


def _conv2d_grad_weight_direct(x, grad_out, geom):
    x, grad_out = np.ascontiguousarray(x), np.ascontiguousarray(grad_out)
    G, Og = geom.groups, geom.out_channels_per_group
    filters = -(-Og // FILTER_BLOCK) * FILTER_BLOCK
    images_per_task = _images_per_task(geom.in_h, geom.in_w, geom)
    blocks = -(-geom.batch // images_per_task)
    # One (G, Og', Cg, kh, kw) result per block of images, summed over the blocks below.
    grad_weight_blocks = np.empty((blocks, G, filters, geom.in_channels_per_group, geom.kernel_h, geom.kernel_w), dtype=x.dtype)
    _direct_grad_weight_jit(x, grad_out, grad_weight_blocks, images_per_task, *_geometry_ints(geom))
    return grad_weight_blocks.sum(axis=0)[:, :Og].reshape(geom.weight_shape)
