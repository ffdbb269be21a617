"""Tests of ``minigrad/functions/pooling.py``: MaxPool2d, AvgPool2d and ``adaptive_avg_pool2d``.

Oracles: finite differences in float64, small examples worked out by hand (a tie, padding,
overlapping windows) and PyTorch's ``F.max_pool2d``/``avg_pool2d``/``adaptive_avg_pool2d``.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions.pooling import AvgPool2d, MaxPool2d, adaptive_avg_pool2d, avg_pool2d, max_pool2d


def leaf(array):
    return mg.tensor(np.array(array, dtype=np.float64), dtype=np.float64, requires_grad=True)


def distinct(rng, *shape):
    """Well-separated values in random order: no ties, so max is differentiable within eps."""
    count = int(np.prod(shape))
    return leaf(rng.permutation(np.arange(count) - count / 2).reshape(shape) * 0.1)


# (input shape, kernel_size, stride, padding)
WINDOWS = {
    "2x2, stride 2": ((2, 2, 4, 4), 2, None, 0),
    "3x3, stride 1 (overlapping)": ((1, 2, 5, 5), 3, 1, 0),
    "3x2 kernel, stride (2, 1), padding 1, non-square input": ((2, 1, 5, 6), (3, 2), (2, 1), 1),
    "2x2, stride 1, padding 1 (overlapping, padded)": ((1, 2, 3, 4), 2, 1, 1),
    "3x3, stride 2, padding 1 (ResNet stem)": ((1, 2, 6, 5), 3, 2, 1),
    "1x3 kernel, padding (0, 1)": ((1, 1, 3, 4), (1, 3), 1, (0, 1)),
    "stride larger than kernel (skipped pixels)": ((1, 1, 5, 6), 2, 3, 0),
}


# ---------------------------------------------------------------- gradients (finite differences)


@pytest.mark.parametrize("shape, kernel, stride, padding", list(WINDOWS.values()), ids=list(WINDOWS))
def test_gradcheck_max_pool(shape, kernel, stride, padding):
    x = distinct(np.random.default_rng(0), *shape)
    assert mg.gradcheck(lambda x: max_pool2d(x, kernel, stride, padding), x)


@pytest.mark.parametrize("shape, kernel, stride, padding", list(WINDOWS.values()), ids=list(WINDOWS))
def test_gradcheck_avg_pool(shape, kernel, stride, padding):
    x = leaf(np.random.default_rng(1).standard_normal(shape))
    assert mg.gradcheck(lambda x: avg_pool2d(x, kernel, stride, padding), x)


@pytest.mark.parametrize("output_size", [1, (2, 3), (3, 1), (6, 6)], ids=["global", "(2,3)", "(3,1)", "identity"])
def test_gradcheck_adaptive_avg_pool(output_size):
    x = leaf(np.random.default_rng(2).standard_normal((2, 2, 6, 6)))
    assert mg.gradcheck(lambda x: adaptive_avg_pool2d(x, output_size), x)


# ---------------------------------------------------------------- worked by hand


def test_hand_example_max_pool_with_a_tie():
    # Window 1 is [[1, 3], [3, 2]]: two 3s; the first in row-major order, (0, 1), wins and gets dy.
    # Window 2 is [[3, 0], [1, 1]]: one 3, at (0, 2).
    x = leaf([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 1.0]]]])
    y = max_pool2d(x, 2)
    np.testing.assert_array_equal(y.data, [[[[3.0, 3.0]]]])
    y.backward(np.array([[[[10.0, 20.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[0.0, 10.0, 20.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_hand_example_max_pool_overlapping_windows_add_up():
    # Windows [1, 3] and [3, 2] share the 3: it receives both gradients.
    x = leaf([[[[1.0, 3.0, 2.0]]]])
    y = max_pool2d(x, (1, 2), stride=1)
    np.testing.assert_array_equal(y.data, [[[[3.0, 3.0]]]])
    y.backward(np.array([[[[1.0, 5.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[0.0, 6.0, 0.0]]]])


def test_hand_example_max_pool_padding_is_minus_infinity():
    # All values negative: a zero padding would win every border window; -inf padding never does.
    x = leaf([[[[-1.0, -2.0], [-3.0, -4.0]]]])
    y = max_pool2d(x, 2, stride=1, padding=1)
    np.testing.assert_array_equal(y.data, [[[[-1.0, -1.0, -2.0], [-1.0, -1.0, -2.0], [-3.0, -3.0, -4.0]]]])


def test_hand_example_avg_pool_with_padding():
    # 2x2 windows, stride 1, padding 1 over [[1, 2], [3, 4]]; padding counts as zeros, divisor always 4.
    x = leaf([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = avg_pool2d(x, 2, stride=1, padding=1)
    expected = np.array([[1, 1 + 2, 2], [1 + 3, 1 + 2 + 3 + 4, 2 + 4], [3, 3 + 4, 4]]) / 4.0
    np.testing.assert_array_equal(y.data[0, 0], expected)
    # Each input pixel lies in 4 windows; with dy = [[0,1,2],[3,4,5],[6,7,8]], dx[0,0] = (0+1+3+4)/4 = 2 ...
    y.backward(np.arange(9.0).reshape(1, 1, 3, 3))
    np.testing.assert_array_equal(x.grad, [[[[2.0, 3.0], [5.0, 6.0]]]])


def test_hand_example_adaptive_avg_pool():
    x = leaf(np.arange(8.0).reshape(1, 1, 2, 4))     # [[0, 1, 2, 3], [4, 5, 6, 7]]
    np.testing.assert_array_equal(adaptive_avg_pool2d(x, 1).data, [[[[3.5]]]])
    np.testing.assert_array_equal(adaptive_avg_pool2d(x, (1, 2)).data, [[[[2.5, 4.5]]]])   # (0+1+4+5)/4, (2+3+6+7)/4
    np.testing.assert_array_equal(adaptive_avg_pool2d(x, (2, 1)).data, [[[[1.5], [5.5]]]])


def test_max_pool_propagates_nan_like_torch():
    x = leaf([[[[1.0, np.nan], [3.0, 0.0]]]])
    y = max_pool2d(x, 2)
    assert np.isnan(y.data).all()
    y.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(x.grad, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_functions_recorded_in_the_graph():
    x = leaf(np.ones((1, 1, 2, 2)))
    assert max_pool2d(x, 2)._node.function is MaxPool2d
    assert avg_pool2d(x, 2)._node.function is AvgPool2d


# ---------------------------------------------------------------- float32


@pytest.mark.parametrize("pool", [
    lambda x: max_pool2d(x, 3, 2, 1), lambda x: avg_pool2d(x, 3, 2, 1), lambda x: adaptive_avg_pool2d(x, 1),
    lambda x: adaptive_avg_pool2d(x, (2, 3)),
], ids=["max", "avg", "adaptive global", "adaptive (2,3)"])
def test_float32_stays_float32_and_matches_float64(pool):
    x64 = np.random.default_rng(3).standard_normal((2, 3, 6, 6))
    x32, x_64 = mg.tensor(x64.astype(np.float32), requires_grad=True), leaf(x64)
    y32, y64 = pool(x32), pool(x_64)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.data, y64.data, rtol=1e-5, atol=1e-6)
    y32.backward(np.ones(y32.shape, dtype=np.float32))
    y64.backward(np.ones(y64.shape))
    assert x32.grad.dtype == np.float32
    np.testing.assert_allclose(x32.grad, x_64.grad, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- mistakes

BAD_CALLS = {
    "max: kernel larger than the input": (
        lambda: max_pool2d(leaf(np.zeros((1, 1, 3, 3))), 4), r"max_pool2d: kernel \(4, 4\) is larger than the padded input \(3, 3\)"),
    "avg: kernel wider than the input": (
        lambda: avg_pool2d(leaf(np.zeros((1, 1, 3, 3))), (2, 4)), r"avg_pool2d: kernel \(2, 4\) is larger than the padded input \(3, 3\)"),
    "max: 3-D input": (lambda: max_pool2d(leaf(np.zeros((1, 3, 3))), 2), r"4-D input.*\(1, 3, 3\)"),
    "avg: stride 0": (lambda: avg_pool2d(leaf(np.zeros((1, 1, 3, 3))), 2, 0), r"stride \(0, 0\)"),
    "max: padding more than half the kernel": (
        lambda: max_pool2d(leaf(np.zeros((1, 1, 4, 4))), 2, 1, 2), r"padding \(2, 2\) for kernel \(2, 2\)"),
    "avg: negative padding": (lambda: avg_pool2d(leaf(np.zeros((1, 1, 4, 4))), 2, 1, -1), r"padding \(-1, -1\)"),
    "adaptive: size that does not divide": (
        lambda: adaptive_avg_pool2d(leaf(np.zeros((1, 1, 5, 4))), 2), r"output \(2, 2\) for input \(5, 4\)"),
    "adaptive: 3-D input": (lambda: adaptive_avg_pool2d(leaf(np.zeros((1, 4, 4))), 1), r"4-D input.*\(1, 4, 4\)"),
}


@pytest.mark.parametrize("call, message", list(BAD_CALLS.values()), ids=list(BAD_CALLS))
def test_mistakes_raise_value_error_quoting_the_numbers(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- PyTorch parity


def check_against_torch(torch, ours, theirs, x64, seed):
    x = leaf(x64)
    y = ours(x)
    grad_out = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(grad_out)
    tx = torch.tensor(x64, requires_grad=True)
    ty = theirs(tx)
    ty.backward(torch.from_numpy(grad_out))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape, kernel, stride, padding", list(WINDOWS.values()), ids=list(WINDOWS))
def test_max_pool_matches_torch(shape, kernel, stride, padding):
    torch = pytest.importorskip("torch")
    # Rounded values make ties common, so the tie-breaking rule is compared too.
    x64 = np.round(np.random.default_rng(4).standard_normal(shape) * 2)
    check_against_torch(torch, lambda x: max_pool2d(x, kernel, stride, padding),
                        lambda x: torch.nn.functional.max_pool2d(x, kernel, stride, padding), x64, 5)


@pytest.mark.parametrize("shape, kernel, stride, padding", list(WINDOWS.values()), ids=list(WINDOWS))
def test_avg_pool_matches_torch(shape, kernel, stride, padding):
    torch = pytest.importorskip("torch")
    x64 = np.random.default_rng(6).standard_normal(shape)
    check_against_torch(torch, lambda x: avg_pool2d(x, kernel, stride, padding),
                        lambda x: torch.nn.functional.avg_pool2d(x, kernel, stride, padding), x64, 7)


@pytest.mark.parametrize("output_size", [1, (1, 1), 2, (3, 2), (6, 4)])
def test_adaptive_avg_pool_matches_torch(output_size):
    torch = pytest.importorskip("torch")
    x64 = np.random.default_rng(8).standard_normal((2, 3, 6, 4))
    check_against_torch(torch, lambda x: adaptive_avg_pool2d(x, output_size),
                        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, output_size), x64, 9)
