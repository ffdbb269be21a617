"""The Numba ``im2col``/``col2im`` against hand-worked numbers and the NumPy reference."""

import numpy as np
import pytest

from minigrad.kernels import im2col, reference
from minigrad.kernels.conv_geometry import ConvGeometry

pytestmark = pytest.mark.kernels
# Graded tests of classroom task t04; the shape checks below run before the loops, so they are not.
T04 = pytest.mark.t04_im2col

# (N, C, H, W, O, groups, (kh, kw), stride, padding, dilation)
CASES = [
    (2, 4, 5, 6, 6, 1, (3, 3), 1, 1, 1),  # dense
    (2, 4, 5, 6, 6, 2, (3, 3), 1, 1, 1),  # two groups
    (1, 4, 7, 6, 8, 4, (3, 3), 2, 1, 1),  # depthwise, stride 2, batch 1
    (2, 6, 7, 8, 4, 2, (2, 3), (2, 1), (0, 2), 1),  # non-square kernel, stride, padding
    (2, 4, 7, 7, 4, 2, (3, 3), 1, 2, 2),  # dilation 2, padding 2
    (2, 4, 5, 5, 4, 2, (1, 1), 2, 1, 1),  # 1x1 with stride and padding
    (2, 2, 6, 9, 4, 2, (3, 2), (1, 2), (2, 0), (2, 1)),  # everything non-square
    (1, 2, 3, 3, 2, 1, (3, 3), 1, 3, 1),  # padding wider than the kernel reach
]


def make_geometry(case):
    batch, channels, height, width, out_channels, groups, kernel, stride, padding, dilation = case
    return ConvGeometry.from_shapes(
        (batch, channels, height, width), (out_channels, channels // groups) + kernel,
        stride, padding, dilation, groups,
    )  # fmt: skip


@T04
def test_im2col_and_col2im_by_hand():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).reshape(1, 1, 3, 3)
    geom = ConvGeometry.from_shapes(x.shape, (1, 1, 2, 2))
    # Rows are taps (0,0), (0,1), (1,0), (1,1); columns are output pixels in row-major order.
    expected_cols = np.array([[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]], float)
    np.testing.assert_array_equal(im2col.im2col(x, geom), expected_cols[None])
    # Folding back all-ones columns counts how many receptive fields hold each pixel.
    counts = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], float).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(im2col.col2im(np.ones((1, 4, 4)), geom), counts)


@T04
def test_im2col_by_hand_with_padding():
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    geom = ConvGeometry.from_shapes(x.shape, (1, 1, 2, 2), stride=2, padding=1)
    # Padded input is 4x4 with x in the middle; stride 2 gives four disjoint 2x2 windows, each
    # holding one pixel of x, at the tap opposite its corner.
    expected_cols = np.array([[0, 0, 0, 4], [0, 0, 3, 0], [0, 2, 0, 0], [1, 0, 0, 0]], float)
    np.testing.assert_array_equal(im2col.im2col(x, geom), expected_cols[None])


@T04
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_reference(case, dtype):
    geom = make_geometry(case)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(geom.input_shape).astype(dtype)
    cols = rng.standard_normal(geom.col_shape).astype(dtype)
    result = im2col.im2col(x, geom)
    assert result.dtype == dtype and result.shape == geom.col_shape
    # im2col only copies, so it is exact; col2im adds up to kh*kw terms per pixel.
    np.testing.assert_array_equal(result, reference.im2col(x, geom))
    folded = im2col.col2im(cols, geom)
    assert folded.dtype == dtype
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(folded, reference.col2im(cols, geom), rtol=tolerance, atol=tolerance)


@T04
def test_col2im_is_adjoint_of_im2col():
    geom = make_geometry(CASES[-2])
    rng = np.random.default_rng(2)
    x = rng.standard_normal(geom.input_shape)
    cols = rng.standard_normal(geom.col_shape)
    assert np.vdot(im2col.im2col(x, geom), cols) == pytest.approx(np.vdot(x, im2col.col2im(cols, geom)), rel=1e-12)


@T04
def test_accepts_non_contiguous_input():
    geom = make_geometry(CASES[1])
    x = np.asfortranarray(np.random.default_rng(3).standard_normal(geom.input_shape))
    np.testing.assert_array_equal(im2col.im2col(x, geom), reference.im2col(x, geom))


def test_rejects_wrong_shape():
    geom = make_geometry(CASES[0])
    with pytest.raises(ValueError, match="does not match"):
        im2col.im2col(np.zeros((1, 2, 3, 4)), geom)
    with pytest.raises(ValueError, match="does not match"):
        im2col.col2im(np.zeros((1, 2, 3)), geom)
