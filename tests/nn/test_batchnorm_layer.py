"""Tests of ``minigrad/nn/batchnorm.py``: the ``nn.BatchNorm2d`` layer."""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

T07 = pytest.mark.t07_batchnorm_backward


def input64(rng, *shape):
    return mg.tensor(rng.standard_normal(shape) * 2.0 + 0.5, dtype=np.float64, requires_grad=True)


def randomise_affine(layer, rng):
    layer.weight.data[...] = rng.uniform(0.5, 2.0, layer.num_features)
    layer.bias.data[...] = rng.standard_normal(layer.num_features)


# ---------------------------------------------------------------- parameters and buffers


def test_parameters_and_buffers():
    layer = nn.BatchNorm2d(3)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(layer.weight.data, np.ones(3))
    np.testing.assert_array_equal(layer.bias.data, np.zeros(3))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(3))
    np.testing.assert_array_equal(layer.running_var, np.ones(3))
    assert layer.num_batches_tracked.shape == () and layer.num_batches_tracked.dtype == np.int64


def test_not_affine_and_not_tracking_hold_nothing():
    layer = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert list(layer.parameters()) == []
    assert list(layer.state_dict()) == []


# ---------------------------------------------------------------- gradients (finite differences)


@T07
def test_gradcheck_training_with_parameters_as_inputs():
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm2d(3).double()
    randomise_affine(layer, rng)
    x = input64(rng, 2, 3, 3, 2)
    assert mg.gradcheck(lambda x, weight, bias: layer(x), x, layer.weight, layer.bias)


def test_gradcheck_eval_with_parameters_as_inputs():
    rng = np.random.default_rng(1)
    layer = nn.BatchNorm2d(3).double()
    randomise_affine(layer, rng)
    layer.running_mean[...] = rng.standard_normal(3)
    layer.running_var[...] = rng.uniform(0.5, 2.0, 3)
    layer.eval()
    x = input64(rng, 2, 3, 3, 2)
    assert mg.gradcheck(lambda x, weight, bias: layer(x), x, layer.weight, layer.bias)


@T07
def test_gradcheck_without_affine_and_without_running_stats():
    layer = nn.BatchNorm2d(2, affine=False, track_running_stats=False).double().eval()  # batch stats even in eval
    assert mg.gradcheck(layer, input64(np.random.default_rng(2), 3, 2, 2, 2))


# ---------------------------------------------------------------- modes, worked by hand


def test_training_updates_running_stats_and_eval_uses_them():
    # One channel holding [1, 2, 3, 4]: mean 2.5, unbiased variance 5/3.
    layer = nn.BatchNorm2d(1, momentum=0.5, eps=0.0).double()
    x = mg.tensor(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2))
    layer(x)
    np.testing.assert_allclose(layer.running_mean, [0.5 * 0 + 0.5 * 2.5], rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, [0.5 * 1 + 0.5 * 5 / 3], rtol=1e-12)
    assert int(layer.num_batches_tracked) == 1
    layer.eval()
    y = layer(x)
    np.testing.assert_allclose(y.data.ravel(), (np.array([1.0, 2.0, 3.0, 4.0]) - 1.25) / np.sqrt(4 / 3), rtol=1e-12)
    assert int(layer.num_batches_tracked) == 1                  # eval counts nothing


def test_without_running_stats_eval_normalises_with_the_batch():
    layer = nn.BatchNorm2d(1, track_running_stats=False, eps=0.0).double().eval()
    y = layer(mg.tensor(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)))
    np.testing.assert_allclose(y.data.ravel(), np.array([-1.5, -0.5, 0.5, 1.5]) / np.sqrt(1.25), rtol=1e-12)


def test_float32_stays_float32_in_both_modes():
    layer = nn.BatchNorm2d(3)
    x = mg.tensor(np.random.default_rng(3).standard_normal((2, 3, 4, 4)).astype(np.float32))
    assert layer(x).dtype == np.float32
    assert layer.running_mean.dtype == np.float32 and layer.running_var.dtype == np.float32
    assert layer.eval()(x).dtype == np.float32


# ---------------------------------------------------------------- mistakes


@pytest.mark.parametrize("shape", [(2, 4, 3, 3), (2, 2, 3, 3)], ids=["4 channels", "2 channels"])
def test_wrong_channel_count(shape):
    with pytest.raises(ValueError, match=re.escape(f"BatchNorm2d(3) expects input (N, 3, H, W), got shape {shape}")):
        nn.BatchNorm2d(3)(mg.zeros(*shape))


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"got shape \(2, 3\)"):
        nn.BatchNorm2d(3)(mg.zeros(2, 3))


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_float64_input_to_a_float32_layer_is_an_error_in_both_modes(training):
    layer = nn.BatchNorm2d(2).train(training)
    with pytest.raises(ValueError, match="input dtype float64 and weight dtype float32"):
        layer(mg.tensor(np.zeros((2, 2, 3, 3))))


def test_zero_features():
    with pytest.raises(ValueError, match="num_features must be >= 1, got 0"):
        nn.BatchNorm2d(0)


# ---------------------------------------------------------------- PyTorch parity


@pytest.mark.parametrize("affine, track", [(True, True), (False, True), (True, False), (False, False)])
def test_state_dict_keys_shapes_and_dtypes_match_torch(affine, track):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm2d(5, affine=affine, track_running_stats=track).state_dict()
    theirs = torch.nn.BatchNorm2d(5, affine=affine, track_running_stats=track).state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key].shape == tuple(value.shape), key
        assert ours[key].dtype == value.numpy().dtype, key


def test_training_steps_then_eval_match_torch():
    """Outputs, gradients, running_mean/var (momentum 0.2, unbiased) and num_batches_tracked."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    ours = nn.BatchNorm2d(3, momentum=0.2).double()
    theirs = torch.nn.BatchNorm2d(3, momentum=0.2).double()
    randomise_affine(ours, rng)
    theirs.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in ours.state_dict().items()})
    for step, training in enumerate([True, True, True, False]):
        ours.train(training)
        theirs.train(training)
        x64 = rng.standard_normal((4, 3, 3, 2)) * (step + 1) - step
        grad_out = rng.standard_normal(x64.shape)
        x, tx = mg.tensor(x64, requires_grad=True), torch.tensor(x64, requires_grad=True)
        ours.zero_grad()
        y, ty = ours(x), theirs(tx)
        y.backward(grad_out)
        ty.backward(torch.from_numpy(grad_out))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=0, atol=1e-10)
        theirs.zero_grad()
        their_state = theirs.state_dict()
        for key in ("running_mean", "running_var", "num_batches_tracked"):
            np.testing.assert_allclose(ours.state_dict()[key], their_state[key].numpy(), rtol=0, atol=1e-10,
                                       err_msg=f"{key} after step {step}")
    assert int(ours.num_batches_tracked) == 3


def test_torch_state_loaded_through_numpy_gives_torchs_eval_output():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2.0)
        theirs.bias.normal_()
    for _ in range(3):                                          # give it non-trivial running statistics
        theirs(torch.randn(8, 4, 3, 3) * 3 + 1)
    theirs.eval()
    ours = nn.BatchNorm2d(4).eval()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    assert int(ours.num_batches_tracked) == 3
    x = np.random.default_rng(5).standard_normal((2, 4, 5, 5)).astype(np.float32) * 3 + 1
    actual = ours(mg.tensor(x))
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual.data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
