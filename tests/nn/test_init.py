"""Initialisers: fan computation, kaiming statistics, in-place fills."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import init


def empty(*shape):
    return nn.Parameter(np.empty(shape, dtype=np.float64))


def test_fan_in_and_fan_out():
    assert init.calculate_fan_in_and_fan_out(empty(20, 30)) == (30, 20)
    # conv weight (out, in/groups, kH, kW)
    assert init.calculate_fan_in_and_fan_out(empty(16, 4, 3, 5)) == (4 * 15, 16 * 15)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(7,\)"):
        init.calculate_fan_in_and_fan_out(empty(7))


@pytest.mark.parametrize(
    "shape, mode, fan",
    [((256, 128), "fan_in", 128), ((256, 128), "fan_out", 256),
     ((64, 8, 3, 3), "fan_in", 8 * 9), ((64, 8, 3, 3), "fan_out", 64 * 9)],
)
def test_kaiming_normal_std(shape, mode, fan):
    weight = init.kaiming_normal_(empty(*shape), mode=mode, generator=np.random.default_rng(0))
    expected_std = math.sqrt(2.0 / fan)  # gain sqrt(2) for relu
    n = weight.numel()
    # the sample std of n normals has relative standard error ~ 1/sqrt(2n); allow 5 of them
    assert weight.data.std() == pytest.approx(expected_std, rel=5 / math.sqrt(2 * n))
    assert abs(weight.data.mean()) < 5 * expected_std / math.sqrt(n)


def test_kaiming_uniform_bound():
    weight = init.kaiming_uniform_(empty(100, 50), nonlinearity="relu", generator=0)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 50)
    assert np.abs(weight.data).max() <= bound and np.abs(weight.data).max() > 0.95 * bound


def test_gains():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("tanh") == 5 / 3
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(empty(3, 3), mode="fan_avg")


def test_fills_are_in_place():
    weight = empty(3, 4)
    buffer = weight.data
    assert init.zeros_(weight) is weight
    np.testing.assert_array_equal(weight.data, np.zeros((3, 4)))
    init.ones_(weight)
    np.testing.assert_array_equal(weight.data, np.ones((3, 4)))
    init.constant_(weight, 2.5)
    np.testing.assert_array_equal(weight.data, np.full((3, 4), 2.5))
    assert weight.data is buffer


def test_normal_and_uniform_are_seeded():
    first = init.normal_(empty(50), 1.0, 2.0, generator=4).data.copy()
    np.testing.assert_array_equal(init.normal_(empty(50), 1.0, 2.0, generator=4).data, first)
    values = init.uniform_(empty(1000), -2.0, -1.0, generator=4).data
    assert values.min() >= -2.0 and values.max() < -1.0


@pytest.mark.parametrize("fill", [lambda w: init.normal_(w), lambda w: init.kaiming_uniform_(w), init.zeros_,
                                  lambda w: init.constant_(w, 0.5)], ids=["normal_", "kaiming_uniform_", "zeros_",
                                                                           "constant_"])
def test_init_writes_through_the_versioned_copy_so_a_saved_graph_notices(fill):
    weight = mg.nn.Parameter(mg.ones(3, 4))
    loss = (weight * weight).sum()
    assert fill(weight) is weight and weight._version == 1 and weight._last_inplace_op == "copy_"
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*copy_"):
        loss.backward()
