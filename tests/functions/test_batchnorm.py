"""Tests of ``minigrad/functions/batchnorm.py``: the BatchNorm Function and ``batch_norm``.

Oracles: finite differences in float64, the normalisation of [1, 2, 3, 4] worked out by hand, and
PyTorch's ``F.batch_norm`` (outputs, gradients and running statistics over several steps).
"""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions.batchnorm import BatchNorm, batch_norm

T07 = pytest.mark.t07_batchnorm_backward


def leaf(array):
    return mg.tensor(np.array(array, dtype=np.float64), dtype=np.float64, requires_grad=True)


def make_inputs(rng, shape, affine):
    channels = shape[1]
    x = leaf(rng.standard_normal(shape) * 2.0 + 1.0)
    weight = leaf(rng.uniform(0.5, 2.0, channels)) if affine else None
    bias = leaf(rng.standard_normal(channels)) if affine else None
    return x, weight, bias


def running_stats(rng, channels):
    return rng.standard_normal(channels), rng.uniform(0.5, 2.0, channels)


# ---------------------------------------------------------------- gradients (finite differences)

SHAPES = {"2-D (N, C)": (5, 3), "4-D (N, C, H, W)": (2, 3, 3, 2)}


@T07
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no affine"])
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_gradcheck_training(shape, affine):
    x, weight, bias = make_inputs(np.random.default_rng(0), shape, affine)
    running_mean, running_var = np.zeros(shape[1]), np.ones(shape[1])  # updated on every call: must not matter

    def fn(*inputs):
        return batch_norm(inputs[0], running_mean, running_var, *inputs[1:], training=True)

    inputs = (x, weight, bias) if affine else (x,)
    assert mg.gradcheck(fn, *inputs)


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no affine"])
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_gradcheck_eval(shape, affine):
    rng = np.random.default_rng(1)
    x, weight, bias = make_inputs(rng, shape, affine)
    running_mean, running_var = running_stats(rng, shape[1])

    def fn(*inputs):
        return batch_norm(inputs[0], running_mean, running_var, *inputs[1:], training=False)

    inputs = (x, weight, bias) if affine else (x,)
    assert mg.gradcheck(fn, *inputs)


def test_gradcheck_training_when_input_is_used_again():
    """y * x: dx collects the path through the normalisation and the direct one.

    Not marked t07: the product's backward needs unbroadcast (t02), which t07 does not depend on."""
    x, weight, bias = make_inputs(np.random.default_rng(2), (4, 2, 2, 1), affine=True)
    assert mg.gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True) * x, x, weight, bias)


# ---------------------------------------------------------------- worked by hand
# x = [1, 2, 3, 4] in one channel: mean 2.5, biased var (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25,
# unbiased var 5 / 3, and xhat = (x - 2.5) / sqrt(1.25) = [-1.5, -0.5, 0.5, 1.5] / sqrt(1.25).

XHAT = np.array([-1.5, -0.5, 0.5, 1.5]) / math.sqrt(1.25)


def test_hand_example_training_forward_and_running_stats():
    x = leaf([[1.0], [2.0], [3.0], [4.0]])
    running_mean, running_var = np.zeros(1), np.ones(1)
    y = batch_norm(x, running_mean, running_var, leaf([2.0]), leaf([1.0]), training=True, momentum=0.1, eps=0.0)
    np.testing.assert_allclose(y.data[:, 0], 2.0 * XHAT + 1.0, rtol=1e-12)
    np.testing.assert_allclose(running_mean, [0.9 * 0.0 + 0.1 * 2.5], rtol=1e-12)
    np.testing.assert_allclose(running_var, [0.9 * 1.0 + 0.1 * 5.0 / 3.0], rtol=1e-12)


@T07
def test_hand_example_training_gradients():
    x, weight, bias = leaf([[1.0], [2.0], [3.0], [4.0]]), leaf([1.0]), leaf([0.0])
    y = batch_norm(x, None, None, weight, bias, training=True, eps=0.0)
    y.backward(np.array([[1.0], [2.0], [3.0], [4.0]]))
    np.testing.assert_allclose(bias.grad, [10.0], rtol=1e-12)                  # sum dy
    # sum dy * xhat = (-1.5 - 1 + 1.5 + 6) / sqrt(1.25) = 5 / sqrt(5/4) = 2 sqrt(5)
    np.testing.assert_allclose(weight.grad, [2.0 * math.sqrt(5.0)], rtol=1e-12)
    # dy = x = 2.5 + sqrt(1.25) * xhat is "xhat plus a constant": normalising removes both, so dx = 0
    np.testing.assert_allclose(x.grad, np.zeros((4, 1)), atol=1e-12)


