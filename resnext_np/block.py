"""The ResNeXt block three ways (Xie et al., CVPR 2017, Fig. 3): they compute the same function.

Notation: ``C`` = cardinality (number of branches), ``d`` = width of one branch,
``D = C * d`` = width of the whole bottleneck.

(a) ``SplitTransformMergeBlock`` -- split, transform, merge, literally::

        x ──┬── 1x1 in→d ─ 3x3 d→d ─ 1x1 d→out ──┐
            ├── 1x1 in→d ─ 3x3 d→d ─ 1x1 d→out ──┤  (C branches)
            └── ...                               ┴─ sum ─ BN ─ (+ shortcut(x)) ─ ReLU

(b) ``EarlyConcatBlock`` -- the same branches up to the 3x3; their outputs are concatenated
    (D channels) and one 1x1 D→out does the merge.  A 1x1 on a concatenation *is* the sum of
    1x1s on the pieces: ``W @ [h_1; ...; h_C] = sum_i W[:, slice_i] @ h_i``.

(c) ``ResNeXtBottleneck`` -- one 1x1 in→D, one 3x3 *grouped* conv D→D with ``groups=C``, one 1x1
    D→out.  The C branches' first layers together are D filters over the same input, i.e. one
    1x1 in→D conv whose output channels are dealt out d to each branch (it does not squash the
    input to d channels); the C separate 3x3s, each on its own d-channel slice, are exactly a
    grouped convolution.  Form (c) is three big convolutions instead of 3*C small ones, which is
    why it is the form used in practice (``examples/three_forms.py`` times all three).

BatchNorm and ReLU sit as in the paper (footnote 6): BN + ReLU after each of the first two layers
(per branch; BN is per channel, so C BNs over d channels are one BN over D channels sliced), BN
after the merge, ReLU after adding the shortcut.  ``resnext_np.convert`` moves weights between
the three forms exactly.

All three take the constructor arguments of the widely used PyTorch code (prlz77/ResNeXt.pytorch)
and form (c) keeps its attribute names, so ``ResNeXtBottleneck.state_dict()`` keys
(``conv_reduce.weight``, ``bn_reduce.running_mean``, ``shortcut.shortcut_conv.weight``, ...)
match that implementation and weights can be exchanged through NumPy arrays.

One deliberate difference from that code: it adds the projection shortcut only when
``in_channels != out_channels``, so a block with ``stride != 1`` and equal channel counts would
add tensors of different spatial size.  Here the projection is used when
``stride != 1 or in_channels != out_channels``.  (The CIFAR models never build such a block, so
their state dicts are unaffected.)
"""

from minigrad import functional as F
from minigrad.nn import BatchNorm2d, BatchNormAddReLU2d, BatchNormReLU2d, Conv2d, Module, ModuleList, Sequential
from minigrad.random import as_generator


