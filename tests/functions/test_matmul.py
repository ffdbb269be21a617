"""matmul: NumPy's @ semantics (1-D, batched, broadcast) and hand-computed gradients."""

import numpy as np
import pytest

import minigrad as mg


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3, 4), (4, 2)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((4,), (4, 2)),
     ((2, 3, 4), (4,)), ((4,), (4,)), ((5, 4), (2, 1, 4, 3))],
)
def test_forward_shapes_and_values_match_numpy(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a_values, b_values = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    out = f64(a_values) @ f64(b_values)
    expected = a_values @ b_values
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


def test_two_d_gradients_by_hand():
    # Y = A @ B with A (1, 2), B (2, 2);  L = sum(G * Y);  dA = G B^T, dB = A^T G
    a, b = f64([[1.0, 2.0]]), f64([[3.0, 4.0], [5.0, 6.0]])
    (a @ b).backward(np.array([[1.0, -1.0]]))
    np.testing.assert_array_equal(a.grad, [[3.0 - 4.0, 5.0 - 6.0]])
    np.testing.assert_array_equal(b.grad, [[1.0, -1.0], [2.0, -2.0]])


def test_vector_dot_vector_gradients():
    a, b = f64([1.0, 2.0, 3.0]), f64([4.0, 5.0, 6.0])
    y = a @ b
    assert y.shape == () and y.item() == 32.0
    y.backward()
    np.testing.assert_array_equal(a.grad, [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])


def test_broadcast_batch_gradient_is_summed_over_the_batch():
    # B (3, 2) is shared by 4 batch entries of A (4, 1, 3) of ones: dB_jk = sum_n A_n0j = 4
    a, b = f64(np.ones((4, 1, 3))), f64(np.zeros((3, 2)))
    (a @ b).sum().backward()
    np.testing.assert_array_equal(b.grad, np.full((3, 2), 4.0))
    np.testing.assert_array_equal(a.grad, np.zeros((4, 1, 3)))


def test_python_lists_and_arrays_are_lifted():
    w = f64([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal((np.array([1.0, 1.0]) @ w).data, [1.0, 2.0])
    np.testing.assert_array_equal((w @ [3.0, 4.0]).data, [3.0, 8.0])


@pytest.mark.parametrize(
    "shape_a, shape_b, message",
    [((2, 3), (4, 2), r"\(2, 3\) @ \(4, 2\) \(inner sizes 3 and 4 differ\)"),
     ((2, 3), (4,), r"\(2, 3\) @ \(4,\) \(inner sizes 3 and 4 differ\)"),
     ((5,), (3, 2), r"\(5,\) @ \(3, 2\)"),
     ((2, 3, 4), (3, 4, 5), r"shapes \(2,\) and \(3,\) cannot be broadcast")],
)
def test_shape_mismatch_quotes_the_shapes(shape_a, shape_b, message):
    with pytest.raises(ValueError, match=message):
        mg.zeros(*shape_a) @ mg.zeros(*shape_b)


def test_0d_operand_is_refused():
    with pytest.raises(ValueError, match=r"at least 1-D operands, got shapes \(\) and \(2,\)"):
        mg.tensor(2.0) @ mg.zeros(2)


def test_parity_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a_values, b_values = rng.standard_normal((2, 1, 3, 4)), rng.standard_normal((5, 4, 2))
    g = rng.standard_normal((2, 5, 3, 2))
    a, b = f64(a_values), f64(b_values)
    (a @ b).backward(g)
    ta = torch.tensor(a_values, requires_grad=True)
    tb = torch.tensor(b_values, requires_grad=True)
    (ta @ tb).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-12, atol=1e-12)
