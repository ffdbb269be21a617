"""The table of convolution geometries the kernel tests share (tests/kernels/), and their arrays."""

import numpy as np

from minigrad.kernels.conv_geometry import ConvGeometry

# (N, C, H, W, O, groups, (kh, kw), stride, padding, dilation)
# One table for every kernel: the reference and each CPU algorithm are checked on the same geometries.
CASES = [
    (2, 4, 5, 6, 6, 1, (3, 3), 1, 1, 1),  # dense
    (2, 4, 5, 6, 6, 2, (3, 3), 1, 1, 1),  # two groups
    (2, 4, 6, 5, 4, 4, (3, 3), 1, 1, 1),  # depthwise
    (1, 4, 7, 6, 8, 4, (3, 3), 2, 1, 1),  # depthwise x2 filters, stride 2, batch 1
    (2, 6, 7, 8, 4, 2, (2, 3), (2, 1), (0, 2), 1),  # non-square kernel, stride, padding
    (2, 4, 7, 7, 4, 2, (3, 3), 1, 2, 2),  # dilation 2, padding 2
    (1, 3, 5, 4, 5, 1, (1, 1), 1, 0, 1),  # 1x1
    (2, 4, 5, 5, 4, 2, (1, 1), 2, 1, 1),  # 1x1 with stride and padding
    (2, 2, 6, 9, 4, 2, (3, 2), (1, 2), (2, 0), (2, 1)),  # everything non-square
    (1, 8, 4, 4, 8, 4, (3, 3), 2, 2, 2),  # stride 2 with dilation 2
    (3, 2, 3, 3, 2, 1, (3, 3), 1, 0, 1),  # 1x1 output
    (2, 4, 7, 6, 6, 2, (1, 1), 2, 0, 1),  # 1x1 without padding, stride 2, two groups
    (2, 6, 5, 7, 4, 2, (1, 1), (1, 3), 0, 2),  # 1x1 without padding, non-square stride, dilation
    (2, 4, 5, 6, 10, 2, (1, 3), 1, (1, 3), 1),  # padding past the kernel's reach (output borders see only zeros)
    (1, 10, 6, 6, 10, 2, (5, 5), 1, 2, 1),  # 5x5, 5 filters per group (not a multiple of four)
    (1, 4, 6, 7, 4, 2, (3, 3), 2, 1, 1),  # stride 2, padding 1, odd width (a row's pixels split unevenly)
]


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
