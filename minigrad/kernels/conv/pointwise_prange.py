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
pointwise chapter's products, in the same BLAS, so the results are the same to the bit.

Measured on 2 cores (AMD EPYC, OpenBLAS's Haswell kernel), batch 32, float32, forward alone
(medians of 60, this and the pointwise chapter alternating): 64 -> 64 channels at 32x32 2.03 ->
1.84 ms, 128 -> 256 channels at 8x8 1.00 -> 0.81 ms; right after a BatchNorm (a Numba loop), as
in a training step, 2.18 -> 1.84 and 1.16 -> 0.81 ms. Training steps against the pointwise
chapter (``benchmarks/compare_checkouts.py``, alternating bursts): the default model at batch 32
1.078x faster (in 38 of 40 pairs), at batch 128 0.993x (inside the noise: 7 of 20), resnext29_32x4d
at batch 64 1.050x (10 of 10).

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


@njit(cache=True, parallel=True)
def _forward_tasks(gemm, pixels, weight, out, groups, tasks):
    """``out[n, filters] = weight[filters] @ pixels[n, channels]`` for every image and group, the
    images cut into ``tasks`` consecutive slices, one ``prange`` task each. pixels (N, C, P),
    weight (O, Cg), out (N, O, P), all C-contiguous."""
    batch, channels, positions = pixels.shape
    Cg, Og = channels // groups, weight.shape[0] // groups
    one, zero = pixels.dtype.type(1), pixels.dtype.type(0)
    per_task = -(-batch // tasks)
    for task in prange(tasks):
        for n in range(task * per_task, min((task + 1) * per_task, batch)):
            for g in range(groups):
                c, o = g * Cg, g * Og
                # (Og, P) = (Og, Cg) @ (Cg, P)
                gemm(ROW_MAJOR, NO_TRANSPOSE, NO_TRANSPOSE, Og, positions, Cg,
                     one, weight[o : o + Og].ctypes, Cg, pixels[n, c : c + Cg].ctypes, positions,
                     zero, out[n, o : o + Og].ctypes, positions)


@njit(cache=True, parallel=True)
def _gradient_tasks(gemm, pixels, grad_out, weight, grad_pixels, grad_weight_parts, groups, Cg, tasks, input_grad, weight_grad):
    """``grad_pixels[n, channels] = weight[filters]^T @ grad_out[n, filters]`` (if ``input_grad``)
    and ``grad_weight_parts[task, filters] += grad_out[n, filters] @ pixels[n, channels]^T`` (if
    ``weight_grad``), for the images of each of ``tasks`` tasks. An array not needed may be
    empty: the loops do not touch it."""
    batch, filters, positions = grad_out.shape
    Og = filters // groups
    one, zero = grad_out.dtype.type(1), grad_out.dtype.type(0)
    per_task = -(-batch // tasks)
    for task in prange(tasks):
        for n in range(task * per_task, min((task + 1) * per_task, batch)):
            for g in range(groups):
                c, o = g * Cg, g * Og
                if input_grad:
                    # (Cg, P) = (Og, Cg)^T @ (Og, P)
                    gemm(ROW_MAJOR, TRANSPOSE, NO_TRANSPOSE, Cg, positions, Og,
                         one, weight[o : o + Og].ctypes, Cg, grad_out[n, o : o + Og].ctypes, positions,
                         zero, grad_pixels[n, c : c + Cg].ctypes, positions)
                if weight_grad:
                    # (Og, Cg) += (Og, P) @ (Cg, P)^T: beta = 1 adds to the task's sum
                    gemm(ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE, Og, Cg, positions,
                         one, grad_out[n, o : o + Og].ctypes, positions, pixels[n, c : c + Cg].ctypes, positions,
                         one, grad_weight_parts[task, o : o + Og].ctypes, Cg)


def _tasks(geom):
    """One task per thread, fewer when the batch is smaller (at least one)."""
    return max(1, min(get_num_threads(), geom.batch))


def _matrix(weight, geom):
    """``(O, Cg, 1, 1) -> (O, Cg)``, C-contiguous."""
    return np.ascontiguousarray(weight.reshape(geom.out_channels, geom.in_channels_per_group))


def _nothing(dtype):
    return np.empty((0, 0, 0), dtype=dtype)


def forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, 1, 1) -> (N, O, oh, ow)``."""
    gemm = blas.gemm(x.dtype)
    if gemm is None:
        return on_batch_slices(pointwise.forward, x, weight, geom, geom.output_shape)
    use_numba_threads()
    out = np.empty(geom.output_shape, dtype=x.dtype)
    if out.size:
        pixels = np.ascontiguousarray(pointwise.input_pixels(x, geom))  # (N, C, P)
        out_pixels = out.reshape(geom.batch, geom.out_channels, geom.out_h * geom.out_w)
        _forward_tasks(gemm, pixels, _matrix(weight, geom), out_pixels, geom.groups, _tasks(geom))
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
    positions = geom.out_h * geom.out_w
    tasks = _tasks(geom)
    computes = (input_grad or weight_grad) and grad_out.size > 0
    # gemm writes every element of grad_pixels (beta = 0); the weight gradients are sums (beta = 1)
    grad_pixels_shape = (geom.batch, geom.in_channels, positions)
    grad_pixels = (np.empty if computes else np.zeros)(grad_pixels_shape, dtype=dtype) if input_grad else _nothing(dtype)
    parts = np.zeros((tasks, geom.out_channels, geom.in_channels_per_group), dtype=dtype) if weight_grad else _nothing(dtype)
    if computes:
        pixels = np.ascontiguousarray(pointwise.input_pixels(x, geom)) if weight_grad else _nothing(dtype)
        matrix = _matrix(weight, geom) if input_grad else np.empty((0, 0), dtype=dtype)
        grad_out_pixels = np.ascontiguousarray(grad_out).reshape(geom.batch, geom.out_channels, positions)
        _gradient_tasks(gemm, pixels, grad_out_pixels, matrix, grad_pixels, parts, geom.groups,
                        geom.in_channels_per_group, tasks, input_grad, weight_grad)
    grad_x = grad_w = None
    if input_grad and (geom.stride_h, geom.stride_w) == (1, 1):
        grad_x = grad_pixels.reshape(geom.input_shape)
    elif input_grad:
        grad_x = pointwise.scatter_to_input(grad_pixels, geom, np.empty(geom.input_shape, dtype=dtype))
    if weight_grad:
        grad_w = parts.sum(axis=0).reshape(geom.weight_shape)
    return grad_x, grad_w


def _on_python_threads(x, grad_out, weight, geom, input_grad, weight_grad):
    """The pointwise chapter's gradients, one slice of the batch per Python thread."""
    if input_grad and weight_grad:
        return gradients_on_batch_slices(pointwise.gradients, x, grad_out, weight, geom)
    return (on_batch_slices(pointwise.grad_input, grad_out, weight, geom, geom.input_shape) if input_grad else None,
            summed_over_batch_slices(pointwise.grad_weight, x, grad_out, geom) if weight_grad else None)
