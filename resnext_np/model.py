"""``CifarResNeXt``: the paper's CIFAR network (Xie et al. 2017, section 5.3), and named presets.

Layout, with ``wf = widen_factor`` and ``n = (depth - 2) // 9`` blocks per stage (each block
holds three conv layers, plus the stem and the classifier: depth = 9n + 2)::

    conv_1_3x3  3x3, 3→64, no bias          (N, 64, 32, 32)
    bn_1 + ReLU
    stage_1     n blocks, 64→64·wf, stride 1      (N, 64·wf, 32, 32)
    stage_2     n blocks, →128·wf, stride 2      (N, 128·wf, 16, 16)
    stage_3     n blocks, →256·wf, stride 2      (N, 256·wf, 8, 8)
    global average pool, classifier (Linear 256·wf → num_classes, with bias)

The stride sits in the first block of a stage.  Names follow prlz77/ResNeXt.pytorch
(``stage_2.stage_2_bottleneck_0.conv_conv.weight``), so state dicts line up with that code.

Presets (``build_model(name, num_classes)``); parameters for 10 classes, multiply-adds of
convolutions and the classifier for one 32x32 image (``resnext_np.summary``)::

    name                 C  depth  d  wf   parameters   multiply-adds
    resnext11_4x8d_w1    4   11    8   1      161,866      29,821,440   smallest; CPU toy training
    resnext20_8x8d_w1    8   20    8   1      548,170      92,998,144   larger CPU model
    resnext29_32x4d     32   29    4   4    4,775,754     774,055,936   C=32, d=4 as the paper's ImageNet template
    resnext29_8x64d      8   29   64   4   34,426,698   5,387,266,048   the paper's CIFAR model
    resnext29_16x64d    16   29   64   4   68,155,210  10,688,866,304   the paper's CIFAR model

(``d`` is the base width: the branch width in stage 1; it doubles in stage 2 and again in stage 3.)
"""

import numpy as np

from minigrad import functional as F
from minigrad.nn import BatchNorm2d, BatchNormReLU2d, Conv2d, Linear, Module, PatchWhitening2d, Sequential, init
from minigrad.random import as_generator
from resnext_np.block import ResNeXtBottleneck

STEM_CHANNELS = 64


