"""PyTorch-shaped layers.  Each layer holds its parameters and calls ``minigrad.functional``."""

from minigrad.nn import init
from minigrad.nn.batchnorm import BatchNorm2d, BatchNormAddReLU2d, BatchNormReLU2d
from minigrad.nn.conv import Conv2d
from minigrad.nn.layers import CrossEntropyLoss, Dropout, Flatten, Identity, Linear, ModuleList, ReLU, Sequential
from minigrad.nn.module import Module, Parameter
from minigrad.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minigrad.nn.whitening import PatchWhitening2d

__all__ = [
    "init", "Module", "Parameter",
    "Linear", "ReLU", "Dropout", "Identity", "Flatten", "Sequential", "ModuleList", "CrossEntropyLoss",
    "Conv2d", "BatchNorm2d", "BatchNormReLU2d", "BatchNormAddReLU2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "PatchWhitening2d",
]
