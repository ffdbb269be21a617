"""x[index]: NumPy's indexing forward, a scatter-add backward that accumulates repeated indices."""

import numpy as np
import pytest

import minigrad as mg


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_repeated_integer_indices_accumulate():
    x = f64([10.0, 20.0, 30.0])
    y = x[[0, 2, 0, 0]]
    np.testing.assert_array_equal(y.data, [10.0, 30.0, 10.0, 10.0])
    (y * np.array([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0 + 3.0 + 4.0, 0.0, 2.0])


def test_repeated_index_pairs_in_two_dimensions():
    x = f64(np.zeros((2, 3)))
    x[[1, 1, 0], [2, 2, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [0, 0, 2]])


def test_slices_none_and_ellipsis():
    values = np.arange(24.0).reshape(2, 3, 4)
    x = f64(values)
    y = x[:, None, 1:, ::2]
    np.testing.assert_array_equal(y.data, values[:, None, 1:, ::2])
    y.sum().backward()
    expected = np.zeros_like(values)
    expected[:, 1:, ::2] = 1.0
    np.testing.assert_array_equal(x.grad, expected)
    np.testing.assert_array_equal(x[..., -1].data, values[..., -1])


def test_boolean_mask_and_tensor_indices():
    x = f64([1.0, -2.0, 3.0, -4.0])
    mask = x > 0
    x[mask].sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0, 0.0])
    picked = x[mg.tensor([3, 3])]
    np.testing.assert_array_equal(picked.data, [-4.0, -4.0])


@pytest.mark.parametrize("index", [slice(1, None), 1, (None, 1), (Ellipsis, 1)])
def test_basic_indexing_is_a_view_sharing_the_version_counter(index):
    """PyTorch's rule: ints, slices, None and ... give a view; writing through it changes x."""
    x = f64([1.0, 2.0, 3.0], requires_grad=False)
    y = x[index]
    with mg.no_grad():
        y.fill_(99.0)
    assert x.data[1] == 99.0 and x._version == 1


@pytest.mark.parametrize("index", [[1, 2], np.array([1]), (np.array([True, False, True]),)])
def test_advanced_indexing_is_a_copy(index):
    x = f64([1.0, 2.0, 3.0], requires_grad=False)
    y = x[index]
    with mg.no_grad():
        y.fill_(99.0)
    np.testing.assert_array_equal(x.data, [1.0, 2.0, 3.0])
    assert x._version == 0


def test_in_place_on_a_slice_is_seen_by_an_op_that_saved_the_tensor():
    w = f64([1.0, 2.0, 3.0, 4.0])
    loss = (w * w).sum()
    with mg.no_grad():
        w[0:2].zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*zero_"):
        loss.backward()


def test_out_of_range_index_quotes_the_shape():
    x = f64(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"tensor shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match=r"tensor shape \(2, 3\)"):
        x[:, [0, 3]]
