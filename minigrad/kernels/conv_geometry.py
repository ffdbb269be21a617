"""The shape bookkeeping of a 2-D convolution, computed once and validated once.

Every convolution kernel (NumPy reference, Numba CPU, numba.cuda) takes arrays plus one
``ConvGeometry`` record, so the arithmetic below is written exactly once.

Dimension legend used throughout ``minigrad.kernels``::

    N   batch size                 G    groups
    C   input channels             Cg   input channels per group  = C / G
    O   output channels            Og   output channels per group = O / G
    H,W input height/width         kh,kw kernel height/width
    oh,ow output height/width

Output size along one spatial axis (the same formula as PyTorch's ``nn.Conv2d``)::

    out = (in + 2*pad - dil*(k - 1) - 1) // stride + 1

``dil*(k - 1) + 1`` is the *effective* kernel extent: a dilated kernel touches taps that
far apart.  The formula counts how many strided positions fit that extent inside the padded input.

Groups: the C input channels are cut into G consecutive slices of Cg channels and the O filters
into G slices of Og filters; filter slice g sees only channel slice g.  That is why the weight
has shape ``(O, Cg, kh, kw)``: each filter spans only its own group's channels.
"""

from collections import namedtuple
from dataclasses import dataclass

# A Numba kernel (CPU or CUDA) cannot take a dataclass, but it can take a named tuple of ints,
# passed by value; so the kernels read ``geometry.stride_h`` exactly as Python code does, and
# take one argument instead of a dozen ints. ``ConvGeometry.record()`` builds it.
KernelGeometry = namedtuple(
    "KernelGeometry",
    [
        "batch", "in_channels", "in_h", "in_w", "out_channels", "kernel_h", "kernel_w",
        "stride_h", "stride_w", "pad_h", "pad_w", "dilation_h", "dilation_w", "groups",
        "out_h", "out_w", "in_channels_per_group", "out_channels_per_group",
    ],
)  # fmt: skip


