"""Exact converters between the three forms of the ResNeXt block (see ``resnext_np/block.py``).

Everything goes through form (c), whose state dict is the canonical one.  With ``d`` the branch
width, branch ``i`` of forms (a)/(b) owns

- rows ``[i*d, (i+1)*d)`` of ``conv_reduce.weight`` (D, in, 1, 1): its d filters of the 1x1;
- the same slice of ``bn_reduce`` and ``bn`` (weight, bias, running_mean, running_var);
- group ``i`` of the grouped ``conv_conv.weight`` (D, d, 3, 3), i.e. rows ``[i*d, (i+1)*d)``:
  group i's filters see only input slice i, so they are an ordinary d→d conv on that slice;
- in form (a), columns ``[i*d, (i+1)*d)`` of ``conv_expand.weight`` (out, D, 1, 1):
  ``W @ concat(h_1..h_C) = sum_i W[:, slice_i] @ h_i``, which is why form (a) sums.

``bn_expand`` and the shortcut are the same in all three forms.  Slicing and concatenating copy
numbers without arithmetic, so conversions are exact and round trips give back identical arrays.
The same rules convert a dict of parameter *gradients* (it has the parameter keys only).

The scalar ``num_batches_tracked`` of a BN is copied to every branch; going back, branch 0's is kept.
"""

from collections import OrderedDict

import numpy as np

from resnext_np.block import EarlyConcatBlock, ResNeXtBottleneck, SplitTransformMergeBlock

FORMS = {"a": SplitTransformMergeBlock, "b": EarlyConcatBlock, "c": ResNeXtBottleneck}

# Layers that live inside every branch in forms (a)/(b), sliced along their output channels.
_BRANCH_LAYERS = ("conv_reduce", "bn_reduce", "conv_conv", "bn")


def form_of(block):
    """'a', 'b' or 'c' for a block instance (or class)."""
    cls = block if isinstance(block, type) else type(block)
    for name, form_cls in FORMS.items():
        if issubclass(cls, form_cls):
            return name
    raise TypeError(f"not a ResNeXt block form: {cls.__name__} (expected one of "
                    + ", ".join(c.__name__ for c in FORMS.values()) + ")")


def _check_form(form):
    if form not in FORMS:
        raise ValueError(f"form must be one of {sorted(FORMS)}, got {form!r}")


def _branch_axis(layer, form):
    """The axis along which a canonical array is cut into branches, or None if it is shared."""
    # BEGIN SOLUTION t08_block_converter
    if layer in _BRANCH_LAYERS:
        return 0
    if layer == "conv_expand" and form == "a":
        return 1
    return None
    # END SOLUTION


def to_grouped_state(state, form, cardinality):
    """A form-``form`` state dict (or gradient dict) -> form (c)'s, by concatenating branch slices."""
    _check_form(form)
    if form == "c":
        return OrderedDict((key, np.array(value, copy=True)) for key, value in state.items())
    shared, pieces = OrderedDict(), OrderedDict()
    for key, value in state.items():
        if key.startswith("branches."):
            _, index, rest = key.split(".", 2)
            pieces.setdefault(rest, {})[int(index)] = np.asarray(value)
        else:
            shared[key] = np.array(value, copy=True)
    grouped = OrderedDict()
    for rest, by_branch in pieces.items():
        if sorted(by_branch) != list(range(cardinality)):
            raise ValueError(f"'branches.*.{rest}': expected branches 0..{cardinality - 1} "
                             f"(cardinality={cardinality}), found {sorted(by_branch)}")
        arrays = [by_branch[i] for i in range(cardinality)]
        # BEGIN SOLUTION t08_block_converter
        axis = _branch_axis(rest.split(".")[0], form)
        grouped[rest] = arrays[0].copy() if arrays[0].ndim == 0 else np.concatenate(arrays, axis=axis)
        # END SOLUTION
    grouped.update(shared)
    return grouped


def from_grouped_state(state, form, cardinality):
    """Form (c)'s state dict (or gradient dict) -> form ``form``'s, by slicing out each branch."""
    _check_form(form)
    if form == "c":
        return OrderedDict((key, np.array(value, copy=True)) for key, value in state.items())
    branch_states = [OrderedDict() for _ in range(cardinality)]
    shared = OrderedDict()
    for key, value in state.items():
        value = np.asarray(value)
        axis = _branch_axis(key.split(".")[0], form)
        if axis is None:
            shared[key] = value.copy()
        elif value.ndim == 0:
            for branch_state in branch_states:
                branch_state[key] = value.copy()
        else:
            if value.shape[axis] % cardinality:
                raise ValueError(f"'{key}' has {value.shape[axis]} channels on axis {axis} (shape {value.shape}), "
                                 f"which cardinality={cardinality} does not divide")
            # BEGIN SOLUTION t08_block_converter
            for i, piece in enumerate(np.split(value, cardinality, axis=axis)):
                branch_states[i][key] = piece.copy()
            # END SOLUTION
    converted = OrderedDict()
    for i, branch_state in enumerate(branch_states):
        for key, value in branch_state.items():
            converted[f"branches.{i}.{key}"] = value
    converted.update(shared)
    return converted


def convert_state_dict(state, source_form, target_form, cardinality):
    """Convert a block's state dict (or a dict of parameter gradients) between forms 'a', 'b', 'c'."""
    _check_form(target_form)
    return from_grouped_state(to_grouped_state(state, source_form, cardinality), target_form, cardinality)


def convert(block, target_form):
    """A new block of form ``target_form`` ('a', 'b', 'c' or the class) computing the same function.

    It has the same constructor arguments, dtype and train/eval mode, and weights and BN running
    statistics converted exactly from ``block``.

    >>> import minigrad as mg
    >>> block_c = ResNeXtBottleneck(8, 16, stride=2, cardinality=2, base_width=16, widen_factor=1)
    >>> block_a = convert(block_c, "a")
    >>> block_a.branches[1].conv_expand.weight.shape      # columns 4..7 of block_c.conv_expand.weight
    (16, 4, 1, 1)
    """
    if isinstance(target_form, type):
        target_form = form_of(target_form)
    _check_form(target_form)
    source_form = form_of(block)
    target = FORMS[target_form](**block.config())
    dtype = next(iter(block.parameters())).dtype
    target.to(dtype)
    target.load_state_dict(convert_state_dict(block.state_dict(), source_form, target_form, block.cardinality))
    target.train(block.training)
    return target


def gradients(block):
    """``{parameter name: gradient array}`` for the parameters that have one (for comparing forms)."""
    return OrderedDict((name, parameter.grad.data) for name, parameter in block.named_parameters()
                       if parameter.grad is not None)


__all__ = ["FORMS", "form_of", "to_grouped_state", "from_grouped_state", "convert_state_dict",
           "convert", "gradients"]
