"""Chapter 4: direct loops. Slide the kernel over each group's channels, one parallel task per group.

One parallel task per (block of images, group g): the task copies its images' Cg input channels
into zero-padded, flat scratch buffers (:mod:`minigrad.kernels.conv.phases`), then adds every
tap's contribution to its outputs. Because a padded plane is stored flat at row pitch Wq, output
position k = y*Wq + x and tap (i, j) read buffer index ``start[i, j] + k``: an output row that
runs past ow simply wraps into the next row (the Wq - ow extra positions are garbage, dropped),
and the oh short loops become one long contiguous loop over k, which LLVM vectorises::

    forward      out_flat[o, k]  += w[g, o, c, i, j] * buffer[c, start[i, j] + k]
    grad_weight  dw[g, o, c, i, j] = sum_k buffer[c, start[i, j] + k] * grad_out_flat[o, k]
    grad_input   grad_buffer[c, start[i, j] + k] += sum_o w[g, o, c, i, j] * grad_out_flat[o, k]
                 then the buffer's pixels are copied back (the forward's loops, backwards)

The inner loops take four filters and a whole kernel row at once (:mod:`minigrad.kernels.conv.direct_rows`),
and the strided grad_input's loops four filters and four channels.
At stride 1 the gradient w.r.t. the input is the forward loops run on grad_out with transposed,
flipped filters (:func:`minigrad.kernels.conv.shifted.grad_input_as_forward`); at larger strides
it runs the forward's loops backwards, as above (grad_out_flat is zero at the garbage positions).

When it wins: ResNeXt's grouped 3x3 convolutions have 4-16 channels per group, so each group's
matrix product is far too thin for BLAS; here they run at SIMD speed. ``choose`` gives it narrow
groups at any stride, and at stride 1 every convolution on images of 16x16 and more, where the
long contiguous rows keep the SIMD units as busy as BLAS without laying the input out for it.
Measured (2 cores, forward + both gradients): 64 x 128ch x 32x32, groups 32: 41 ms; 128 x 64ch
x 32x32, groups 4, stride 2: 43 ms against 93 ms for im2col + matmul.

Numba notes: the per-task work lives in its own serial function, called from the ``prange``
loop: inside a ``prange`` body Numba's parallel lowering stops LLVM from vectorising the inner
loops (measured 4x slower). Each task writes only its own slice of the result, so no two threads
touch the same element. The tasks carry Numba's ``fastmath={"contract"}`` (:data:`FUSED_MULTIPLY_ADD`).
"""

import numpy as np
from numba import njit, prange

from minigrad.kernels.conv.direct_rows import (FILTER_BLOCK, add_back_to_four_taps, add_back_to_tap, add_kernel_row,
                                                dot_kernel_row)
from minigrad.kernels.conv.phases import (copy_from_phases, copy_from_row_pitch, copy_into_phases, copy_to_row_pitch, phase_layout,
                                           plane_shape)
from minigrad.kernels.conv.shifted import grad_input_as_forward
from minigrad.kernels.threads import use_numba_threads

__all__ = ["forward", "grad_input", "grad_weight", "cannot_compute"]

# Padded pixels per task and phase plane: a task takes as many images as fit (at least one),
# laid one after another, so that small images make fewer, longer tasks (and fewer per-task
# weight gradients to add up). Measured forward / grad input / grad weight on 2 cores, 64 x
# 512ch x 8x8, groups 32: one image per task 7.4 / 7.4 / 10.1 ms, ten images 7.1 / 7.3 / 7.6 ms;
# 64 x 1024ch x 8x8: grad weight 37.8 -> 26.0 ms. 2048 pixels was slower again.
# The batch is split evenly over the fewest blocks that hold it (only the last block is smaller,
# by less than the number of blocks): ``prange`` hands each thread an equal number of tasks, not
# of images, so blocks of 12, 12 and 8 images gave one of two threads 72 image-tasks
# and the other 56. Measured on 2 cores, forward + both gradients: 32 x 128ch x 16x16, groups 4,
# stride 2, 12 -> 11 images per task: 6.7-6.9 -> 6.0-6.2 ms; 64 x 512ch x 8x8, groups 32: 21.3
# -> 18.6 ms.
DIRECT_TASK_PIXELS = 1024

# The kernel rows are multiply-adds. Python rounds a product before adding it; so must LLVM,
# unless the "contract" flag lets it fuse the two into one FMA instruction (fused multiply-add:
# one instruction, one rounding, so results move by rounding only; NaN and inf behave as IEEE
# says). Without it the forward task's machine code held 16 multiplies and 16 adds and no FMA;
# with it, 56 FMAs. Measured on an AVX2 machine (OpenBLAS's Haswell kernel), the default model's
# training steps in paired bursts against the commit before (benchmarks/compare_checkouts.py):
# batch 32 1.056x (faster in 42 of 60 pairs), batch 128 1.086x (27 of 30). Inlined kernels take
# their caller's flags, so the flag sits on the tasks.
FUSED_MULTIPLY_ADD = {"contract"}


