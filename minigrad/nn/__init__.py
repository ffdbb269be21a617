"""PyTorch-shaped layers.  Each layer holds its parameters and calls ``minigrad.functional``."""

from minigrad.nn import init
from minigrad.nn.layers import CrossEntropyLoss, Flatten, Identity, Linear, ReLU, Sequential
from minigrad.nn.module import Module, Parameter

__all__ = [
    "init", "Module", "Parameter",
    "Linear", "ReLU", "Identity", "Flatten", "Sequential", "CrossEntropyLoss",
]