class CifarResNeXt(Module):
    """ResNeXt for 32x32 images, as in the paper and prlz77/ResNeXt.pytorch.

    Args:
        cardinality: C, the number of groups in every block's 3x3 convolution.
        depth: 9n + 2 (29 in the paper): n blocks per stage.
        num_classes: outputs of the classifier.
        base_width: branch width d in the first stage (it doubles with each stage).
        widen_factor: stage outputs are (64, 128, 256) * widen_factor.
        in_channels: channels of the input images (3).
        input_size: height and width of the input images (32); the global average pool would
            accept any size, but another size is almost always a data-pipeline mistake.
        training_sizes: other square sizes accepted in training mode only (``()``): the ``cpu``
            recipe trains its first epochs on 24x24 crops, a step costing in proportion to pixels;
            evaluation still takes ``input_size`` alone.
        generator: NumPy Generator or seed for the initialisation.
        whitening_stem: make ``conv_1_3x3`` a ``PatchWhitening2d``: filters that whiten the 3x3
            patches of the training images, set by ``model.conv_1_3x3.fit(images)`` and never
            trained (the ``cpu`` recipe's stem; same state-dict keys as the trained stem).

    Initialisation (as the reference code): conv weights Kaiming normal with fan_out, BN weight 1
    and bias 0, classifier weight Kaiming normal (fan_in) and bias 0.

    Shape: (N, in_channels, input_size, input_size) -> (N, num_classes) logits.

    >>> import minigrad as mg
    >>> model = CifarResNeXt(cardinality=4, depth=11, num_classes=10, base_width=8, widen_factor=1)
    >>> sum(p.numel() for p in model.parameters())
    161866
    >>> model(mg.zeros(2, 3, 32, 32)).shape
    (2, 10)
    """

    def __init__(self, cardinality, depth, num_classes, base_width, widen_factor=4, in_channels=3,
                 input_size=32, generator=None, whitening_stem=False, training_sizes=()):
        super().__init__()
        for name, value in (("cardinality", cardinality), ("depth", depth), ("num_classes", num_classes),
                            ("base_width", base_width), ("widen_factor", widen_factor),
                            ("in_channels", in_channels), ("input_size", input_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for size in training_sizes:
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
                raise ValueError(f"training_sizes must be positive ints, got {tuple(training_sizes)!r}")
        if depth < 11 or (depth - 2) % 9:
            raise ValueError(f"depth must be 9n + 2 with n >= 1 (11, 20, 29, ...), got depth={depth}")
        self.cardinality, self.depth, self.num_classes = cardinality, depth, num_classes
        self.base_width, self.widen_factor = base_width, widen_factor
        self.in_channels, self.input_size = in_channels, input_size
        self.training_sizes = tuple(int(size) for size in training_sizes)
        self.block_depth = (depth - 2) // 9
        self.stages = [STEM_CHANNELS, 64 * widen_factor, 128 * widen_factor, 256 * widen_factor]

        if whitening_stem:  # filters computed from the data by fit(), never trained: minigrad/nn/whitening.py
            self.conv_1_3x3 = PatchWhitening2d(in_channels, STEM_CHANNELS, 3, stride=1, padding=1)
        else:
            self.conv_1_3x3 = Conv2d(in_channels, STEM_CHANNELS, 3, stride=1, padding=1, bias=False)
        self.bn_1 = BatchNormReLU2d(STEM_CHANNELS)  # BatchNorm2d + ReLU, fused
        self.stage_1 = self._make_stage("stage_1", self.stages[0], self.stages[1], stride=1)
        self.stage_2 = self._make_stage("stage_2", self.stages[1], self.stages[2], stride=2)
        self.stage_3 = self._make_stage("stage_3", self.stages[2], self.stages[3], stride=2)
        self.classifier = Linear(self.stages[3], num_classes)
        self.reset_parameters(generator)

    def _make_stage(self, name, in_channels, out_channels, stride):
        """``block_depth`` blocks named ``<name>_bottleneck_<i>``; the first one changes width and stride."""
        stage = Sequential()
        for index in range(self.block_depth):
            block = ResNeXtBottleneck(in_channels if index == 0 else out_channels, out_channels,
                                      stride if index == 0 else 1, self.cardinality, self.base_width,
                                      self.widen_factor)
            setattr(stage, f"{name}_bottleneck_{index}", block)
        return stage

    def reset_parameters(self, generator=None):
        """Kaiming-normal (fan_out) convs, BN weight 1 / bias 0, Kaiming-normal classifier, bias 0."""
        generator = as_generator(generator)  # a seed becomes one stream for every layer
        for module in self.modules():
            if isinstance(module, Conv2d):
                init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            elif isinstance(module, BatchNorm2d):
                init.ones_(module.weight)
                init.zeros_(module.bias)
        init.kaiming_normal_(self.classifier.weight, generator=generator)
        init.zeros_(self.classifier.bias)

    def forward(self, x):
        sizes = (self.input_size,) + (self.training_sizes if self.training else ())
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2] != x.shape[3] or x.shape[2] not in sizes:
            also = "".join(f" or (N, {self.in_channels}, {s}, {s})" for s in sizes[1:])
            raise ValueError(f"{type(self).__name__} expects input (N, {self.in_channels}, {self.input_size}, "
                             f"{self.input_size}){also}, got shape {x.shape}")
        x = self.bn_1(self.conv_1_3x3(x))  # BN + ReLU
        x = self.stage_3(self.stage_2(self.stage_1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)

    def extra_repr(self):
        return (f"cardinality={self.cardinality}, depth={self.depth}, num_classes={self.num_classes}, "
                f"base_width={self.base_width}, widen_factor={self.widen_factor}"
                + (", whitening_stem=True" if isinstance(self.conv_1_3x3, PatchWhitening2d) else ""))


# name -> CifarResNeXt arguments (other than num_classes); the table in the module docstring
# gives each one's size and cost, and tests/resnext_np/test_model.py checks that table.
PRESETS = {
    "resnext11_4x8d_w1": dict(cardinality=4, depth=11, base_width=8, widen_factor=1),
    "resnext20_8x8d_w1": dict(cardinality=8, depth=20, base_width=8, widen_factor=1),
    "resnext29_32x4d": dict(cardinality=32, depth=29, base_width=4, widen_factor=4),
    "resnext29_8x64d": dict(cardinality=8, depth=29, base_width=64, widen_factor=4),
    "resnext29_16x64d": dict(cardinality=16, depth=29, base_width=64, widen_factor=4),
}
SMALLEST_PRESET = "resnext11_4x8d_w1"
DEFAULT_PRESET = SMALLEST_PRESET


def build_model(name, num_classes=10, **overrides):
    """The preset ``name`` as a ``CifarResNeXt`` with ``num_classes`` outputs.

    ``overrides`` replace preset arguments or add others (``generator=0``, ``input_size=...``).

    >>> build_model("resnext11_4x8d_w1", num_classes=100).classifier.out_features
    100
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; presets are: {', '.join(PRESETS)}")
    return CifarResNeXt(num_classes=num_classes, **{**PRESETS[name], **overrides})


__all__ = ["CifarResNeXt", "PRESETS", "SMALLEST_PRESET", "DEFAULT_PRESET", "build_model"]