def as_pair(value, name):
    """Return ``(value, value)`` for an int, or the pair itself; reject anything else."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return int(value[0]), int(value[1])
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


@dataclass(frozen=True)
class ConvGeometry:
    """Sizes of one grouped, strided, padded, dilated 2-D convolution.

    Build it with :meth:`from_shapes`; the constructor itself does no checking.

    >>> g = ConvGeometry.from_shapes((2, 4, 5, 5), (6, 2, 3, 3), stride=2, padding=1, groups=2)
    >>> (g.out_h, g.out_w, g.in_channels_per_group, g.out_channels_per_group)
    (3, 3, 2, 3)
    >>> g.col_shape
    (2, 18, 18)
    """

    batch: int
    in_channels: int
    in_h: int
    in_w: int
    out_channels: int
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    dilation_h: int
    dilation_w: int
    groups: int
    out_h: int
    out_w: int

    @property
    def in_channels_per_group(self):
        return self.in_channels // self.groups

    @property
    def out_channels_per_group(self):
        return self.out_channels // self.groups

    @property
    def input_shape(self):
        """``(N, C, H, W)``"""
        return (self.batch, self.in_channels, self.in_h, self.in_w)

    @property
    def weight_shape(self):
        """``(O, C/G, kh, kw)``"""
        return (self.out_channels, self.in_channels_per_group, self.kernel_h, self.kernel_w)

    @property
    def output_shape(self):
        """``(N, O, oh, ow)``"""
        return (self.batch, self.out_channels, self.out_h, self.out_w)

    @property
    def col_rows(self):
        """Rows of one group's column matrix: ``Cg * kh * kw`` (one per weight tap)."""
        return self.in_channels_per_group * self.kernel_h * self.kernel_w

    @property
    def col_cols(self):
        """Columns of the column matrix: ``N * oh * ow`` (one per output pixel)."""
        return self.batch * self.out_h * self.out_w

    @property
    def col_shape(self):
        """``(G, Cg*kh*kw, N*oh*ow)``: the im2col buffer, group axis explicit."""
        return (self.groups, self.col_rows, self.col_cols)

    def group_slices(self):
        """``(g, input channels of group g, output channels of group g)`` for every group, as slices."""
        Cg, Og = self.in_channels_per_group, self.out_channels_per_group
        return [(g, slice(g * Cg, (g + 1) * Cg), slice(g * Og, (g + 1) * Og)) for g in range(self.groups)]

    def record(self):
        """The same sizes as a :data:`KernelGeometry` named tuple, the form Numba kernels take."""
        return KernelGeometry(*(int(getattr(self, name)) for name in KernelGeometry._fields))

    @classmethod
    def from_shapes(cls, input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1):
        """Validate a convolution's arguments and compute its output size.

        ``input_shape`` is ``(N, C, H, W)``, ``weight_shape`` is ``(O, C/groups, kh, kw)``;
        ``stride``, ``padding`` and ``dilation`` are an int or an ``(h, w)`` pair.
        Every mistake raises ``ValueError`` (or ``TypeError`` for a wrong type) quoting the numbers.
        """
        input_shape = tuple(input_shape)
        weight_shape = tuple(weight_shape)
        if len(input_shape) != 4:
            raise ValueError(
                f"conv2d expects a 4-D input (N, C, H, W), got shape {input_shape} "
                f"with {len(input_shape)} dimensions"
            )
        if len(weight_shape) != 4:
            raise ValueError(
                f"conv2d expects a 4-D weight (C_out, C_in/groups, kH, kW), got shape {weight_shape}"
            )
        stride_h, stride_w = as_pair(stride, "stride")
        pad_h, pad_w = as_pair(padding, "padding")
        dilation_h, dilation_w = as_pair(dilation, "dilation")
        if isinstance(groups, bool) or not isinstance(groups, int):
            raise TypeError(f"groups must be an int, got {groups!r}")
        if stride_h < 1 or stride_w < 1:
            raise ValueError(f"stride must be >= 1, got stride=({stride_h}, {stride_w})")
        if dilation_h < 1 or dilation_w < 1:
            raise ValueError(f"dilation must be >= 1, got dilation=({dilation_h}, {dilation_w})")
        if pad_h < 0 or pad_w < 0:
            raise ValueError(f"padding must be >= 0, got padding=({pad_h}, {pad_w})")
        if groups < 1:
            raise ValueError(f"groups must be >= 1, got groups={groups}")

        batch, in_channels, in_h, in_w = input_shape
        out_channels, weight_in_channels, kernel_h, kernel_w = weight_shape
        if min(input_shape) < 1 or min(weight_shape) < 1:
            raise ValueError(
                f"conv2d needs every size >= 1, got input shape {input_shape} "
                f"and weight shape {weight_shape}"
            )
        if in_channels % groups != 0:
            raise ValueError(f"in_channels={in_channels} is not divisible by groups={groups}")
        if out_channels % groups != 0:
            raise ValueError(f"out_channels={out_channels} is not divisible by groups={groups}")
        if weight_in_channels * groups != in_channels:
            raise ValueError(
                f"weight shape {weight_shape} expects {weight_in_channels} input channels per "
                f"group, so {weight_in_channels * groups} input channels with groups={groups}, "
                f"but the input has {in_channels} channels (input shape {input_shape})"
            )

        out_h = (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) // stride_h + 1
        out_w = (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) // stride_w + 1
        if out_h < 1 or out_w < 1:
            raise ValueError(
                f"kernel ({kernel_h}, {kernel_w}) with dilation ({dilation_h}, {dilation_w}) spans "
                f"({dilation_h * (kernel_h - 1) + 1}, {dilation_w * (kernel_w - 1) + 1}) pixels, "
                f"larger than the padded input ({in_h + 2 * pad_h}, {in_w + 2 * pad_w}); "
                f"output size would be ({out_h}, {out_w})"
            )
        return cls(
            batch=batch, in_channels=in_channels, in_h=in_h, in_w=in_w,
            out_channels=out_channels, kernel_h=kernel_h, kernel_w=kernel_w,
            stride_h=stride_h, stride_w=stride_w, pad_h=pad_h, pad_w=pad_w,
            dilation_h=dilation_h, dilation_w=dilation_w, groups=groups,
            out_h=out_h, out_w=out_w,
        )
