"""reshape, permute/transpose, flatten, pad, concatenate, stack, split: values, gradients, errors."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions import shape_ops


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def arange(*shape):
    return f64(np.arange(float(np.prod(shape))).reshape(shape))


def test_flatten_shapes_follow_pytorch():
    x = arange(2, 3, 4, 5)
    assert x.flatten().shape == (120,)
    assert x.flatten(1).shape == (2, 60)
    assert x.flatten(1, 2).shape == (2, 12, 5)
    assert x.flatten(-2).shape == (2, 3, 20)
    assert f64(7.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match=r"start_dim=2 comes after end_dim=1 for shape \(2, 3, 4, 5\)"):
        x.flatten(2, 1)


def test_transpose_meanings():
    values = np.arange(24.0).reshape(2, 3, 4)
    x = f64(values)
    np.testing.assert_array_equal(x.transpose().data, values.T)
    np.testing.assert_array_equal(x.T.data, values.T)
    np.testing.assert_array_equal(x.transpose(0, 2).data, np.swapaxes(values, 0, 2))
    np.testing.assert_array_equal(x.transpose(-1, 1).data, np.swapaxes(values, 1, 2))


def test_permute_gradient_goes_back_through_the_inverse_order():
    x = arange(2, 3, 4)
    weights = np.arange(24.0).reshape(4, 2, 3)  # shaped like the permuted output
    (x.permute(2, 0, 1) * weights).sum().backward()
    np.testing.assert_array_equal(x.grad, weights.transpose(1, 2, 0))


def test_reshape_gradient_keeps_element_order():
    x = arange(2, 3)
    weights = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    (x.reshape(3, 2) * weights).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def test_pad_values_and_gradient():
    x = f64([[1.0, 2.0]])
    y = shape_ops.pad(x, ((1, 0), (0, 2)))
    np.testing.assert_array_equal(y.data, [[0, 0, 0, 0], [1, 2, 0, 0]])
    (y * np.arange(8.0).reshape(2, 4)).sum().backward()
    np.testing.assert_array_equal(x.grad, [[4.0, 5.0]])


def test_concatenate_gradient_splits_back():
    a, b = f64([[1.0, 2.0]]), f64([[3.0, 4.0], [5.0, 6.0]])
    y = shape_ops.concatenate([a, b], axis=0)
    np.testing.assert_array_equal(y.data, [[1, 2], [3, 4], [5, 6]])
    (y * np.array([[1.0], [2.0], [3.0]])).sum().backward()
    np.testing.assert_array_equal(a.grad, [[1.0, 1.0]])
    np.testing.assert_array_equal(b.grad, [[2.0, 2.0], [3.0, 3.0]])


def test_stack_and_split_are_inverse():
    parts = [arange(2, 3), f64(np.ones((2, 3)))]
    stacked = shape_ops.stack(parts, axis=1)
    assert stacked.shape == (2, 2, 3)
    np.testing.assert_array_equal(stacked.data[:, 0], parts[0].data)
    pieces = shape_ops.split(arange(7, 2), [2, 4, 1], axis=0)
    assert [p.shape for p in pieces] == [(2, 2), (4, 2), (1, 2)]
    assert [p.shape for p in shape_ops.split(arange(2, 7), 3, axis=-1)] == [(2, 3), (2, 3), (2, 1)]


def test_split_gradient_reaches_each_piece():
    x = arange(5)
    first, second = shape_ops.split(x, [2, 3])
    (first.sum() * 10.0 + second.sum()).backward()
    np.testing.assert_array_equal(x.grad, [10.0, 10.0, 1.0, 1.0, 1.0])


def test_stack_gradient_with_a_tensor_stacked_twice():
    x = f64([1.0, 2.0])
    y = shape_ops.stack([x, x * 3.0, x])
    (y * np.array([[1.0], [2.0], [4.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0 + 6.0 + 4.0] * 2)


def test_error_messages_quote_shapes():
    x = arange(2, 3)
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\) \(6 elements\) "
                                         r"into shape \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"permute needs a reordering of all 2 axes, got \(0, 0\)"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match=r"equal sizes on the other axes, got shapes \(2, 3\), \(2, 4\)"):
        shape_ops.concatenate([x, arange(2, 4)], axis=0)
    with pytest.raises(ValueError, match=r"stack needs tensors of equal shape, got \(2, 3\) and \(3, 2\)"):
        shape_ops.stack([x, arange(3, 2)])
    with pytest.raises(ValueError, match=r"split sizes \[1, 1\] add up to 2, but axis 1 has size 3"):
        shape_ops.split(x, [1, 1], axis=1)
    with pytest.raises(ValueError, match=r"pad needs one non-negative \(before, after\) pair per axis "
                                         r"of shape \(2, 3\)"):
        shape_ops.pad(x, ((1, 1),))
