"""Tensor: dtype rules, constructors, operators and their error messages."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import Tensor


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize(
    "data, expected",
    [
        (1.5, np.float32),                       # Python floats: float32 by default
        ([[1.0, 2.0]], np.float32),
        (np.array([1.0, 2.0]), np.float64),       # NumPy arrays keep their dtype
        (np.array([1.0], dtype=np.float32), np.float32),
        (np.float64(2.0), np.float64),            # and so do NumPy scalars
        ([1, 2, 3], np.int64),                    # integers stay integers
    ],
)
def test_dtype_rules(data, expected):
    assert mg.tensor(data).dtype == expected


def test_explicit_dtype_converts():
    assert mg.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert mg.tensor(np.ones(2), dtype="float32").dtype == np.float32


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only float32/float64 tensors can require grad, got dtype int64"):
        mg.tensor([1, 2, 3], requires_grad=True)


def test_mixing_float32_and_float64_is_refused():
    a = mg.tensor([1.0, 2.0])
    b = mg.tensor(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="dtype mismatch: float32 and float64"):
        a + b


def test_python_numbers_take_the_tensor_dtype():
    for dtype in (np.float32, np.float64):
        x = mg.tensor([1.0, 2.0], dtype=dtype)
        for result in (x + 1, 1 - x, x * 2.5, 3 / x, x**2, 2**x, -x):
            assert result.dtype == dtype


# ---------------------------------------------------------- basic behaviour
def test_properties_and_item():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert (x.shape, x.ndim, x.size(), x.size(1), x.size(-2), x.numel(), len(x)) == ((2, 3), 2, (2, 3), 3, 2, 6, 2)
    assert x.is_leaf and x.grad is None and not x.requires_grad
    assert x.numpy() is x.data
    assert mg.tensor([[4.0]]).item() == 4.0
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with one element, got shape \(2, 3\)"):
        x.item()


def test_operator_values_match_numpy():
    a_values, b_values = np.array([[1.0, -2.0, 3.0]]), np.array([[0.5], [2.0]])
    a, b = mg.tensor(a_values), mg.tensor(b_values)
    np.testing.assert_array_equal((a + b).data, a_values + b_values)
    np.testing.assert_array_equal((a - b).data, a_values - b_values)
    np.testing.assert_array_equal((a * b).data, a_values * b_values)
    np.testing.assert_array_equal((a / b).data, a_values / b_values)
    np.testing.assert_array_equal((b**a).data, b_values**a_values)
    np.testing.assert_array_equal((-a).data, -a_values)
    np.testing.assert_array_equal((a.T @ b.T).data, a_values.T @ b_values.T)


def test_comparisons_give_boolean_tensors_without_history():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x > 1.5, [False, True, True]), (x >= 2.0, [False, True, True]), (x < 2.0, [True, False, False]),
        (x <= 1.0, [True, False, False]), (x == 2.0, [False, True, False]), (x != 2.0, [True, False, True]),
    ]:
        assert result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)
    assert hash(x) == object.__hash__(x)  # == is elementwise, so tensors hash by identity


def test_argmax_and_dim_synonym():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    np.testing.assert_array_equal(x.argmax(axis=1).data, [1, 0])
    np.testing.assert_array_equal(x.argmax(dim=0).data, [1, 0, 1])
    np.testing.assert_array_equal(x.sum(dim=1).data, [8.0, 10.0])
    with pytest.raises(TypeError, match=r"give either axis or dim, not both \(axis=0, dim=1\)"):
        x.sum(axis=0, dim=1)


def test_reshape_accepts_a_tuple_or_several_ints():
    x = mg.tensor(np.arange(12.0))
    assert x.reshape(3, 4).shape == (3, 4)
    assert x.reshape((2, 6)).shape == (2, 6)
    assert x.reshape([4, -1]).shape == (4, 3)
    assert x.reshape(2, 2, 3).permute(2, 0, 1).shape == (3, 2, 2)
    assert x.reshape(2, 2, 3).permute((1, 2, 0)).shape == (2, 3, 2)


def test_repr_mentions_dtype_and_requires_grad():
    text = repr(mg.tensor([1.0, 2.0], requires_grad=True))
    assert text.startswith("tensor([1., 2.]") and "float32" in text and "requires_grad=True" in text
    assert "requires_grad" not in repr(mg.tensor([1.0]))


def test_astype_is_recorded_like_float_and_double():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and not y.is_leaf and y.requires_grad
    (y * mg.tensor([3.0, 4.0], dtype=np.float64)).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.data.tolist() == [3.0, 4.0]
    assert x.astype(np.float32) is x
    cut = x.detach().astype(np.float64)
    assert cut.is_leaf and not cut.requires_grad
    with pytest.raises(TypeError, match="cannot cast a tensor that requires grad to int64"):
        x.astype(np.int64)


def test_tensor_of_a_tensor_takes_its_data():
    x = mg.tensor(np.array([1.0, 2.0]))
    assert Tensor(x).dtype == np.float64
    np.testing.assert_array_equal(Tensor(x).data, [1.0, 2.0])


# ------------------------------------------------------------- constructors
def test_zeros_ones_shapes_and_dtypes():
    assert mg.zeros(2, 3).shape == (2, 3) and mg.zeros(2, 3).dtype == np.float32
    assert mg.ones((4,), dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(mg.ones(2, 2).data, np.ones((2, 2)))
    assert mg.zeros(3, requires_grad=True).requires_grad


def test_randn_and_rand_are_reproducible_from_a_seed():
    np.testing.assert_array_equal(mg.randn(3, 4, generator=7).data, mg.randn(3, 4, generator=7).data)
    expected = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(mg.randn(3, 4, generator=7).data, expected)
    uniform = mg.rand(1000, generator=np.random.default_rng(1)).data
    assert uniform.dtype == np.float32 and uniform.min() >= 0 and uniform.max() < 1


def test_manual_seed_resets_the_default_generator():
    mg.manual_seed(3)
    first = mg.randn(5).data
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.randn(5).data, first)


def test_bad_generator_is_refused():
    with pytest.raises(TypeError, match="generator must be"):
        mg.randn(2, generator="seven")


def test_docstring_example():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.array([2.0, 4.0, 6.0], dtype=np.float32))
    assert x.grad.dtype == np.float32


def test_truth_value_follows_numpy():
    assert not mg.tensor([0.0]) == mg.tensor([1.0])
    assert mg.tensor(2.0) > 1.0
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mg.tensor([1.0, 2.0]) == mg.tensor([3.0, 4.0]))


def test_numpy_array_on_the_left_defers_to_the_tensor():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    for result in (np.array([3.0, 4.0]) * x, np.ones(2) + x, np.ones(2) - x, np.ones(2) / x, np.eye(2) @ x):
        assert isinstance(result, Tensor) and result.requires_grad and result.shape == (2,)
    (np.array([3.0, 4.0]) * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
