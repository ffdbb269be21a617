"""Evaluation-mode batch normalisation on the CPU: the affine map, the residual and the clamp in one pass (Numba).

In evaluation BatchNorm uses the running statistics, fixed numbers per channel, so it is an
affine map of each channel (legend as in :mod:`minigrad.kernels.batchnorm_cpu`)::

    scale = gamma / sqrt(running_var + eps)        shift = beta - scale * running_mean
    y     = x * scale + shift                      (then + residual, then max(., 0) where fused)

Written with elementwise ops, ``x * scale``, ``+ shift``, ``+ residual`` and ``relu`` are four
passes over the activation, each writing a fresh array of its size; this kernel reads x (and the
residual) once and writes y once. It rounds in the same order as those ops (``x * scale`` rounded
to x's dtype, then ``+ shift``, then ``+ residual``), so its numbers equal theirs exactly.
Measured on 2 cores, evaluation of the default model at batch 256 (``benchmarks/train_step.py
--eval``): see ``ARCHITECTURE.md`` (issue 22).
"""

import numpy as np
from numba import njit, prange

__all__ = ["affine_forward"]


@njit(cache=True, parallel=True)
def affine_forward(x, scale, shift, relu=False, residual=None):
    """``(N, C, S)`` x, ``(C,)`` scale and shift in x's dtype -> ``y = x * scale + shift`` (N, C, S);
    a ``residual`` (N, C, S) is added, then ``relu=True`` clamps at 0 (NaN passes, as ReLU's)."""
    batch, channels, spatial = x.shape
    y = np.empty_like(x)
    for task in prange(batch * channels):  # one (image, channel) row per task: S contiguous values
        n, c = task // channels, task % channels
        channel_scale, channel_shift = scale[c], shift[c]
        for s in range(spatial):
            value = x[n, c, s] * channel_scale + channel_shift
            if residual is not None:
                value += residual[n, c, s]
            y[n, c, s] = 0 if relu and value < 0 else value
    return y
