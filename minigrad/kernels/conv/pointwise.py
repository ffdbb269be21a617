"""Chapter 2: pointwise convolution. A 1x1 kernel is already a matrix product.

A 1x1 kernel without padding has no taps to unfold: each output pixel mixes the channels of one
input pixel (every stride-th one). Viewing an image as a (C, P) matrix of its P = oh*ow pixels,
a group is one matrix product per image, which ``np.matmul`` broadcasts over the batch without a
copy (legend in :mod:`minigrad.kernels.conv_geometry`)::

    forward   (N, Og, P) = W_g (Og, Cg)    @ x_g (N, Cg, P)
    grad_in   (N, Cg, P) = W_g^T (Cg, Og)  @ dY_g (N, Og, P)
    grad_w    (Og, Cg)   = sum_n dY_g[n] (Og, P) @ x_g[n]^T (P, Cg)

grad_w adds up one product per image: ``np.matmul`` over the batch would first build an
(N, Og, Cg) stack (512 -> 1024 channels at batch 64: 134 MB) only to sum it.

Both gradients are computed together, image by image (:func:`gradients`; ``grad_input`` and
``grad_weight`` are that loop asked for one of them): dY_g[n] is read by the second product while
it is still in the cache from the first, and the backward of a layer is one task per thread, not
two. Measured on 2 cores, the default model's training step at batch 32 against computing all of
grad_in, then all of grad_w (two processes, alternating bursts): 1.046 and 1.048 in two runs
(faster in 27 and 26 of 40 pairs). Handing each thread's slice block after block of images to
``grad_input`` and ``grad_weight`` instead was 5% slower than this loop (the Python work per
block, in two threads that share one interpreter lock).

When it wins: ResNeXt's conv_reduce, conv_expand and projection shortcuts are all 1x1. Measured
at batch 128 against im2col + matmul (which copies to (C, N*P) and back): 64 -> 64 channels at
32x32, forward / grad input / grad weight 14 / 14 / 10 ms instead of 29 / 34 / 25 ms.
"""

import numpy as np

from minigrad.kernels.conv.batches import result_array

__all__ = ["forward", "grad_input", "grad_weight", "gradients", "cannot_compute"]


def cannot_compute(geom):
    """Why this algorithm cannot compute ``geom`` (a sentence), or None if it can."""
    if (geom.kernel_h, geom.kernel_w) != (1, 1):
        return f"it needs a 1x1 kernel, and this one is {geom.kernel_h}x{geom.kernel_w}"
    if (geom.pad_h, geom.pad_w) != (0, 0):
        return f"it needs padding 0, and this convolution has padding ({geom.pad_h}, {geom.pad_w})"
    return None


def _pixels(x, geom):
    """``(N, C, H, W) -> (N, C, oh*ow)``: the input pixels a 1x1 kernel reads (every stride-th one)."""
    if geom.stride_h == geom.stride_w == 1:
        return x.reshape(geom.batch, geom.in_channels, geom.out_h * geom.out_w)
    strided = np.ascontiguousarray(x[:, :, :: geom.stride_h, :: geom.stride_w])  # (N, C, oh, ow)
    return strided.reshape(geom.batch, geom.in_channels, geom.out_h * geom.out_w)


def forward(x, weight, geom, out=None):
    """``(N, C, H, W), (O, Cg, 1, 1) -> (N, O, oh, ow)``, written into ``out`` when given."""
    pixels = _pixels(x, geom)  # (N, C, P)
    out = result_array(out, geom.output_shape, x.dtype).reshape(geom.batch, geom.out_channels, geom.out_h * geom.out_w)
    # BEGIN SOLUTION t11_pointwise_conv
    for _, channels, filters in geom.group_slices():
        # (N, Og, P) = (Og, Cg) @ (N, Cg, P)
        np.matmul(weight[filters, :, 0, 0], pixels[:, channels], out=out[:, filters])
    # END SOLUTION
    return out.reshape(geom.output_shape)


def grad_input(grad_out, weight, geom, out=None):
    """``(N, O, oh, ow), (O, Cg, 1, 1) -> (N, C, H, W)``, written into ``out`` when given."""
    return gradients(None, grad_out, weight, geom, out, weight_grad=False)[0]


def grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, 1, 1)``."""
    return gradients(x, grad_out, None, geom, input_grad=False)[1]


def gradients(x, grad_out, weight, geom, out=None, input_grad=True, weight_grad=True):
    """``(dL/dx (N, C, H, W), dL/dw (O, Cg, 1, 1))``, each ``None`` when not asked for; dL/dx
    written into ``out`` when given. ``x`` is needed only for dL/dw, ``weight`` only for dL/dx."""
    strided = geom.stride_h != 1 or geom.stride_w != 1
    grad_out_pixels = grad_out.reshape(geom.batch, geom.out_channels, -1)  # (N, O, P)
    grad_x = grad_pixels = pixels = grad_w = None
    if input_grad:
        grad_x = result_array(out, geom.input_shape, grad_out.dtype)
        grad_pixels_shape = (geom.batch, geom.in_channels, geom.out_h * geom.out_w)
        grad_pixels = np.empty(grad_pixels_shape, dtype=grad_out.dtype) if strided else grad_x.reshape(grad_pixels_shape)
    if weight_grad:
        pixels = _pixels(x, geom)  # (N, C, P)
        grad_w = np.zeros(geom.weight_shape, dtype=x.dtype)
    # BEGIN SOLUTION t11_pointwise_conv
    for _, channels, filters in geom.group_slices():
        for n in range(geom.batch):
            grad_y = grad_out_pixels[n, filters]  # (Og, P): read by both products, the second time from the cache
            if input_grad:
                # (Cg, P) = (Og, Cg)^T @ (Og, P)
                np.matmul(weight[filters, :, 0, 0].T, grad_y, out=grad_pixels[n, channels])
            if weight_grad:
                # (Og, Cg) += (Og, P) @ (P, Cg); one image at a time, never an (N, Og, Cg) stack
                grad_w[filters, :, 0, 0] += grad_y @ pixels[n, channels].T
    # END SOLUTION
    if input_grad and strided:
        grad_x[...] = 0  # pixels a stride skips get no gradient
        grad_x[:, :, :: geom.stride_h, :: geom.stride_w] = grad_pixels.reshape(geom.batch, geom.in_channels, geom.out_h, geom.out_w)
    return grad_x, grad_w
