"""Convolution test cases as arrays, shared by the kernel tests (tests/kernels/)."""

import numpy as np

from minigrad.kernels.conv_geometry import ConvGeometry


def make_case(case, dtype=np.float64, seed=0):
    """``(x, weight, grad_out, geometry)`` of random values for ``case`` =
    ``(N, C, H, W, O, groups, (kh, kw), stride, padding, dilation)``."""
    batch, channels, height, width, out_channels, groups, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels, height, width)).astype(dtype)
    weight = rng.standard_normal((out_channels, channels // groups) + kernel).astype(dtype)
    geom = ConvGeometry.from_shapes(x.shape, weight.shape, stride, padding, dilation, groups)
    grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
    return x, weight, grad_out, geom