def cannot_compute(geom):
    """None: the direct loops compute every convolution."""
    return None


@njit(cache=True, fastmath=FUSED_MULTIPLY_ADD)
def _forward_task(x, blocked_weight, out, first_image, image_count, g, geometry):
    """out[first_image + m, g*Og + o] for the task's images m < ``image_count`` (``blocked_weight``:
    (G, Og rounded up to FILTER_BLOCK, Cg, kh, kw))."""
    filters, in_channels_per_group, kernel_h = blocked_weight.shape[1], blocked_weight.shape[2], blocked_weight.shape[3]
    layout = phase_layout(geometry, image_count)
    buffer = np.zeros((in_channels_per_group, layout.buffer_size), dtype=x.dtype)
    copy_into_phases(x, first_image, image_count, g * in_channels_per_group, buffer, layout, geometry)
    out_flat = np.zeros((filters, layout.positions), dtype=x.dtype)
    w = blocked_weight[g]
    # BEGIN SOLUTION t10_direct_conv_forward
    for o in range(0, filters, FILTER_BLOCK):
        for c in range(in_channels_per_group):
            for i in range(kernel_h):
                add_kernel_row(out_flat, o, w, c, i, buffer[c], layout.start[i])
    # END SOLUTION
    Og = geometry.out_channels_per_group
    copy_from_row_pitch(out_flat, out, first_image, image_count, g * Og, Og, layout)


@njit(cache=True, fastmath=FUSED_MULTIPLY_ADD)
def _grad_input_task(grad_out, blocked_weight, grad_x, first_image, image_count, g, geometry):
    """grad_x[first_image + m, g*Cg + c] for the task's images: the forward's loops, backwards."""
    filters, in_channels_per_group, kernel_h, kernel_w = blocked_weight.shape[1:]
    layout = phase_layout(geometry, image_count)
    # Zero at the garbage positions and in the padding filters, so they send nothing back.
    grad_out_flat = np.zeros((filters, layout.positions), dtype=grad_out.dtype)
    Og = geometry.out_channels_per_group
    copy_to_row_pitch(grad_out, first_image, image_count, g * Og, Og, grad_out_flat, layout)
    grad_buffer = np.zeros((in_channels_per_group, layout.buffer_size), dtype=grad_out.dtype)
    w = blocked_weight[g]
    four_at_once = in_channels_per_group - in_channels_per_group % 4  # channels taken four at a time
    for c in range(0, four_at_once, 4):
        for i in range(kernel_h):
            for j in range(kernel_w):
                for o in range(0, filters, FILTER_BLOCK):
                    add_back_to_four_taps(grad_buffer, c, layout.start[i, j], o, w, i, j, grad_out_flat)
    for c in range(four_at_once, in_channels_per_group):  # the rest, one at a time
        for i in range(kernel_h):
            for j in range(kernel_w):
                grad_tap = grad_buffer[c, layout.start[i, j] : layout.start[i, j] + layout.positions]
                for o in range(0, filters, FILTER_BLOCK):
                    add_back_to_tap(grad_tap, o, w, c, i, j, grad_out_flat)
    copy_from_phases(grad_buffer, grad_x, first_image, image_count, g * in_channels_per_group, layout, geometry)


@njit(cache=True, fastmath={"reassoc"} | FUSED_MULTIPLY_ADD)  # reassoc: the inlined dot_kernel_row's, see there
def _grad_weight_task(x, grad_out, grad_weight_blocks, block, first_image, image_count, g, geometry):
    """grad_weight_blocks[block, g] = this task's images' share of group g's weight gradient; the
    caller sums over the blocks (each task writes only its own block's slice: no races)."""
    filters, in_channels_per_group, kernel_h = grad_weight_blocks.shape[2], grad_weight_blocks.shape[3], grad_weight_blocks.shape[4]
    layout = phase_layout(geometry, image_count)
    buffer = np.zeros((in_channels_per_group, layout.buffer_size), dtype=x.dtype)
    copy_into_phases(x, first_image, image_count, g * in_channels_per_group, buffer, layout, geometry)
    # Zero at the garbage positions and in the padding filters, so they add nothing to the sums.
    grad_out_flat = np.zeros((filters, layout.positions), dtype=grad_out.dtype)
    Og = geometry.out_channels_per_group
    copy_to_row_pitch(grad_out, first_image, image_count, g * Og, Og, grad_out_flat, layout)
    grad_w = grad_weight_blocks[block, g]
    for o in range(0, filters, FILTER_BLOCK):
        for c in range(in_channels_per_group):
            for i in range(kernel_h):
                dot_kernel_row(grad_w, o, c, i, buffer[c], layout.start[i], grad_out_flat)


