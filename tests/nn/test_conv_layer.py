"""Tests of ``minigrad/nn/conv.py``: the ``nn.Conv2d`` layer (and the doctests of the conv and
batch-norm modules, which show the layers' use)."""

import doctest
import importlib
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def input64(rng, *shape):
    return mg.tensor(rng.standard_normal(shape), dtype=np.float64, requires_grad=True)


# ---------------------------------------------------------------- shapes and parameters


def test_parameter_shapes_and_output_shape():
    conv = nn.Conv2d(6, 4, kernel_size=(3, 2), stride=2, padding=(1, 0), dilation=(1, 2), groups=2)
    assert conv.weight.shape == (4, 3, 3, 2)                     # (out, in / groups, kH, kW)
    assert conv.bias.shape == (4,)
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    # H: (7 + 2 - 2 - 1) // 2 + 1 = 4 ;  W: (8 + 0 - 2 - 1) // 2 + 1 = 3
    assert conv(mg.zeros(2, 6, 7, 8)).shape == (2, 4, 4, 3)


def test_without_bias_has_only_a_weight():
    conv = nn.Conv2d(2, 2, 1, bias=False)
    assert conv.bias is None
    assert [name for name, _ in conv.named_parameters()] == ["weight"]


def test_forward_is_the_functional_conv_with_the_layers_parameters():
    conv = nn.Conv2d(2, 2, 1, bias=True)
    conv.weight.data[...] = np.array([[[[2.0]], [[0.0]]], [[[1.0]], [[-1.0]]]])  # y0 = 2 x0 ; y1 = x0 - x1
    conv.bias.data[...] = [0.5, 0.0]
    y = conv(mg.tensor(np.array([[[[3.0]], [[5.0]]]], dtype=np.float32)))
    np.testing.assert_array_equal(y.data, [[[[6.5]], [[-2.0]]]])


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("groups", [1, 2], ids=["groups 1", "groups 2"])
def test_gradcheck_layer_parameters_and_input(bias, groups):
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(2, 4, kernel_size=(3, 2), stride=(2, 1), padding=1, groups=groups, bias=bias, generator=rng).double()
    x = input64(rng, 2, 2, 5, 4)
    parameters = list(conv.parameters())
    assert all(p.dtype == np.float64 for p in parameters)
    assert mg.gradcheck(lambda x, *params: conv(x), x, *parameters)


def test_float32_by_default_and_output_stays_float32():
    conv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
    assert conv.weight.dtype == np.float32 and conv.bias.dtype == np.float32
    x64 = np.random.default_rng(1).standard_normal((2, 4, 5, 5))
    y32 = conv(mg.tensor(x64.astype(np.float32)))
    assert y32.dtype == np.float32
    conv.double()
    y64 = conv(mg.tensor(x64))
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y32.data, y64.data, rtol=1e-5, atol=1e-5)


def test_float64_input_to_a_float32_layer_is_an_error():
    with pytest.raises(ValueError, match="input dtype float64 and weight dtype float32"):
        nn.Conv2d(1, 1, 1)(mg.tensor(np.zeros((1, 1, 2, 2))))


@pytest.mark.parametrize("in_channels, out_channels, groups", [(6, 4, 4), (4, 6, 4), (4, 4, 0), (3, 3, -1)])
def test_channels_not_divisible_by_groups(in_channels, out_channels, groups):
    message = f"in_channels={in_channels} and out_channels={out_channels} must both be divisible by groups={groups}"
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(in_channels, out_channels, 3, groups=groups)


def test_extra_repr_names_the_settings():
    text = repr(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=False))
    assert text == "Conv2d(4, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2, bias=False)"


# ---------------------------------------------------------------- initialisation


