"""Elementwise ops: hand-computed gradients with broadcasting, stability, and bad shapes.

Every op is also gradient-checked over broadcasting shapes in ``tests/gradcheck_cases.py``.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions import elementwise
from minigrad.functions.broadcast import broadcast_shape, unbroadcast


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


@pytest.mark.t02_unbroadcast
def test_unbroadcast_sums_prepended_and_stretched_axes():
    grad = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), grad.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(unbroadcast(grad, (4,)), grad.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(grad, (1, 3, 4)), grad.sum(axis=0, keepdims=True))
    np.testing.assert_array_equal(unbroadcast(grad, (2, 3, 4)), grad)
    assert unbroadcast(grad, ()).shape == () and unbroadcast(grad, ()) == grad.sum()


@pytest.mark.t02_unbroadcast
def test_add_gradient_counts_the_uses_of_each_broadcast_element():
    # (3,1) + (4,) -> (3,4): each a_i is used 4 times, each b_j 3 times.
    a, b = f64(np.zeros((3, 1))), f64(np.zeros(4))
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad, np.full(4, 3.0))


@pytest.mark.t02_unbroadcast
def test_mul_gradient_with_broadcasting_by_hand():
    # y_ij = a_i * b_j ; dL/da_i = sum_j b_j ; dL/db_j = sum_i a_i
    a, b = f64([[1.0], [2.0], [3.0]]), f64([10.0, 20.0])
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad, [[30.0], [30.0], [30.0]])
    np.testing.assert_array_equal(b.grad, [6.0, 6.0])


@pytest.mark.t02_unbroadcast
def test_div_and_sub_gradients_by_hand():
    a, b = f64([6.0, -3.0]), f64([2.0, 4.0])
    (a / b - b).sum().backward()
    np.testing.assert_allclose(a.grad, [0.5, 0.25])                         # 1/b
    np.testing.assert_allclose(b.grad, [-6.0 / 4 - 1, 3.0 / 16 - 1])        # -a/b^2 - 1


@pytest.mark.t02_unbroadcast
def test_pow_gradients_by_hand():
    a, b = f64([2.0, 3.0]), f64([3.0, 0.5])
    (a**b).sum().backward()
    np.testing.assert_allclose(a.grad, [3 * 2.0**2, 0.5 * 3.0**-0.5])        # b a^(b-1)
    np.testing.assert_allclose(b.grad, [8 * np.log(2.0), np.sqrt(3.0) * np.log(3.0)])  # a^b ln a


@pytest.mark.t02_unbroadcast
def test_x_times_x_gradient_is_two_x():
    x = f64([-1.5, 0.0, 2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [-3.0, 0.0, 4.0])


def test_unary_forward_values():
    values = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    x = f64(values, requires_grad=False)
    np.testing.assert_allclose(x.exp().data, [np.e**v for v in values])
    np.testing.assert_allclose(x.tanh().data, [(np.e**v - np.e**-v) / (np.e**v + np.e**-v) for v in values])
    np.testing.assert_allclose(x.sigmoid().data, [1 / (1 + np.e**-v) for v in values])
    np.testing.assert_array_equal(x.relu().data, [0, 0, 0, 0.5, 2.0])
    np.testing.assert_allclose(f64([4.0, 0.25], False).sqrt().data, [2.0, 0.5])
    np.testing.assert_allclose(f64([np.e, 1.0], False).log().data, [1.0, 0.0])


@pytest.mark.t01_elementwise_backward
def test_exp_and_log_backward_by_hand():
    # dL/dx = g * e^x for exp, g / x for log (g: the gradient passed to backward)
    x = f64([0.0, 1.0, -2.0])
    x.exp().backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad, [1.0, 2.0 * np.e, 3.0 * np.exp(-2.0)], rtol=1e-15)
    z = f64([0.5, 4.0])
    z.log().backward(np.array([1.0, 2.0]))
    np.testing.assert_allclose(z.grad, [2.0, 0.5], rtol=1e-15)


@pytest.mark.t01_elementwise_backward
def test_relu_gradient_at_zero_is_zero():
    x = f64([-1.0, 0.0, 1.0])
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_stays_finite_for_extreme_inputs(dtype):
    x = mg.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype, requires_grad=True)
    with np.errstate(over="raise"):
        y = x.sigmoid()
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, [0.0, 1 / (1 + np.exp(50.0)), 0.5, 1 / (1 + np.exp(-50.0)), 1.0], atol=1e-30)
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.data)) and x.grad.data[2] == pytest.approx(0.25)


def test_incompatible_broadcast_quotes_the_shapes():
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4,\) cannot be broadcast together"):
        f64(np.ones((2, 3))) + f64(np.ones(4))
    with pytest.raises(ValueError, match=r"shapes \(3, 2\) and \(2, 3\) cannot be broadcast"):
        f64(np.ones((3, 2))) * f64(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(5,\) and \(1, 4\)"):
        broadcast_shape((5,), (1, 4))


def test_functional_wrappers_accept_numbers_on_either_side():
    x = f64([1.0, 2.0])
    np.testing.assert_array_equal(elementwise.sub(5.0, x).data, [4.0, 3.0])
    np.testing.assert_array_equal(elementwise.div(x, 2).data, [0.5, 1.0])
    np.testing.assert_array_equal(elementwise.pow(2, x).data, [2.0, 4.0])
