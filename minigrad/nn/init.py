"""Parameter initialisation, in place, with PyTorch's formulas.

fan_in of a weight is the number of inputs that feed one output unit: ``in_features`` for a
Linear weight (out, in), ``in_channels/groups * kH * kW`` for a conv weight (out, in/groups, kH, kW).
fan_out is ``out_features`` (Linear) or ``out_channels * kH * kW`` (conv).

Every function writes through the versioned in-place op ``copy_`` under ``no_grad()``, as PyTorch's
``torch.nn.init`` does: a graph that saved the tensor before sees the change (backward refuses it).
"""

import math

import numpy as np

from minigrad.autograd import no_grad
from minigrad.random import as_generator


def _fill(tensor, values):
    """``tensor.copy_(values)`` without recording a graph; returns ``tensor``."""
    with no_grad():
        return tensor.copy_(values)


def calculate_fan_in_and_fan_out(tensor):
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"fan in/out needs a weight with at least 2 dimensions, got shape {shape}")
    receptive_field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor, mode):
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "tanh":
        return 5.0 / 3
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="relu", generator=None):
    """Fill with N(0, std^2), std = gain / sqrt(fan): keeps activations' variance stable through ReLUs."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return _fill(tensor, as_generator(generator).normal(0.0, std, tensor.shape))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill with U(-bound, bound), bound = gain * sqrt(3 / fan) (same variance as kaiming_normal_)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return _fill(tensor, as_generator(generator).uniform(-bound, bound, tensor.shape))


def uniform_(tensor, low=0.0, high=1.0, generator=None):
    return _fill(tensor, as_generator(generator).uniform(low, high, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    return _fill(tensor, as_generator(generator).normal(mean, std, tensor.shape))


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def constant_(tensor, value):
    return _fill(tensor, value)