@njit(cache=True, parallel=True)
def _forward_tasks(x, blocked_weight, out, images_per_task, geometry):
    # BEGIN SOLUTION t10_direct_conv_forward
    groups, batch = geometry.groups, geometry.batch
    for task in prange(-(-batch // images_per_task) * groups):
        first_image, g = (task // groups) * images_per_task, task % groups
        _forward_task(x, blocked_weight, out, first_image, min(images_per_task, batch - first_image), g, geometry)
    # END SOLUTION


@njit(cache=True, parallel=True)
def _grad_input_tasks(grad_out, blocked_weight, grad_x, images_per_task, geometry):
    groups, batch = geometry.groups, geometry.batch
    for task in prange(-(-batch // images_per_task) * groups):
        first_image, g = (task // groups) * images_per_task, task % groups
        _grad_input_task(grad_out, blocked_weight, grad_x, first_image, min(images_per_task, batch - first_image), g, geometry)


@njit(cache=True, parallel=True)
def _grad_weight_tasks(x, grad_out, grad_weight_blocks, images_per_task, geometry):
    groups, batch = geometry.groups, geometry.batch
    for task in prange(grad_weight_blocks.shape[0] * groups):
        block, g = task // groups, task % groups
        first_image = block * images_per_task
        _grad_weight_task(x, grad_out, grad_weight_blocks, block, first_image, min(images_per_task, batch - first_image), g, geometry)


def _blocked_filters(weight, groups):
    """``(G*Og, Cg, kh, kw) -> (G, Og', Cg, kh, kw)``, Og' = Og rounded up to a multiple of
    FILTER_BLOCK; the extra filters are zero."""
    out_channels, in_channels_per_group, kernel_h, kernel_w = weight.shape
    out_channels_per_group = out_channels // groups
    filters = -(-out_channels_per_group // FILTER_BLOCK) * FILTER_BLOCK
    blocked = np.zeros((groups, filters, in_channels_per_group, kernel_h, kernel_w), dtype=weight.dtype)
    blocked[:, :out_channels_per_group] = weight.reshape(groups, out_channels_per_group, in_channels_per_group, kernel_h, kernel_w)
    return blocked


def _images_per_task(geom):
    """How many images one task takes: as many padded phase planes as fit in DIRECT_TASK_PIXELS,
    spread evenly over the fewest blocks of images that hold the batch."""
    plane_h, plane_w = plane_shape(geom)
    most = max(1, DIRECT_TASK_PIXELS // (plane_h * plane_w))
    blocks = -(-geom.batch // most)
    return -(-geom.batch // blocks)


def forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``."""
    use_numba_threads()
    out = np.empty(geom.output_shape, dtype=x.dtype)
    # C-contiguous inputs keep Numba at one compiled version per dtype.
    _forward_tasks(np.ascontiguousarray(x), _blocked_filters(weight, geom.groups), out, _images_per_task(geom), geom.record())
    return out


def grad_input(grad_out, weight, geom):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``."""
    if geom.stride_h == geom.stride_w == 1:
        return forward(*grad_input_as_forward(grad_out, weight, geom))
    use_numba_threads()
    grad_x = np.empty(geom.input_shape, dtype=grad_out.dtype)
    blocked = _blocked_filters(weight, geom.groups)
    _grad_input_tasks(np.ascontiguousarray(grad_out), blocked, grad_x, _images_per_task(geom), geom.record())
    return grad_x


def grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``."""
    use_numba_threads()
    filters = -(-geom.out_channels_per_group // FILTER_BLOCK) * FILTER_BLOCK
    images_per_task = _images_per_task(geom)
    blocks = -(-geom.batch // images_per_task)
    # One (G, Og', Cg, kh, kw) result per block of images, summed over the blocks below.
    shape = (blocks, geom.groups, filters, geom.in_channels_per_group, geom.kernel_h, geom.kernel_w)
    grad_weight_blocks = np.empty(shape, dtype=x.dtype)
    x, grad_out = np.ascontiguousarray(x), np.ascontiguousarray(grad_out)
    _grad_weight_tasks(x, grad_out, grad_weight_blocks, images_per_task, geom.record())
    return grad_weight_blocks.sum(axis=0)[:, : geom.out_channels_per_group].reshape(geom.weight_shape)
