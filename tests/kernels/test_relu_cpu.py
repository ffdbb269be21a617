"""The ReLU kernels against NumPy's formulas, on awkward values and layouts."""

import numpy as np
import pytest

from minigrad.kernels import relu_cpu

pytestmark = pytest.mark.kernels


def awkward_values(dtype, shape=(3, 4, 5, 6), seed=0):
    """Random values with exact zeros, negative zeros, NaN and infinities mixed in."""
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    flat = values.reshape(-1)
    flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, -1e-30]
    return values


# Small arrays go to NumPy, large ones to the parallel Numba loops: both must agree with the formulas.
SHAPES = [pytest.param((3, 4, 5, 6), id="numpy"), pytest.param((4, 16, 32, 33), id="parallel loop")]


def test_the_shapes_reach_both_paths():
    small, large = (int(np.prod(param.values[0])) for param in SHAPES)
    assert small < relu_cpu.PARALLEL_MIN_ELEMENTS <= large


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_is_maximum_with_zero(dtype, shape):
    x = awkward_values(dtype, shape)
    y = relu_cpu.relu_forward(x)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, np.maximum(x, 0))  # NaN stays NaN, as np.maximum


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_passes_the_gradient_where_the_output_is_positive(dtype, shape):
    y = np.maximum(awkward_values(dtype, shape), 0)
    grad_out = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    grad_x = relu_cpu.relu_backward(grad_out, y)
    assert grad_x.dtype == dtype and grad_x.shape == y.shape
    np.testing.assert_array_equal(grad_x, np.where(y > 0, grad_out, 0))


@pytest.mark.parametrize("shape", [(4, 6, 5), (40, 60, 50)], ids=["numpy", "parallel loop"])
def test_non_contiguous_inputs(shape):
    x = awkward_values(np.float64, shape).transpose(2, 0, 1)[:, ::2]
    np.testing.assert_array_equal(relu_cpu.relu_forward(x), np.maximum(x, 0))
    grad_out = np.random.default_rng(2).standard_normal(x.shape)[..., ::-1]
    np.testing.assert_array_equal(relu_cpu.relu_backward(grad_out, x), np.where(x > 0, grad_out, 0))


def test_zero_dimensional_arrays_keep_their_shape():
    y = relu_cpu.relu_forward(np.array(-2.0))
    assert y.shape == () and y == 0.0
    grad_x = relu_cpu.relu_backward(np.array(3.0), np.array(1.5))
    assert grad_x.shape == () and grad_x == 3.0