def test_same_seed_same_parameters_and_bias_is_not_a_copy_of_the_weights():
    first, second = nn.Conv2d(4, 6, 3, generator=7), nn.Conv2d(4, 6, 3, generator=7)
    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    np.testing.assert_array_equal(first.bias.data, second.bias.data)
    # Both draws share one bound (1/sqrt(36)); restarting the seed for the bias would copy weights.
    assert not np.allclose(first.bias.data, first.weight.data.ravel()[:6])


def uniform_ks_statistic(samples, bound):
    """Kolmogorov-Smirnov distance between the samples and U(-bound, bound)."""
    u = np.sort((np.asarray(samples, dtype=np.float64).ravel() + bound) / (2 * bound))
    n = u.size
    return max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n))


def test_init_is_uniform_with_pytorchs_bound_one_over_sqrt_fan_in():
    conv = nn.Conv2d(4, 1024, kernel_size=(3, 2), groups=2, generator=0)
    fan_in = 2 * 3 * 2                                         # in_channels / groups * kH * kW
    bound = 1 / math.sqrt(fan_in)
    for name, values in (("weight", conv.weight.data), ("bias", conv.bias.data)):
        values = values.astype(np.float64)
        assert np.abs(values).max() <= bound, name
        assert np.abs(values).max() > 0.98 * bound, name       # the bound is reached, not a smaller one
        # critical KS distance at the 0.1% level is 1.95 / sqrt(n)
        assert uniform_ks_statistic(values, bound) < 1.95 / math.sqrt(values.size), name


def test_init_bound_is_the_one_torch_uses():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(4, 1024, kernel_size=(3, 2), groups=2)
    ours = nn.Conv2d(4, 1024, kernel_size=(3, 2), groups=2, generator=0)
    for name in ("weight", "bias"):
        their_values = getattr(theirs, name).detach().numpy()
        our_values = getattr(ours, name).data
        their_bound = np.abs(their_values).max()
        assert np.abs(our_values).max() <= their_bound * 1.02, name
        assert np.abs(our_values).max() >= their_bound * 0.98, name
        np.testing.assert_allclose(our_values.std(), their_values.std(), rtol=0.1, err_msg=name)


# ---------------------------------------------------------------- PyTorch parity


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_state_dict_keys_and_shapes_match_torch(bias):
    torch = pytest.importorskip("torch")
    ours = nn.Conv2d(6, 4, (3, 1), groups=2, bias=bias)
    theirs = torch.nn.Conv2d(6, 4, (3, 1), groups=2, bias=bias)
    our_state, their_state = ours.state_dict(), theirs.state_dict()
    assert list(our_state) == list(their_state)
    for key in their_state:
        assert our_state[key].shape == tuple(their_state[key].shape), key


@pytest.mark.parametrize("dtype, atol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_torch_weights_loaded_through_numpy_give_torchs_output(dtype, atol):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    theirs = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2)
    ours = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2, dtype=dtype)
    if dtype == np.float64:
        theirs = theirs.double()
    ours.load_state_dict({key: value.detach().numpy() for key, value in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 4, 7, 6)).astype(dtype)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    actual = ours(mg.tensor(x))
    assert actual.dtype == dtype
    np.testing.assert_allclose(actual.data, expected, rtol=0, atol=atol)


# ---------------------------------------------------------------- doctests


@pytest.mark.parametrize("module_name", ["minigrad.nn.conv", "minigrad.functions.conv", "minigrad.nn.batchnorm"])
def test_doctests_run(module_name):
    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0, f"{module_name} has no doctest"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests failed in {module_name}"


@pytest.mark.parametrize("argument, value", [("groups", 2.0), ("in_channels", 4.0), ("out_channels", "4"), ("groups", True)])
def test_non_integer_channel_arguments_are_named(argument, value):
    arguments = dict(in_channels=4, out_channels=4, kernel_size=3, groups=2)
    arguments[argument] = value
    with pytest.raises(TypeError, match=rf"Conv2d: {argument} must be an int, got {value!r}"):
        mg.nn.Conv2d(**arguments)