@T07
def test_hand_example_gradient_of_one_output():
    # d y_0 / d x_k = inv_std * (delta_0k - 1/M - xhat_0 xhat_k / M)   with M = 4, inv_std = 1/sqrt(1.25)
    x = leaf([[1.0], [2.0], [3.0], [4.0]])
    batch_norm(x, None, None, training=True, eps=0.0).backward(np.array([[1.0], [0.0], [0.0], [0.0]]))
    expected = (np.array([1.0, 0, 0, 0]) - 0.25 - XHAT[0] * XHAT / 4) / math.sqrt(1.25)
    np.testing.assert_allclose(x.grad[:, 0], expected, rtol=1e-12)


def test_hand_example_eval_uses_running_stats():
    # (x - 2) / sqrt(4) * 3 - 1 with x = [4, 0]: [2, -4]
    x = leaf([[4.0], [0.0]])
    y = batch_norm(x, np.array([2.0]), np.array([4.0]), leaf([3.0]), leaf([-1.0]), training=False, eps=0.0)
    np.testing.assert_allclose(y.data, [[2.0], [-4.0]], rtol=1e-12)


def test_training_normalises_each_channel_of_a_4d_input():
    rng = np.random.default_rng(3)
    x = leaf(rng.standard_normal((3, 2, 4, 5)) * [[[[3.0]], [[0.5]]]] + [[[[10.0]], [[-2.0]]]])
    y = batch_norm(x, None, None, training=True, eps=0.0).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), [1.0, 1.0], rtol=1e-12)


def test_eval_without_running_stats_uses_batch_stats_and_updates_nothing():
    x = leaf([[1.0], [2.0], [3.0], [4.0]])
    y = batch_norm(x, None, None, training=False, eps=0.0)
    np.testing.assert_allclose(y.data[:, 0], XHAT, rtol=1e-12)


def test_eval_leaves_running_stats_alone():
    running_mean, running_var = np.array([2.0]), np.array([4.0])
    batch_norm(leaf([[4.0], [0.0]]), running_mean, running_var, training=False)
    np.testing.assert_array_equal(running_mean, [2.0])
    np.testing.assert_array_equal(running_var, [4.0])


def test_training_records_the_batchnorm_function():
    y = batch_norm(leaf([[1.0], [2.0]]), None, None, training=True)
    assert y._node.function is BatchNorm


