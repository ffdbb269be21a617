"""``minigrad.kernels.cuda.im2col`` against the NumPy reference and the Numba CPU kernels."""

import numpy as np
import pytest

from minigrad.kernels import im2col as cpu_im2col
from minigrad.kernels import reference
from minigrad.kernels.conv_geometry import ConvGeometry
from minigrad.kernels.cuda import im2col as cuda_im2col

from cuda_cases import SHAPES, geometry, needs_cuda

pytestmark = [pytest.mark.cudasim, needs_cuda]
# Classroom task t09 writes im2col_kernel; col2im_kernel is given (graded tests may use it).
T09 = pytest.mark.t09_cuda_kernel


@T09
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape_name", sorted(SHAPES))
def test_im2col_matches_reference_and_cpu(shape_name, dtype):
    geom = geometry(shape_name)
    x = np.random.default_rng(0).standard_normal(geom.input_shape).astype(dtype)
    unfolded = cuda_im2col.im2col(x, geom)
    assert unfolded.dtype == dtype and unfolded.shape == geom.col_shape
    np.testing.assert_array_equal(unfolded, reference.im2col(x, geom))  # a copy: exact
    np.testing.assert_array_equal(unfolded, cpu_im2col.im2col(x, geom))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape_name", sorted(SHAPES))
def test_col2im_matches_reference_and_cpu(shape_name, dtype):
    geom = geometry(shape_name)
    cols = np.random.default_rng(0).standard_normal(geom.col_shape).astype(dtype)
    folded = cuda_im2col.col2im(cols, geom)
    assert folded.dtype == dtype and folded.shape == geom.input_shape
    tolerance = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(folded, reference.col2im(cols, geom), **tolerance)
    np.testing.assert_allclose(folded, cpu_im2col.col2im(cols, geom), **tolerance)


@T09
def test_im2col_by_hand():
    # x = [[0 1 2], [3 4 5], [6 7 8]], 2x2 kernel, stride 1: four receptive fields, one per column.
    geom = ConvGeometry.from_shapes((1, 1, 3, 3), (1, 1, 2, 2))
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    expected = np.array(
        [
            [0, 1, 3, 4],  # tap (0, 0) of output pixels (0,0) (0,1) (1,0) (1,1)
            [1, 2, 4, 5],  # tap (0, 1)
            [3, 4, 6, 7],  # tap (1, 0)
            [4, 5, 7, 8],  # tap (1, 1)
        ],
        dtype=np.float64,
    )
    np.testing.assert_array_equal(cuda_im2col.im2col(x, geom), expected[None])


def test_col2im_by_hand():
    # All-ones columns with a 2x2 kernel on a 3x3 image: each pixel gets one contribution per
    # receptive field it lies in (corners 1, edges 2, centre 4).
    geom = ConvGeometry.from_shapes((1, 1, 3, 3), (1, 1, 2, 2))
    folded = cuda_im2col.col2im(np.ones(geom.col_shape), geom)
    np.testing.assert_array_equal(folded[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@T09
def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), cols> == <x, col2im(cols)>: col2im is exactly im2col's transpose.
    geom = geometry("groups3_rectangular")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(geom.input_shape)
    cols = rng.standard_normal(geom.col_shape)
    left = np.vdot(cuda_im2col.im2col(x, geom), cols)
    right = np.vdot(x, cuda_im2col.col2im(cols, geom))
    np.testing.assert_allclose(left, right, rtol=1e-12)


def test_wrong_shape_is_a_value_error():
    geom = geometry("groups2_stride2")
    with pytest.raises(ValueError, match=r"x has shape \(1, 4, 5, 6\), the geometry expects \(1, 4, 5, 5\)"):
        cuda_im2col.im2col(np.zeros((1, 4, 5, 6)), geom)
