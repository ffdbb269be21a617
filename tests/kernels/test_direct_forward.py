"""Classroom task t10: the direct loops' forward (minigrad/kernels/conv/direct.py), forced with
``conv_algorithm("direct")``, against hand-worked numbers and the NumPy reference.

Only the forward is graded: the direct gradients are given (and at stride 1 the input gradient
runs the forward on flipped filters, so tests/kernels/test_conv.py checks them on every algorithm).
"""

import numpy as np
import pytest

from minigrad.kernels import conv, reference
from minigrad.kernels.conv.selection import conv_algorithm
from minigrad.kernels.conv_geometry import ConvGeometry

pytestmark = [pytest.mark.kernels, pytest.mark.t10_direct_conv_forward]

# (N, C, H, W), (O, Cg, kh, kw), stride, padding, dilation, groups
GEOMETRIES = {
    "resnext_3x3": ((3, 16, 8, 8), (16, 4, 3, 3), 1, 1, 1, 4),
    "stride2": ((2, 8, 9, 9), (8, 2, 3, 3), 2, 1, 1, 4),
    "dense_no_padding": ((2, 3, 6, 7), (5, 3, 3, 3), 1, 0, 1, 1),
    "depthwise_dilated": ((2, 6, 9, 8), (6, 1, 3, 3), 1, 2, 2, 6),
    # 1024 // (9*9) = 12 images fit in a task (shared padding, phases.py): 43 images make 4 blocks of 11, 11, 11 and 10.
    "several_image_blocks": ((43, 4, 8, 8), (6, 2, 3, 3), 1, 1, 1, 2),
}


def direct_forward(x, weight, geom):
    with conv_algorithm("direct"):
        return conv.conv2d_forward(x, weight, geom)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_forward_matches_the_reference(name, dtype):
    x_shape, w_shape, stride, padding, dilation, groups = GEOMETRIES[name]
    geom = ConvGeometry.from_shapes(x_shape, w_shape, stride, padding, dilation, groups)
    rng = np.random.default_rng(len(name))
    x, weight = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    out = direct_forward(x, weight, geom)
    expected = reference.conv2d_forward(x.astype(np.float64), weight.astype(np.float64), geom)
    assert out.dtype == dtype and out.shape == geom.output_shape
    tolerance = (1e-12 if dtype == np.float64 else 1e-5) * np.abs(expected).max()
    np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance)


def test_forward_by_hand():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    weight = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    # top-left output: 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on across the four 2x2 windows.
    out = direct_forward(x, weight, ConvGeometry.from_shapes(x.shape, weight.shape))
    np.testing.assert_array_equal(out, np.array([[37.0, 47.0], [67.0, 77.0]]).reshape(1, 1, 2, 2))


def test_each_group_sees_only_its_own_channels():
    x = np.zeros((2, 4, 5, 5))
    x[:, 2:] = 1.0  # only group 1's input channels are non-zero
    weight = np.ones((6, 2, 3, 3))
    out = direct_forward(x, weight, ConvGeometry.from_shapes(x.shape, weight.shape, padding=1, groups=2))
    assert np.all(out[:, :3] == 0.0)  # group 0's filters read channels 0, 1 only
    assert out[0, 3, 2, 2] == 18.0 and out[0, 5, 0, 0] == 8.0  # 2 channels x 9 taps; a corner sees 2 x 4

