"""``summary(model, input_shape)``: a table of every layer's output shape, parameters and multiply-adds.

Multiply-adds count the work of the layers that do matrix products, per forward pass of the
given input shape:

- ``Conv2d``:  N * C_out * H_out * W_out * (C_in / groups) * kH * kW   (each output element is a
  dot product over the C_in/groups * kH * kW inputs its filter sees -- why grouping divides the
  cost of a convolution by ``groups``);
- ``Linear``:  (number of rows) * in_features * out_features.

BatchNorm, ReLU, pooling and the residual additions are counted as zero (they are a few
operations per activation, small next to the convolutions).

The model is run once in eval mode under ``no_grad`` on zeros, so its running statistics are
not changed, and its train/eval flags are restored afterwards.
"""

from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad.nn import Conv2d, Linear


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    parameters: int
    multiply_adds: int


@dataclass
class Summary:
    """The rows in call order and the totals; ``str(summary)`` is the printed table."""

    input_shape: tuple
    rows: list = field(default_factory=list)
    total_parameters: int = 0
    trainable_parameters: int = 0

    @property
    def total_multiply_adds(self):
        return sum(row.multiply_adds for row in self.rows)

    def __str__(self):
        name_width = max([len("layer")] + [len(row.name) for row in self.rows])
        kind_width = max([len("type")] + [len(row.kind) for row in self.rows])
        header = (f"{'layer':<{name_width}}  {'type':<{kind_width}}  {'output shape':<22}"
                  f"{'parameters':>12}  {'multiply-adds':>16}")
        lines = [f"input {self.input_shape}", header, "-" * len(header)]
        for row in self.rows:
            lines.append(f"{row.name:<{name_width}}  {row.kind:<{kind_width}}  {str(row.output_shape):<22}"
                         f"{row.parameters:>12,}  {row.multiply_adds:>16,}")
        lines.append("-" * len(header))
        lines.append(f"total parameters:     {self.total_parameters:,}")
        lines.append(f"trainable parameters: {self.trainable_parameters:,}")
        lines.append(f"total multiply-adds:  {self.total_multiply_adds:,}")
        return "\n".join(lines)


def multiply_adds(module, output_shape):
    """Multiply-adds of one call of ``module`` that produced an output of ``output_shape``."""
    if isinstance(module, Conv2d):
        kernel_h, kernel_w = module.kernel_size
        per_output = module.in_channels // module.groups * kernel_h * kernel_w
        return int(np.prod(output_shape)) * per_output
    if isinstance(module, Linear):
        return int(np.prod(output_shape)) * module.in_features
    return 0


def summary(model, input_shape, dtype=np.float32):
    """Run ``model`` on zeros of ``input_shape`` (N, C, H, W) and tabulate its leaf layers.

    Returns a ``Summary``; print it for the table.  Each leaf module (one without children) gets
    a row per call, named by its dotted path as in ``state_dict`` keys.

    >>> import minigrad as mg
    >>> net = mg.nn.Sequential(mg.nn.Conv2d(4, 8, 3, groups=2, bias=False), mg.nn.ReLU())
    >>> table = summary(net, (1, 4, 5, 5))
    >>> table.rows[0].output_shape, table.rows[0].parameters, table.rows[0].multiply_adds
    ((1, 8, 3, 3), 144, 1296)
    """
    input_shape = tuple(int(s) for s in input_shape)
    result = Summary(input_shape=input_shape)
    result.total_parameters = sum(p.numel() for p in model.parameters())
    result.trainable_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)

    leaves = [(name, module) for name, module in model.named_modules() if not module._modules]
    modes = [(module, module.training) for module in model.modules()]

    def recorder(name, module, original_forward):
        def forward(*args, **kwargs):
            output = original_forward(*args, **kwargs)
            parameters = sum(p.numel() for p in module._parameters.values() if p is not None)
            result.rows.append(LayerRow(name=name or type(module).__name__, kind=type(module).__name__,
                                        output_shape=tuple(output.shape), parameters=parameters,
                                        multiply_adds=multiply_adds(module, output.shape)))
            return output
        return forward

    try:
        model.eval()
        for name, module in leaves:
            # An instance attribute shadows the class's forward for this one run; removed below.
            object.__setattr__(module, "forward", recorder(name, module, module.forward))
        with mg.no_grad():
            model(mg.zeros(*input_shape, dtype=dtype))
    finally:
        for _, module in leaves:
            module.__dict__.pop("forward", None)
        for module, training in modes:
            object.__setattr__(module, "training", training)
    return result


__all__ = ["summary", "Summary", "LayerRow", "multiply_adds"]
