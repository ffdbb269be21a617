"""sum, mean, max: hand-computed gradients, the tie rule of max, and axis errors."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions import reduction


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (2, 0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_forward_matches_numpy(axis, keepdims):
    values = np.random.default_rng(0).standard_normal((2, 3, 4))
    x = f64(values, requires_grad=False)
    np.testing.assert_allclose(x.sum(axis=axis, keepdims=keepdims).data, values.sum(axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(x.mean(axis=axis, keepdims=keepdims).data, values.mean(axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(x.max(axis=axis, keepdims=keepdims).data, values.max(axis=axis, keepdims=keepdims))


@pytest.mark.t01_elementwise_backward
def test_sum_and_mean_gradients_by_hand():
    x = f64(np.ones((2, 3)))
    # y_i = sum_j x_ij  ->  dL/dx_ij = g_i
    x.sum(axis=1).backward(np.array([2.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [[2.0] * 3, [-1.0] * 3])
    x.grad = None
    # y_0j = mean_i x_ij (keepdims)  ->  dL/dx_ij = g_j / 2
    x.mean(axis=0, keepdims=True).backward(np.array([[4.0, 2.0, 6.0]]))
    np.testing.assert_array_equal(x.grad, [[2.0, 1.0, 3.0]] * 2)
    x.grad = None
    # y = sum over axes (0, 2) of a (2, 3, 2) tensor: dL/dx_ijk = g_j
    z = f64(np.ones((2, 3, 2)))
    z.sum(axis=(0, 2)).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(z.grad, np.broadcast_to(np.array([1.0, 2.0, 3.0])[None, :, None], (2, 3, 2)))


@pytest.mark.t01_elementwise_backward
def test_mean_of_everything_divides_by_the_count():
    x = f64(np.zeros((4, 5)))
    x.mean().backward()
    np.testing.assert_array_equal(x.grad, np.full((4, 5), 1 / 20))


def test_max_ties_share_the_gradient_equally():
    # Row 0 ties between columns 1 and 2, row 1 between columns 0 and 1, row 2 three ways.
    x = f64([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [5.0, 5.0, 5.0]])
    (x.max(axis=1) * np.array([1.0, 10.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.5, 0.5], [5.0, 5.0, 0.0], [1.0, 1.0, 1.0]])


def test_max_over_everything_with_ties():
    x = f64([[4.0, 1.0], [4.0, 4.0]])
    x.max().backward()
    np.testing.assert_allclose(x.grad, [[1 / 3, 0.0], [1 / 3, 1 / 3]])


def test_two_way_tie_rule_agrees_with_central_differences():
    """At a two-way tie, (max(x + eps e_i) - max(x - eps e_i)) / 2 eps = (eps - 0) / 2 eps = 1/2,
    exactly the share the tie rule gives, so gradcheck passes even on the tie."""
    x = f64([[0.5, 2.0, 2.0, -1.0]])
    assert mg.gradcheck(lambda t: t.max(axis=1), x)


def test_max_without_ties_routes_the_gradient_to_the_argmax():
    values = np.array([[0.1, 0.9, -0.3], [0.7, 0.2, 0.4]])
    x = f64(values)
    x.max(axis=0).sum().backward()
    expected = np.zeros_like(values)
    expected[[1, 0, 1], [0, 1, 2]] = 1.0
    np.testing.assert_array_equal(x.grad, expected)


def test_reductions_keep_float32():
    x = mg.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    for result in (x.sum(), x.mean(axis=0), x.max(axis=1)):
        assert result.dtype == np.float32
        result.sum().backward()
        assert x.grad.dtype == np.float32


def test_reducing_a_0d_tensor():
    x = f64(3.0)
    for result in (x.sum(), x.mean(), x.max()):
        assert result.shape == () and result.item() == 3.0


def test_axis_errors_quote_the_axis():
    x = f64(np.ones((2, 3)))
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2 dimensions"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="axis -3 is out of range"):
        x.max(axis=-3)
    with pytest.raises(ValueError, match=r"axis \(1, -1\) repeats an axis"):
        reduction.mean(x, axis=(1, -1))
