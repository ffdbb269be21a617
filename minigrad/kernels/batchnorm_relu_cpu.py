"""A fast chapter: BatchNorm followed by ReLU, in one kernel each way (Numba).

Read it after :mod:`minigrad.kernels.batchnorm_cpu` and :mod:`minigrad.kernels.relu_cpu`; the
legend and the formulas are theirs.  In a ResNeXt block two of every three BatchNorms feed a
ReLU, and the pair makes separate passes over an activation tensor that the caches barely hold
(at batch 32 a 64-channel 32x32 activation is 8 MB).  Fused, the ReLU costs nothing extra::

    forward   z = BN(x),  y = max(z, 0)          one write of y; z is never stored
    backward  dz = dy * [y > 0]                  the mask recomputed from x: [BN(x) > 0]
              dx = gamma * inv_std / M * (M * dz - sum dz - xhat * sum(dz * xhat))

Separately, ReLU's backward reads dy and y and writes dz, and BatchNorm's backward reads dz
(twice) and x (twice) and writes dx; here dz lives only in a register. And y is not read at all:
x is read anyway, and BN(x) > 0 exactly where y > 0, when computed by the forward's own function
(``batchnorm_cpu.normalised``): a multiply-add per value instead of a third array per pass.  The forward is
``batchnorm_cpu.batch_norm_forward(..., relu=True)``: the clamp sits in its last pass.

The same pair of kernels ends every ResNeXt block, where the shortcut r joins before the ReLU::

    forward   y = max(BN(x) + r, 0)              BN, the sum and the clamp: one write of y
    backward  dr = dz = dy * [y > 0]             written once, as the shortcut's gradient

Unfused, the block's end writes BN(x), then BN(x) + r, then the ReLU's output, and in backward
the ReLU's dz; fused, it writes y and dr. dr is written in a loop of its own over a 1-D slice:
stored through a 3-D index inside the loop of sums, it kept LLVM from vectorising that loop.
Measured on 2 cores, batch 32, float32 (medians of 41, before and after alternating): the
merge's backward at 128ch 16x16 1.55-1.65 -> 0.86 ms, 256ch 8x8 1.08 -> 0.52 ms, 64ch 32x32
2.6-3.0 -> 2.0-2.3 ms.

The elementwise arithmetic runs in the input's dtype (float32 in training: twice the SIMD
lanes of float64); the two per-channel sums are partial sums in that dtype, added up in float64
(as :mod:`minigrad.kernels.batchnorm_cpu`'s forward does: its docstring has the measurement).
"""

import numpy as np
from numba import njit, prange

from minigrad.kernels.batchnorm_cpu import SUM_BLOCK, affine_of_channel, normalised

__all__ = ["batch_norm_relu_backward"]


@njit(cache=True, inline="always")
def _kept(y_value, x_value, mean_high, mean_low, scale, shift, from_x):
    """Whether the ReLU let this value through (y > 0): read from y, or, when ``from_x``,
    recomputed from x as the forward computed BN(x) before clamping it (the same function, so
    the same bits: BN(x) > 0 exactly where y > 0)."""
    if from_x:
        return normalised(x_value, mean_high, mean_low, scale, shift) > 0
    return y_value > 0


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def batch_norm_relu_backward(grad_out, y, x, mean, inv_std, weight, bias, grad_residual=None):
    """(N, C, S) dy, the fused output y and the input x, (C,) statistics and parameters ->
    (dx (N, C, S), dgamma (C,), dbeta (C,)) in dy's dtype, for ``y = max(BN(x), 0)``.

    For ``y = max(BN(x) + r, 0)`` (the block's merge) pass an (N, C, S) array ``grad_residual``:
    it receives dr = dz, written in the first pass, which reads dz anyway. Without a residual the
    mask [y > 0] is recomputed from x (BN(x) > 0, the forward's own arithmetic), and y is not
    read: each pass reads two arrays instead of three. Measured on 2 cores, batch 32, float32
    (alternating, medians of 30): 64ch 32x32 1.43 -> 1.16 ms, 32ch 32x32 0.42 -> 0.33 ms,
    128ch 16x16 0.49 -> 0.39 ms; the default model's training step 1.045, 1.003 and 1.031 in three
    runs of 40 paired bursts (faster in 78 of 120 pairs)."""
    batch, channels, spatial = grad_out.shape
    count = batch * spatial
    dtype = grad_out.dtype.type
    from_x = grad_residual is None  # with a residual, BN(x) > 0 is not the mask: read it from y
    grad_input = np.empty_like(grad_out)
    grad_weight = np.empty(channels, dtype=grad_out.dtype)
    grad_bias = np.empty(channels, dtype=grad_out.dtype)
    for c in prange(channels):
        channel_mean, channel_inv_std = dtype(mean[c]), dtype(inv_std[c])
        mean_high, mean_low, scale, shift = affine_of_channel(mean[c], inv_std[c], weight[c], bias[c], dtype)
        sum_dz = np.float64(0)  # float64 totals of partial sums in dy's dtype, as batchnorm_cpu's forward sums
        sum_dz_xhat = np.float64(0)
        for n in range(batch):
            for start in range(0, spatial, SUM_BLOCK):
                # 1-D contiguous slices: LLVM vectorises the loop over them
                stop = min(start + SUM_BLOCK, spatial)
                dy_row, y_row, x_row = grad_out[n, c, start:stop], y[n, c, start:stop], x[n, c, start:stop]
                if grad_residual is not None:  # dr = dz, in a loop of its own (the module's docstring says why)
                    residual_row = grad_residual[n, c, start:stop]
                    for s in range(stop - start):
                        residual_row[s] = dy_row[s] if y_row[s] > 0 else dtype(0)
                partial_dz, partial_dz_xhat = dtype(0), dtype(0)
                for s in range(stop - start):
                    dz = dy_row[s] if _kept(y_row[s], x_row[s], mean_high, mean_low, scale, shift, from_x) else dtype(0)
                    partial_dz += dz
                    partial_dz_xhat += dz * ((x_row[s] - channel_mean) * channel_inv_std)
                sum_dz += partial_dz
                sum_dz_xhat += partial_dz_xhat
        mean_dz = dtype(sum_dz / count)
        mean_dz_xhat = dtype(sum_dz_xhat / count)
        for n in range(batch):
            dy_image, y_image, x_image, grad_image = grad_out[n, c], y[n, c], x[n, c], grad_input[n, c]
            for s in range(spatial):
                dz = dy_image[s] if _kept(y_image[s], x_image[s], mean_high, mean_low, scale, shift, from_x) else dtype(0)
                xhat = (x_image[s] - channel_mean) * channel_inv_std
                grad_image[s] = scale * (dz - mean_dz - xhat * mean_dz_xhat)
        grad_weight[c] = sum_dz_xhat
        grad_bias[c] = sum_dz
    return grad_input, grad_weight, grad_bias
