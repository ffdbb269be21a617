"""Module: registration order, traversal, modes, zero_grad, state_dict round trips and failed loads."""

from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.inner = nn.Linear(3, 2)
        self.register_buffer("running_mean", np.zeros(3, dtype=np.float32))
        self.shift = nn.Parameter(np.zeros(2, dtype=np.float32))

    def forward(self, x):
        return self.inner(x * self.scale) + self.shift


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(2, 4))
        self.note = "not registered"
        self.plain_tensor = mg.zeros(2)  # a Tensor that is not a Parameter is not registered

    def forward(self, x):
        return self.head(self.first(x))


def test_named_parameters_follow_assignment_order():
    # As PyTorch: a module's own parameters in assignment order, then each sub-module's in turn.
    names = [name for name, _ in Net().named_parameters()]
    assert names == ["first.scale", "first.shift", "first.inner.weight", "first.inner.bias",
                     "head.1.weight", "head.1.bias"]


def test_parameters_are_the_registered_objects():
    net = Net()
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]
    assert any(p is net.first.inner.weight for p in net.parameters())


def test_named_modules_and_children():
    net = Net()
    assert [name for name, _ in net.named_modules()] == ["", "first", "first.inner", "head", "head.0", "head.1"]
    assert [type(m).__name__ for m in net.children()] == ["Block", "Sequential"]


def test_shared_parameter_is_listed_once():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    net[1].weight = net[0].weight
    assert len(list(net.parameters())) == 3


def test_reassigning_an_attribute_unregisters_it():
    layer = nn.Linear(3, 2)
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert layer(mg.zeros(1, 3)).shape == (1, 2)


def test_setting_attributes_before_super_init_is_explained():
    class Forgetful(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(1))

    with pytest.raises(RuntimeError, match=r"Forgetful.__init__ must call super\(\).__init__\(\)"):
        Forgetful()


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.head.train()
    assert [m.training for m in net.modules()] == [False, False, False, True, True, True]
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_clears_every_parameter():
    net = Net()
    net(mg.randn(5, 3, generator=0)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_keys_order_and_copies():
    net = Net()
    state = net.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state) == ["first.scale", "first.shift", "first.running_mean", "first.inner.weight",
                           "first.inner.bias", "head.1.weight", "head.1.bias"]
    state["first.scale"][0] = 42.0
    assert net.first.scale.data[0] == 1.0  # a copy, not a view


def test_state_dict_round_trip_restores_outputs():
    mg.manual_seed(0)
    source = Net()
    source.first.running_mean[...] = [1.0, 2.0, 3.0]
    mg.manual_seed(1)
    target = Net()
    x = mg.randn(4, 3, generator=5)
    assert not np.allclose(source(x).data, target(x).data)
    missing, unexpected = target.load_state_dict(source.state_dict())
    assert (missing, unexpected) == ([], [])
    np.testing.assert_array_equal(source(x).data, target(x).data)
    np.testing.assert_array_equal(target.first.running_mean, [1.0, 2.0, 3.0])
    assert target.first.running_mean is target.first._buffers["running_mean"]


def _snapshot(module):
    return {key: value.copy() for key, value in module.state_dict().items()}


def test_strict_load_reports_missing_unexpected_and_wrong_shapes_and_changes_nothing():
    net = Net()
    before = _snapshot(net)
    state = {key: value + 1.0 for key, value in net.state_dict().items()}
    del state["first.shift"]
    state["head.2.weight"] = np.zeros((1, 1))
    state["first.inner.weight"] = np.zeros((3, 3))
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "missing keys: first.shift" in message
    assert "unexpected keys: head.2.weight" in message
    assert "first.inner.weight: expected shape (2, 3), got (3, 3)" in message
    after = _snapshot(net)
    assert list(after) == list(before)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])  # nothing was half-loaded


def test_non_strict_load_skips_missing_and_unexpected_but_not_wrong_shapes():
    net = Net()
    state = {"first.shift": np.array([5.0, 6.0]), "extra": np.ones(1)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert unexpected == ["extra"] and "first.scale" in missing and "first.shift" not in missing
    np.testing.assert_array_equal(net.first.shift.data, [5.0, 6.0])
    with pytest.raises(RuntimeError, match=r"first.shift: expected shape \(2,\), got \(3,\)"):
        net.load_state_dict({"first.shift": np.zeros(3)}, strict=False)


def test_loaded_values_keep_the_parameter_dtype():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.eye(2, dtype=np.float64), "bias": np.zeros(2)})
    assert layer.weight.dtype == np.float32
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad


def test_double_converts_parameters_and_float_buffers():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.first.running_mean.dtype == np.float64
    assert net(mg.tensor(np.ones((1, 3)))).dtype == np.float64


def test_repr_shows_the_tree():
    text = repr(nn.Sequential(nn.Linear(3, 2), nn.ReLU()))
    assert text == "Sequential(\n  (0): Linear(in_features=3, out_features=2, bias=True)\n  (1): ReLU()\n)"


def test_forward_is_required():
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(1)


def test_load_state_dict_accepts_tensors():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": mg.tensor(np.eye(2)), "bias": mg.tensor([1.0, 2.0])})
    np.testing.assert_array_equal(layer.weight.data, np.eye(2))
    np.testing.assert_array_equal(layer.bias.data, [1.0, 2.0])


def test_load_state_dict_warns_about_non_finite_values_by_name():
    layer = mg.nn.Linear(2, 2)
    state = layer.state_dict()
    state["bias"] = np.array([np.nan, 1.0], dtype=np.float32)
    with pytest.warns(RuntimeWarning, match=r"1 entries hold NaN or infinity: bias$"):
        layer.load_state_dict(state)
    assert np.isnan(layer.bias.data[0])  # loaded, so a diverged model can still be inspected


def test_forward_hooks_see_each_output_until_removed():
    model = mg.nn.Sequential(mg.nn.Linear(2, 3), mg.nn.ReLU())
    seen = []
    handle = model[0].register_forward_hook(lambda module, inputs, output: seen.append((module, output.shape)))
    model(mg.tensor(np.ones((4, 2), dtype=np.float32)))
    handle.remove()
    model(mg.tensor(np.ones((4, 2), dtype=np.float32)))
    assert seen == [(model[0], (4, 3))]
