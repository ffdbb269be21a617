"""resnext_np: the ResNeXt block in the paper's three forms, CIFAR ResNeXt models, data and training.

Built only on minigrad's public API.  What is taught sits here at the top: ``block.py`` (the three
forms), ``convert.py`` (why they are one function), ``model.py`` (the CIFAR network and presets),
``summary.py`` (sizes and costs), ``fit.py`` (a training loop in 80 lines) and ``data/``.  The
commands ``train.py``, ``evaluate.py`` and ``profile.py`` are thin; the training command's
machinery (recipe, budget, loop, checkpoints, run folder, scoring) is ``training/``, read after
all of these.

``convert`` and ``summary`` are not re-exported here: a package attribute with the name of a
submodule would hide it (``import resnext_np.summary as s`` would give the function).  Use
``from resnext_np.convert import convert`` and ``from resnext_np.summary import summary``.
"""

from resnext_np.block import (
    Branch,
    EarlyConcatBlock,
    ResNeXtBottleneck,
    SplitTransformMergeBlock,
    bottleneck_widths,
)
from resnext_np.convert import convert_state_dict
from resnext_np.model import DEFAULT_PRESET, PRESETS, SMALLEST_PRESET, CifarResNeXt, build_model

__all__ = [
    "ResNeXtBottleneck", "SplitTransformMergeBlock", "EarlyConcatBlock", "Branch",
    "bottleneck_widths", "convert_state_dict",
    "CifarResNeXt", "PRESETS", "SMALLEST_PRESET", "DEFAULT_PRESET", "build_model",
]
