"""Pooling layers: thin wrappers around ``minigrad.functions.pooling``."""

from minigrad.functions.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from minigrad.nn.module import Module


class MaxPool2d(Module):
    """Max over (kH, kW) windows.  Shape: (N, C, H, W) -> (N, C, (H + 2p - k)//s + 1, ...)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(Module):
    """Mean over (kH, kW) windows (padding counted as zeros)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    """Average to a fixed output size; ``AdaptiveAvgPool2d(1)`` is the global average pool."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)
