"""Chapter 2, continued: the 1x1 products on Numba's threads. Read it after :mod:`minigrad.kernels.conv.pointwise`.

The pointwise chapter spreads the batch over the cores with a pool of Python threads
(:mod:`minigrad.kernels.conv.batches`), each calling ``np.matmul`` on its slice. The rest of a
training step (BatchNorm, ReLU, the direct loops) runs on Numba's own threads. Two pools of
threads on two cores get in each other's way: after each parallel loop Numba's idle threads spin
for a moment (:mod:`minigrad.kernels.threads` says why), taking a core from the products the
Python pool starts next, and every call wakes a Python worker and passes the interpreter lock
back and forth between image products.

Here the same products run on Numba's threads: one ``prange`` task per thread, each calling
BLAS's product function (``gemm``, found by :mod:`minigrad.kernels.blas`) for its own consecutive
images, one group at a time (legend in :mod:`minigrad.kernels.conv_geometry`)::

    forward   out[n, filters]     = W_g (Og, Cg)   @ x[n, channels] (Cg, P)
    grad_in   dx[n, channels]     = W_g^T (Cg, Og) @ dY[n, filters] (Og, P)
    grad_w    dW_task[filters]   += dY[n, filters] (Og, P) @ x[n, channels]^T (P, Cg)

``gemm`` multiplies by a transpose without making one (its op() arguments) and adds to what C
holds when asked (beta = 1): each task sums its images' weight gradients in an (O, Cg) array of
its own, with no temporary per image, and the tasks' arrays are added at the end. These are the
pointwise chapter's products, in the same BLAS: the same results, but for the order in which
gemm adds each image's weight gradient into the sum (rounding).

Measured on 2 cores (AMD EPYC, OpenBLAS's Haswell kernel), batch 32, float32, forward alone
(medians of 60, this and the pointwise chapter alternating): 64 -> 64 channels at 32x32 2.03 ->
1.84 ms, 128 -> 256 channels at 8x8 1.00 -> 0.81 ms; right after a BatchNorm (a Numba loop), as
in a training step, 2.18 -> 1.84 and 1.16 -> 0.81 ms. Training steps against the pointwise
chapter (``benchmarks/compare_checkouts.py``, alternating bursts): the default model at batch 32
1.078x faster (in 38 of 40 pairs), at batch 128 0.993x (inside the noise: 7 of 20), resnext29_32x4d
at batch 64 1.050x (10 of 10).

At stride > 1 a task packs the pixels the kernel reads, one image at a time, into a buffer of
its own (:func:`_gather`), and puts the input gradient back the same way (:func:`_scatter`),
where the pointwise chapter copies the whole batch first and after, on one thread. Measured on
2 cores, the default model's training step at batch 32 against copying in NumPy before and after
the tasks (paired bursts): 1.015 and 1.030 (faster in 27 and 24 of 40 pairs).

When it is used: ``choose`` gives it every 1x1 convolution without padding, wherever NumPy's
BLAS can be called from Numba (:func:`minigrad.kernels.blas.gemm` finds it: the OpenBLAS of
NumPy's wheels); elsewhere ``choose`` gives them to the pointwise chapter. Arrays of a dtype BLAS
has no product for (float16) go to the pointwise chapter here too.
"""

import numpy as np
from numba import njit, prange

from minigrad.kernels import blas
from minigrad.kernels.blas import NO_TRANSPOSE, ROW_MAJOR, TRANSPOSE
from minigrad.kernels.conv import pointwise
from minigrad.kernels.conv.batches import gradients_on_batch_slices, on_batch_slices, summed_over_batch_slices
from minigrad.kernels.threads import get_num_threads, use_numba_threads

__all__ = ["forward", "grad_input", "grad_weight", "gradients", "cannot_compute"]


def cannot_compute(geom):
    """Why this algorithm cannot compute ``geom`` (a sentence), or None if it can."""
    reason = pointwise.cannot_compute(geom)
    if reason is None and blas.gemm(np.float64) is None:
        return "it needs NumPy's BLAS to be an OpenBLAS that Numba code can call (minigrad.kernels.blas), and it is not"
    return reason


