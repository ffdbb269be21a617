"""Training-mode batch normalisation on the CPU, one parallel task per channel (Numba).

Legend: N batch, C channels, S = H*W spatial positions (1 for (N, C) inputs), M = N*S values
per channel.  Inputs arrive as (N, C, S) arrays; each channel's M values are normalised together::

    mean = (1/M) sum x        var = (1/M) sum (x - mean)^2        inv_std = 1 / sqrt(var + eps)
    xhat = (x - mean) * inv_std                                   y = (x - mean) * (gamma * inv_std) + beta

    dbeta  = sum dy           dgamma = sum dy * xhat
    dx     = gamma * inv_std / M * (M * dy - dbeta - xhat * dgamma)

Why a kernel: NumPy computes these with half a dozen full passes and temporaries over an
activation tensor that is several MB large; here a channel is read three times in forward (sum,
squared deviations, output) and twice in backward, with no temporaries, and its sums are
accumulated in float64 so float32 activations lose nothing to rounding.

The forward sums a channel in two levels: each run of at most ``SUM_BLOCK`` values of one image
(a slice of one row of the (N, C, S) array) in the input's dtype, then those partial sums in
float64. The inner loop then stays in float32 for float32 activations: 16 SIMD lanes and no
conversion per value, where a float64 running total takes 8 lanes and a conversion. Measured on
2 cores, the 12 BatchNorms of resnext11_4x8d_w1 at batch 32 (with the ReLU, one after another,
medians of 31): forward 3.30 -> 2.76 ms, the fused backward (which sums alike) 5.19 -> 4.60 ms.
The partial sums add up deviations from one of the channel's values, so they stay small even
when the mean is large; the float64 total keeps their rounding from growing with the batch.
"""

import numpy as np
from numba import njit, prange

SUM_BLOCK = 1024  # values summed in the input's dtype before joining the float64 total


@njit(cache=True, inline="always")
def affine_of_channel(channel_mean, channel_inv_std, gamma, beta, dtype):
    """``(mean_high, mean_low, scale, shift)`` of one channel in ``dtype`` (x's): the mean in two
    parts, mean_high = the mean rounded to x's dtype and mean_low the rounding's remainder (so that
    x - mean_high is exact for x near the mean and the remainder is not lost), scale = gamma * inv_std."""
    mean_high = dtype(channel_mean)
    return mean_high, dtype(channel_mean - mean_high), dtype(gamma * channel_inv_std), dtype(beta)


@njit(cache=True, inline="always")
def normalised(value, mean_high, mean_low, scale, shift):
    """``(value - mean) * (gamma * inv_std) + beta`` in value's dtype, from :func:`affine_of_channel`'s
    four numbers: the forward's output before any clamp. Not ``value * scale + (beta - mean *
    scale)``: with a large mean the two terms are large numbers that cancel, and float32 keeps only
    ~7 digits of each (mean 1e6, std 1: off by 0.09). The fused ReLU's backward recomputes its
    mask with this same function (:mod:`minigrad.kernels.batchnorm_relu_cpu`)."""
    return ((value - mean_high) - mean_low) * scale + shift


# fastmath "reassoc" lets LLVM reorder the per-channel sums into SIMD lanes (measured: 85 ms ->
# 30 ms for the forward of a 128x64x32x32 float32 batch); sums stay in float64, so the float64
# gradient and PyTorch-parity tests still hold to 1e-10.
@njit(cache=True, parallel=True, fastmath={"reassoc"})
def batch_norm_forward(x, weight, bias, eps, relu=False, residual=None):
    """(N, C, S) input -> (y, mean, var, inv_std): y in x's dtype, the statistics (C,) in float64.

    ``xhat`` is not stored: backward recomputes it from x, mean and inv_std (one write less here,
    and x is kept alive anyway as the layer's input).  ``var`` is the biased batch variance.
    ``relu=True`` writes ``max(y, 0)`` instead, in the same pass, and a ``residual`` (N, C, S) is
    added before that clamp: the fused kernels of :mod:`minigrad.kernels.batchnorm_relu_cpu`.
    """
    batch, channels, spatial = x.shape
    count = batch * spatial
    y = np.empty_like(x)
    mean = np.empty(channels, dtype=np.float64)
    var = np.empty(channels, dtype=np.float64)
    inv_std = np.empty(channels, dtype=np.float64)
    dtype = x.dtype.type
    for c in prange(channels):
        # Summed relative to one of the channel's values: the partial sums then add up deviations
        # of the size of the spread, not of the mean (values of 1e4 +- 1: off by 4e-4 otherwise).
        reference = x[0, c, 0]
        total = np.float64(0)  # not 0.0: run as plain Python, NumPy 2 would keep float32 + 0.0 in float32
        for n in range(batch):
            for start in range(0, spatial, SUM_BLOCK):
                values = x[n, c, start : start + SUM_BLOCK]  # 1-D and contiguous: LLVM vectorises the loop
                partial = dtype(0)
                for s in range(values.shape[0]):
                    partial += values[s] - reference
                total += partial
        channel_mean = reference + total / count
        # The mean subtracted in two parts, as affine_of_channel says.
        mean_high = dtype(channel_mean)
        mean_low = dtype(channel_mean - mean_high)
        squares = np.float64(0)
        for n in range(batch):
            for start in range(0, spatial, SUM_BLOCK):
                values = x[n, c, start : start + SUM_BLOCK]
                partial = dtype(0)
                for s in range(values.shape[0]):
                    centered = (values[s] - mean_high) - mean_low
                    partial += centered * centered
                squares += partial
        channel_var = squares / count
        channel_inv_std = 1.0 / np.sqrt(channel_var + eps)
        mean_high, mean_low, scale, shift = affine_of_channel(channel_mean, channel_inv_std, weight[c], bias[c], dtype)
        for n in range(batch):
            for s in range(spatial):
                value = normalised(x[n, c, s], mean_high, mean_low, scale, shift)
                if residual is not None:
                    value += residual[n, c, s]
                y[n, c, s] = 0 if relu and value < 0 else value
        mean[c], var[c], inv_std[c] = channel_mean, channel_var, channel_inv_std
    return y, mean, var, inv_std


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def batch_norm_backward(grad_out, x, mean, inv_std, weight):
    """(N, C, S) dy and x, (C,) statistics -> (dx (N, C, S), dgamma (C,), dbeta (C,)) in dy's dtype."""
    batch, channels, spatial = grad_out.shape
    count = batch * spatial
    grad_input = np.empty_like(grad_out)
    grad_weight = np.empty(channels, dtype=grad_out.dtype)
    grad_bias = np.empty(channels, dtype=grad_out.dtype)
    for c in prange(channels):
        channel_mean, channel_inv_std = mean[c], inv_std[c]
        # BEGIN SOLUTION t07_batchnorm_backward
        sum_dy = 0.0
        sum_dy_xhat = 0.0
        for n in range(batch):
            for s in range(spatial):
                xhat = (x[n, c, s] - channel_mean) * channel_inv_std
                sum_dy += grad_out[n, c, s]
                sum_dy_xhat += grad_out[n, c, s] * xhat
        scale = weight[c] * channel_inv_std / count
        for n in range(batch):
            for s in range(spatial):
                xhat = (x[n, c, s] - channel_mean) * channel_inv_std
                grad_input[n, c, s] = scale * (count * grad_out[n, c, s] - sum_dy - xhat * sum_dy_xhat)
        grad_weight[c] = sum_dy_xhat
        grad_bias[c] = sum_dy
        # END SOLUTION
    return grad_input, grad_weight, grad_bias