# ---------------------------------------------------------------- float32


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_float32_stays_float32_and_matches_float64(training):
    rng = np.random.default_rng(4)
    x64, w64, b64 = rng.standard_normal((4, 3, 5, 5)) * 3 + 1, rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    mean64, var64 = running_stats(rng, 3)
    outputs = {}
    for dtype in (np.float32, np.float64):
        x, w, b = (mg.tensor(a.astype(dtype), requires_grad=True) for a in (x64, w64, b64))
        running_mean, running_var = mean64.astype(dtype), var64.astype(dtype)
        y = batch_norm(x, running_mean, running_var, w, b, training=training)
        y.backward(np.ones(y.shape, dtype=dtype) + np.arange(5, dtype=dtype))
        outputs[dtype] = (y, x.grad.data, w.grad.data, b.grad.data, running_mean, running_var)
    for value32, value64 in zip(outputs[np.float32], outputs[np.float64]):
        data32 = value32.data if isinstance(value32, mg.Tensor) else value32
        data64 = value64.data if isinstance(value64, mg.Tensor) else value64
        assert data32.dtype == np.float32
        np.testing.assert_allclose(data32, data64, rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------- mistakes

BAD_CALLS = {
    "1-D input": (lambda: batch_norm(leaf([1.0, 2.0]), None, None), r"2-D, 3-D or 4-D input.*\(2,\)"),
    "5-D input": (lambda: batch_norm(leaf(np.zeros((2, 1, 1, 1, 1))), None, None), r"got shape \(2, 1, 1, 1, 1\)"),
    "weight of the wrong length": (
        lambda: batch_norm(leaf(np.zeros((2, 3))), None, None, leaf([1.0, 1.0])), r"weight must have shape \(3,\).*got \(2,\)"),
    "bias of the wrong length": (
        lambda: batch_norm(leaf(np.zeros((2, 3))), None, None, None, leaf([0.0])), r"bias must have shape \(3,\).*got \(1,\)"),
    "running_mean of the wrong length": (
        lambda: batch_norm(leaf(np.zeros((2, 3, 2, 2))), np.zeros(4), np.ones(3)), r"running_mean must have shape \(3,\).*got \(4,\)"),
    "running_var of the wrong length": (
        lambda: batch_norm(leaf(np.zeros((2, 3, 2, 2))), np.zeros(3), np.ones(2)), r"running_var must have shape \(3,\).*got \(2,\)"),
    "weight dtype differs from the input's (training)": (
        lambda: batch_norm(leaf(np.zeros((2, 3))), None, None, mg.tensor(np.ones(3, np.float32)), training=True),
        r"input dtype float64 and weight dtype float32 differ"),
    "bias dtype differs from the input's (eval)": (
        lambda: batch_norm(leaf(np.zeros((2, 3))), np.zeros(3), np.ones(3), None, mg.tensor(np.zeros(3, np.float32))),
        r"input dtype float64 and bias dtype float32 differ"),
    "one value per channel in training": (
        lambda: batch_norm(leaf(np.zeros((1, 3, 1, 1))), np.zeros(3), np.ones(3), training=True),
        r"more than 1 value per channel.*\(1, 3, 1, 1\)"),
}


@pytest.mark.parametrize("call, message", list(BAD_CALLS.values()), ids=list(BAD_CALLS))
def test_mistakes_raise_value_error_quoting_the_numbers(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- PyTorch parity


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no affine"])
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 5)], ids=["2-D", "4-D"])
def test_matches_torch_over_training_steps_then_eval(shape, affine):
    """Outputs, all gradients and the running statistics (momentum 0.3, unbiased variance) agree
    step after step; then evaluation with the accumulated statistics agrees too."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(5)
    channels = shape[1]
    weight64, bias64 = rng.uniform(0.5, 2.0, channels), rng.standard_normal(channels)
    running_mean, running_var = np.zeros(channels), np.ones(channels)
    torch_mean, torch_var = torch.zeros(channels, dtype=torch.float64), torch.ones(channels, dtype=torch.float64)

    for step, training in enumerate([True, True, True, False]):
        x64 = rng.standard_normal(shape) * (1.0 + step) + step
        grad_out = rng.standard_normal(shape)
        x, weight, bias = leaf(x64), leaf(weight64), leaf(bias64)
        tx, tweight, tbias = (torch.tensor(a, requires_grad=True) for a in (x64, weight64, bias64))
        if not affine:
            weight = bias = tweight = tbias = None
        y = batch_norm(x, running_mean, running_var, weight, bias, training=training, momentum=0.3, eps=1e-3)
        ty = functional.batch_norm(tx, torch_mean, torch_var, tweight, tbias, training=training, momentum=0.3, eps=1e-3)
        y.backward(grad_out)
        ty.backward(torch.from_numpy(grad_out))

        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-10, err_msg=f"output, step {step}")
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=0, atol=1e-10, err_msg=f"dx, step {step}")
        if affine:
            np.testing.assert_allclose(weight.grad, tweight.grad.numpy(), rtol=0, atol=1e-10, err_msg=f"dweight, step {step}")
            np.testing.assert_allclose(bias.grad, tbias.grad.numpy(), rtol=0, atol=1e-10, err_msg=f"dbias, step {step}")
        np.testing.assert_allclose(running_mean, torch_mean.numpy(), rtol=0, atol=1e-10, err_msg=f"running_mean, step {step}")
        np.testing.assert_allclose(running_var, torch_var.numpy(), rtol=0, atol=1e-10, err_msg=f"running_var, step {step}")
    assert not np.allclose(running_var, 1.0)  # the statistics did move
