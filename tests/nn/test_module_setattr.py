"""Assigning to a registered parameter, buffer or sub-module name follows PyTorch's rules: the
right kind replaces the registration; anything else is a TypeError saying what to do, never a
silently unregistered name that ``state_dict`` would lose."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_a_tensor_assigned_to_a_parameter_name_is_refused_with_what_to_do():
    layer = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"cannot assign Tensor as parameter 'weight' of Linear "
                                         r"\(a minigrad.nn.Parameter or None expected\); wrap it.*copy_"):
        layer.weight = mg.tensor(np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="cannot assign ndarray as parameter 'bias'"):
        layer.bias = np.zeros(3, np.float32)
    assert list(layer.state_dict()) == ["weight", "bias"]


def test_a_parameter_replaces_the_registration():
    layer = nn.Linear(2, 3)
    new = nn.Parameter(mg.zeros(3, 2))
    layer.weight = new
    assert layer.weight is new and dict(layer.named_parameters())["weight"] is new
    np.testing.assert_array_equal(layer.state_dict()["weight"], np.zeros((3, 2)))


@pytest.mark.parametrize("value", [np.full(3, 7.0, np.float32), None])
def test_an_array_or_none_assigned_to_a_buffer_keeps_it_a_buffer(value):
    bn = nn.BatchNorm2d(3)
    bn.running_mean = value
    assert "running_mean" in bn._buffers
    if value is None:
        assert "running_mean" not in bn.state_dict()
    else:
        np.testing.assert_array_equal(bn.state_dict()["running_mean"], value)


def test_a_tensor_assigned_to_a_buffer_stores_its_array():
    bn = nn.BatchNorm2d(3)
    bn.running_var = mg.ones(3) * 2
    assert isinstance(bn.running_var, np.ndarray)
    np.testing.assert_array_equal(bn.state_dict()["running_var"], [2.0, 2.0, 2.0])


def test_anything_else_assigned_to_a_buffer_or_module_name_is_refused():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(TypeError, match=r"cannot assign list as buffer 'running_mean' of BatchNorm2d \(a NumPy array"):
        bn.running_mean = [0.0, 0.0, 0.0]
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"cannot assign str as module '0' of Sequential \(a minigrad.nn.Module or None"):
        setattr(model, "0", "relu")


def test_torch_refuses_the_same_assignments():
    torch = pytest.importorskip("torch")
    layer, bn = torch.nn.Linear(2, 3), torch.nn.BatchNorm2d(3)
    with pytest.raises(TypeError):
        layer.weight = torch.zeros(3, 2)
    with pytest.raises(TypeError):
        bn.running_mean = np.zeros(3)


def test_none_unregisters_a_parameter_and_a_module_or_parameter_takes_over_a_name():
    layer = nn.Linear(2, 3)
    layer.bias = None
    assert list(layer.state_dict()) == ["weight"]
    model = nn.Sequential(nn.Linear(2, 2))
    model.extra = nn.Parameter(mg.zeros(1))
    model.extra = nn.ReLU()
    assert "extra" not in model._parameters and "extra" in model._modules