def bottleneck_widths(in_channels, out_channels, cardinality, base_width, widen_factor):
    """``(d, D)``: the width of one branch and of the whole bottleneck, as the reference code has them.

    ``d = int(base_width * out_channels / (widen_factor * 64))`` and ``D = cardinality * d``: a
    stage whose output is ``widen_factor * 64`` channels has branches ``base_width`` wide, and
    wider stages have proportionally wider branches.

    >>> bottleneck_widths(256, 256, cardinality=32, base_width=4, widen_factor=4)   # the paper's 256-d block
    (4, 128)
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("cardinality", cardinality), ("base_width", base_width),
                        ("widen_factor", widen_factor)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    width_ratio = out_channels / (widen_factor * 64.0)
    branch_width = int(base_width * width_ratio)
    if branch_width < 1:
        raise ValueError(
            f"each of the cardinality={cardinality} branches would have int(base_width={base_width} * "
            f"out_channels={out_channels} / (widen_factor={widen_factor} * 64)) = "
            f"int({base_width * width_ratio:g}) = 0 channels; use a larger base_width or out_channels"
        )
    return branch_width, cardinality * branch_width


def needs_projection(in_channels, out_channels, stride):
    """True when the shortcut must be a strided 1x1 conv + BN rather than the identity."""
    return stride != 1 or in_channels != out_channels


def make_shortcut(in_channels, out_channels, stride, generator=None):
    """The shortcut path: an empty ``Sequential`` (identity), or one holding ``shortcut_conv``
    (1x1, stride, no bias) and ``shortcut_bn``, named as in the reference code."""
    shortcut = Sequential()
    if needs_projection(in_channels, out_channels, stride):
        shortcut.shortcut_conv = Conv2d(in_channels, out_channels, kernel_size=1, stride=stride,
                                        bias=False, generator=generator)
        shortcut.shortcut_bn = BatchNorm2d(out_channels)
    return shortcut


class _BlockBase(Module):
    """What the three forms share: the constructor arguments, the widths and the shortcut."""

    def __init__(self, in_channels, out_channels, stride, cardinality, base_width, widen_factor):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        self.branch_width, self.bottleneck_width = bottleneck_widths(
            in_channels, out_channels, cardinality, base_width, widen_factor)
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.cardinality, self.base_width, self.widen_factor = cardinality, base_width, widen_factor

    def config(self):
        """The constructor arguments, so a converter can build the same block in another form."""
        return dict(in_channels=self.in_channels, out_channels=self.out_channels, stride=self.stride,
                    cardinality=self.cardinality, base_width=self.base_width,
                    widen_factor=self.widen_factor)

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects input (N, {self.in_channels}, H, W), "
                             f"got shape {x.shape}")

    def _merge_with_shortcut(self, x, residual):
        return F.relu(self.shortcut(x) + residual)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, stride={self.stride}, "
                f"cardinality={self.cardinality}, branch_width={self.branch_width}")


class ResNeXtBottleneck(_BlockBase):
    """Form (c): 1x1 in→D, 3x3 grouped conv D→D (``groups=cardinality``), 1x1 D→out.

    Args (as in the reference PyTorch code):
        in_channels, out_channels: channels of the block's input and output.
        stride: stride of the 3x3 conv and of the projection shortcut (1 or 2).
        cardinality: C, the number of groups (branches).
        base_width: branch width d of a stage with ``widen_factor * 64`` output channels.
        widen_factor: see ``bottleneck_widths``.
        generator: NumPy Generator (or seed) for the convolutions' default initialisation.

    Shape: (N, in_channels, H, W) -> (N, out_channels, H_out, W_out), H_out = (H - 1) // stride + 1.

    >>> import minigrad as mg
    >>> block = ResNeXtBottleneck(64, 256, stride=1, cardinality=8, base_width=64, widen_factor=4)
    >>> block.conv_conv.weight.shape          # D = 8 * 64 = 512 channels in 8 groups of 64
    (512, 64, 3, 3)
    >>> block(mg.zeros(1, 64, 8, 8)).shape
    (1, 256, 8, 8)
    """

    def __init__(self, in_channels, out_channels, stride, cardinality, base_width, widen_factor,
                 generator=None):
        super().__init__(in_channels, out_channels, stride, cardinality, base_width, widen_factor)
        generator = as_generator(generator)
        width = self.bottleneck_width
        self.conv_reduce = Conv2d(in_channels, width, 1, bias=False, generator=generator)
        # BatchNorm2d + ReLU in one kernel each way (a fast chapter; the same numbers as
        # F.relu(BatchNorm2d(...)), which forms (a) and (b) write out)
        self.bn_reduce = BatchNormReLU2d(width)
        self.conv_conv = Conv2d(width, width, 3, stride=stride, padding=1, groups=cardinality,
                                bias=False, generator=generator)
        self.bn = BatchNormReLU2d(width)
        self.conv_expand = Conv2d(width, out_channels, 1, bias=False, generator=generator)
        # and the merge, F.relu(shortcut(x) + BatchNorm2d(...)), also in one kernel each way
        self.bn_expand = BatchNormAddReLU2d(out_channels)
        self.shortcut = make_shortcut(in_channels, out_channels, stride, generator)

    def forward(self, x):
        self._check_input(x)
        h = self.bn_reduce(self.conv_reduce(x))  # BN + ReLU
        h = self.bn(self.conv_conv(h))  # BN + ReLU
        return self.bn_expand(self.conv_expand(h), self.shortcut(x))  # BN, + shortcut, ReLU


class Branch(Module):
    """One of the C paths of forms (a) and (b): 1x1 in→d + BN + ReLU, 3x3 d→d + BN + ReLU, and in
    form (a) a 1x1 d→out (``out_channels=None`` leaves it out, as form (b) does)."""

    def __init__(self, in_channels, branch_width, stride, out_channels=None, generator=None):
        super().__init__()
        self.conv_reduce = Conv2d(in_channels, branch_width, 1, bias=False, generator=generator)
        self.bn_reduce = BatchNorm2d(branch_width)
        self.conv_conv = Conv2d(branch_width, branch_width, 3, stride=stride, padding=1, bias=False,
                                generator=generator)
        self.bn = BatchNorm2d(branch_width)
        if out_channels is not None:
            self.conv_expand = Conv2d(branch_width, out_channels, 1, bias=False, generator=generator)

    def forward(self, x):
        # BEGIN SOLUTION t13_block_forms_forward
        h = F.relu(self.bn_reduce(self.conv_reduce(x)))
        h = F.relu(self.bn(self.conv_conv(h)))
        return self.conv_expand(h) if "conv_expand" in self._modules else h
        # END SOLUTION


class SplitTransformMergeBlock(_BlockBase):
    """Form (a): C branches each ending in its own 1x1 d→out; their outputs are summed, then one BN.

    The BN after the sum corresponds to ``bn_expand`` of form (c).  Same arguments as
    ``ResNeXtBottleneck``; the branches are ``self.branches[0..C-1]`` (keys ``branches.3.conv_conv.weight``).
    """

    def __init__(self, in_channels, out_channels, stride, cardinality, base_width, widen_factor,
                 generator=None):
        super().__init__(in_channels, out_channels, stride, cardinality, base_width, widen_factor)
        generator = as_generator(generator)
        self.branches = ModuleList(
            Branch(in_channels, self.branch_width, stride, out_channels, generator) for _ in range(cardinality))
        self.bn_expand = BatchNorm2d(out_channels)
        self.shortcut = make_shortcut(in_channels, out_channels, stride, generator)

    def forward(self, x):
        self._check_input(x)
        # BEGIN SOLUTION t13_block_forms_forward
        total = None
        for branch in self.branches:
            out = branch(x)
            total = out if total is None else total + out
        return self._merge_with_shortcut(x, self.bn_expand(total))
        # END SOLUTION


class EarlyConcatBlock(_BlockBase):
    """Form (b): C branches up to the 3x3, outputs concatenated (D channels), one 1x1 D→out + BN.

    Same arguments as ``ResNeXtBottleneck``.  The BN after each branch's 3x3 is kept per branch
    (it equals form (c)'s ``bn`` sliced, since BN works channel by channel).
    """

    def __init__(self, in_channels, out_channels, stride, cardinality, base_width, widen_factor,
                 generator=None):
        super().__init__(in_channels, out_channels, stride, cardinality, base_width, widen_factor)
        generator = as_generator(generator)
        self.branches = ModuleList(
            Branch(in_channels, self.branch_width, stride, None, generator) for _ in range(cardinality))
        self.conv_expand = Conv2d(self.bottleneck_width, out_channels, 1, bias=False, generator=generator)
        self.bn_expand = BatchNorm2d(out_channels)
        self.shortcut = make_shortcut(in_channels, out_channels, stride, generator)

    def forward(self, x):
        self._check_input(x)
        # BEGIN SOLUTION t13_block_forms_forward
        concatenated = F.concatenate([branch(x) for branch in self.branches], axis=1)
        return self._merge_with_shortcut(x, self.bn_expand(self.conv_expand(concatenated)))
        # END SOLUTION


__all__ = [
    "ResNeXtBottleneck", "SplitTransformMergeBlock", "EarlyConcatBlock", "Branch",
    "bottleneck_widths", "needs_projection", "make_shortcut",
]
