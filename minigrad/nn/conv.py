"""``nn.Conv2d``: the layer that holds a convolution's weight and bias."""

import math

import numpy as np

from minigrad.functions.conv import conv2d
from minigrad.kernels.conv_geometry import as_pair
from minigrad.nn import init
from minigrad.nn.module import Module, Parameter
from minigrad.random import as_generator
from minigrad.tensor import DEFAULT_DTYPE


class Conv2d(Module):
    r"""2-D convolution over an (N, C_in, H, W) input, as PyTorch's ``nn.Conv2d``.

    ``groups`` splits the layer into independent convolutions side by side: with ``groups=2`` it
    is two conv layers, each seeing half the input channels and producing half the output
    channels, their outputs concatenated.  With ``groups=in_channels`` every channel is filtered
    on its own (a depthwise convolution).  ``in_channels`` and ``out_channels`` must both be
    divisible by ``groups``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding, dilation: an int or an (h, w) pair.
        groups: number of channel groups.
        bias: add a learnable (out_channels,) bias.
        generator: NumPy Generator (or seed) for the initialisation.

    Shape:
        - Input: (N, C_in, H, W)
        - Output: (N, C_out, H_out, W_out), with
          H_out = (H + 2*padding[0] - dilation[0]*(kernel_size[0] - 1) - 1) // stride[0] + 1
          (and the same for W).

    Attributes:
        weight: (out_channels, in_channels / groups, kH, kW), initialised uniformly in
            [-1/sqrt(fan_in), 1/sqrt(fan_in)] with fan_in = in_channels/groups * kH * kW
            (PyTorch's default).
        bias: (out_channels,), same bound.

    >>> import minigrad as mg
    >>> conv = mg.nn.Conv2d(8, 16, kernel_size=3, padding=1, groups=4)
    >>> conv.weight.shape                         # each filter sees 8/4 = 2 channels
    (16, 2, 3, 3)
    >>> conv(mg.zeros(2, 8, 10, 10)).shape
    (2, 16, 10, 10)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, dtype=DEFAULT_DTYPE, generator=None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"Conv2d: {name} must be an int, got {value!r} ({type(value).__name__})")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels={in_channels} and out_channels={out_channels} must both be divisible "
                f"by groups={groups}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride = as_pair(stride, "stride")
        self.padding = as_pair(padding, "padding")
        self.dilation = as_pair(dilation, "dilation")
        weight_shape = (out_channels, in_channels // groups) + self.kernel_size
        # One Generator for both draws: an int seed passed on twice would restart the same stream
        # and make the bias a copy of the first weights.
        generator = as_generator(generator)
        self.weight = Parameter(np.empty(weight_shape, dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if bias:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(self.bias, -bound, bound, generator=generator)
        else:
            self.bias = None

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