@njit(cache=True, inline="always")
def _gather(image, stride_h, stride_w, pixels):
    """``pixels[c, i, j] = image[c, i*stride_h, j*stride_w]``: the input pixels a strided 1x1
    kernel reads, of one image, packed into (C, oh, ow) for gemm."""
    for c in range(pixels.shape[0]):
        for i in range(pixels.shape[1]):
            row, packed = image[c, i * stride_h], pixels[c, i]
            for j in range(pixels.shape[2]):
                packed[j] = row[j * stride_w]


@njit(cache=True, inline="always")
def _scatter(grad_pixels, stride_h, stride_w, grad_image):
    """The inverse of :func:`_gather` for gradients: ``grad_image`` = 0, but at the pixels read,
    ``grad_image[c, i*stride_h, j*stride_w] = grad_pixels[c, i, j]``."""
    grad_image[...] = 0
    for c in range(grad_pixels.shape[0]):
        for i in range(grad_pixels.shape[1]):
            row, packed = grad_image[c, i * stride_h], grad_pixels[c, i]
            for j in range(grad_pixels.shape[2]):
                row[j * stride_w] = packed[j]


@njit(cache=True, parallel=True)
def _forward_tasks(gemm, x, weight, out, groups, stride_h, stride_w, tasks):
    """``out[n, filters] = weight[filters] @ x[n, channels]`` (the pixels a stride keeps) for every
    image and group, the images cut into ``tasks`` consecutive slices, one ``prange`` task each.
    x (N, C, H, W), weight (O, Cg), out (N, O, oh, ow), all C-contiguous."""
    batch, channels = x.shape[0], x.shape[1]
    out_h, out_w = out.shape[2], out.shape[3]
    positions, Cg, Og = out_h * out_w, channels // groups, weight.shape[0] // groups
    strided = stride_h != 1 or stride_w != 1
    one, zero = x.dtype.type(1), x.dtype.type(0)
    per_task = -(-batch // tasks)
    for task in prange(tasks):
        # At stride > 1 each task packs its images' pixels into a buffer of its own, one image at a time.
        pixels = np.empty((channels, out_h, out_w) if strided else (0, 0, 0), dtype=x.dtype)
        for n in range(task * per_task, min((task + 1) * per_task, batch)):
            image = x[n]  # (C, H, W): at stride 1, already (C, P) in memory
            if strided:
                _gather(image, stride_h, stride_w, pixels)
                image = pixels
            for g in range(groups):
                c, o = g * Cg, g * Og
                # (Og, P) = (Og, Cg) @ (Cg, P)
                gemm(ROW_MAJOR, NO_TRANSPOSE, NO_TRANSPOSE, Og, positions, Cg,
                     one, weight[o : o + Og].ctypes, Cg, image[c : c + Cg].ctypes, positions,
                     zero, out[n, o : o + Og].ctypes, positions)


@njit(cache=True, parallel=True)
def _gradient_tasks(gemm, x, grad_out, weight, grad_x, grad_weight_parts, groups, Cg, stride_h, stride_w, tasks,
                    input_grad, weight_grad):
    """``grad_x[n, channels] = weight[filters]^T @ grad_out[n, filters]`` (if ``input_grad``; at
    stride > 1 put back where the pixels came from, zeros elsewhere) and ``grad_weight_parts[task,
    filters] += grad_out[n, filters] @ x[n, channels]^T`` (if ``weight_grad``), for the images of
    each of ``tasks`` tasks. x and grad_x (N, C, H, W), grad_out (N, O, oh, ow), weight (O, Cg);
    an array not needed may be empty: the loops do not touch it."""
    batch, filters, out_h, out_w = grad_out.shape
    positions, channels, Og = out_h * out_w, Cg * groups, filters // groups
    strided = stride_h != 1 or stride_w != 1
    one, zero = grad_out.dtype.type(1), grad_out.dtype.type(0)
    per_task = -(-batch // tasks)
    for task in prange(tasks):
        packed = (channels, out_h, out_w) if strided else (0, 0, 0)
        pixels, grad_pixels = np.empty(packed, dtype=grad_out.dtype), np.empty(packed, dtype=grad_out.dtype)
        for n in range(task * per_task, min((task + 1) * per_task, batch)):
            image = x[n] if weight_grad and not strided else pixels  # what the weight gradient reads
            grad_image = grad_x[n] if input_grad and not strided else grad_pixels  # where the input gradient goes
            if strided and weight_grad:
                _gather(x[n], stride_h, stride_w, pixels)
            for g in range(groups):
                c, o = g * Cg, g * Og
                if input_grad:
                    # (Cg, P) = (Og, Cg)^T @ (Og, P)
                    gemm(ROW_MAJOR, TRANSPOSE, NO_TRANSPOSE, Cg, positions, Og,
                         one, weight[o : o + Og].ctypes, Cg, grad_out[n, o : o + Og].ctypes, positions,
                         zero, grad_image[c : c + Cg].ctypes, positions)
                if weight_grad:
                    # (Og, Cg) += (Og, P) @ (Cg, P)^T: beta = 1 adds to the task's sum
                    gemm(ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE, Og, Cg, positions,
                         one, grad_out[n, o : o + Og].ctypes, positions, image[c : c + Cg].ctypes, positions,
                         one, grad_weight_parts[task, o : o + Og].ctypes, Cg)
            if input_grad and strided:
                _scatter(grad_pixels, stride_h, stride_w, grad_x[n])


def _tasks(geom):
    """One task per thread, fewer when the batch is smaller (at least one)."""
    return max(1, min(get_num_threads(), geom.batch))


def _matrix(weight, geom):
    """``(O, Cg, 1, 1) -> (O, Cg)``, C-contiguous."""
    return np.ascontiguousarray(weight.reshape(geom.out_channels, geom.in_channels_per_group))


def forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, 1, 1) -> (N, O, oh, ow)``."""
    gemm = blas.gemm(x.dtype)
    if gemm is None:
        return on_batch_slices(pointwise.forward, x, weight, geom, geom.output_shape)
    use_numba_threads()
    out = np.empty(geom.output_shape, dtype=x.dtype)
    _forward_tasks(gemm, np.ascontiguousarray(x), _matrix(weight, geom), out, geom.groups, geom.stride_h, geom.stride_w,
                   _tasks(geom))
    return out


def grad_input(grad_out, weight, geom):
    """``(N, O, oh, ow), (O, Cg, 1, 1) -> (N, C, H, W)``."""
    return gradients(None, grad_out, weight, geom, weight_grad=False)[0]


def grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, 1, 1)``."""
    return gradients(x, grad_out, None, geom, input_grad=False)[1]


def gradients(x, grad_out, weight, geom, input_grad=True, weight_grad=True):
    """``(dL/dx (N, C, H, W), dL/dw (O, Cg, 1, 1))``, each ``None`` when not asked for. ``x`` is
    needed only for dL/dw, ``weight`` only for dL/dx."""
    dtype = grad_out.dtype
    gemm = blas.gemm(dtype)
    if gemm is None:
        return _on_python_threads(x, grad_out, weight, geom, input_grad, weight_grad)
    use_numba_threads()
    tasks, nothing = _tasks(geom), np.empty((0, 0, 0, 0), dtype=dtype)
    grad_x = np.empty(geom.input_shape, dtype=dtype) if input_grad else nothing  # every element written
    parts = np.zeros((tasks, geom.out_channels, geom.in_channels_per_group), dtype=dtype)  # sums (beta = 1)
    _gradient_tasks(gemm, np.ascontiguousarray(x) if weight_grad else nothing, np.ascontiguousarray(grad_out),
                    _matrix(weight, geom) if input_grad else np.empty((0, 0), dtype=dtype), grad_x, parts,
                    geom.groups, geom.in_channels_per_group, geom.stride_h, geom.stride_w, tasks, input_grad, weight_grad)
    return (grad_x if input_grad else None), (parts.sum(axis=0).reshape(geom.weight_shape) if weight_grad else None)


def _on_python_threads(x, grad_out, weight, geom, input_grad, weight_grad):
    """The pointwise chapter's gradients, one slice of the batch per Python thread."""
    if input_grad and weight_grad:
        return gradients_on_batch_slices(pointwise.gradients, x, grad_out, weight, geom)
    return (on_batch_slices(pointwise.grad_input, grad_out, weight, geom, geom.input_shape) if input_grad else None,
            summed_over_batch_slices(pointwise.grad_weight, x, grad_out, geom) if weight_grad else None)
