"""Random graphs of ops, drawn by Hypothesis: gradients against finite differences (float64),
float32 against float64, PyTorch where installed, a second backward, and in-place changes
before backward (which must raise or leave the gradients exactly as they were).

A program is a list of steps, each written once against the API minigrad shares with PyTorch,
so the same function runs on ``minigrad`` and on ``torch``.  Values come from a NumPy generator
seeded by Hypothesis, so that finite differences stay well conditioned (no kinks of relu at 0).
"""

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import minigrad as mg

MAX_ELEMENTS = 48  # every element of every leaf costs two forward passes in gradcheck


# ------------------------------------------------------------------ the steps: (lib, x, y, axis) -> x
def _exp(lib, x, y, axis):
    return lib.exp(x.tanh())  # tanh first: a chain of exps would overflow


def _log(lib, x, y, axis):
    return lib.log(x * x + 0.5)


def _sqrt(lib, x, y, axis):
    return lib.sqrt(x * x + 0.5)


def _pow(lib, x, y, axis):
    return (x * x + 0.5) ** -0.75  # bounded: a growing power, then cos, left finite differences no digits


def _div(lib, x, y, axis):
    return x / (y * y + 0.5)


STEPS = {
    # elementwise, one input
    "neg": lambda lib, x, y, axis: -x,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "pow": _pow,
    "sin": lambda lib, x, y, axis: lib.sin(x),
    "cos": lambda lib, x, y, axis: lib.cos(x),
    "tanh": lambda lib, x, y, axis: x.tanh(),
    "sigmoid": lambda lib, x, y, axis: x.sigmoid(),
    "relu": lambda lib, x, y, axis: x.relu(),
    "used twice": lambda lib, x, y, axis: x * x.tanh(),
    # along an axis
    "softmax": lambda lib, x, y, axis: lib.softmax(x, axis),
    "log_softmax": lambda lib, x, y, axis: lib.log_softmax(x, axis),
    "sum": lambda lib, x, y, axis: x.sum(dim=axis),
    "mean": lambda lib, x, y, axis: x.mean(dim=axis),
    "cat": lambda lib, x, y, axis: lib.cat([x, x * 2], axis),
    "stack": lambda lib, x, y, axis: lib.stack([x, -x], axis),
    # moving values: views and copies
    "flatten": lambda lib, x, y, axis: x.reshape(-1),
    "transpose": lambda lib, x, y, axis: x.transpose(0, -1),
    "slice": lambda lib, x, y, axis: x[1:],
    "first row": lambda lib, x, y, axis: x[0],
    "gather rows": lambda lib, x, y, axis: x[[0, 0, -1]],
    # two inputs: y is a fresh leaf whose shape broadcasts against x
    "add": lambda lib, x, y, axis: x + y,
    "sub": lambda lib, x, y, axis: x - y,
    "mul": lambda lib, x, y, axis: x * y,
    "div": _div,
    "matmul": lambda lib, x, y, axis: x @ y,
}


def _shape_after(name, shape, axis, operand):
    """The shape a step gives (None when the step does not apply to ``shape``)."""
    ndim, count = len(shape), int(np.prod(shape))
    if name in ("softmax", "log_softmax"):
        return shape
    if name in ("sum", "mean"):
        return shape[:axis] + shape[axis + 1:] if ndim > 1 else None
    if name == "cat":
        grown = shape[:axis] + (2 * shape[axis],) + shape[axis + 1:]
        return grown if 2 * count <= MAX_ELEMENTS else None
    if name == "stack":
        return shape[:axis] + (2,) + shape[axis:] if 2 * count <= MAX_ELEMENTS and ndim < 4 else None
    if name == "flatten":
        return (count,)
    if name == "transpose":
        return (shape[-1],) + shape[1:-1] + (shape[0],) if ndim > 1 else None
    if name == "slice":
        return (shape[0] - 1,) + shape[1:] if shape[0] > 1 else None
    if name == "first row":
        return shape[1:] if ndim > 1 else None
    if name == "gather rows":
        return (3,) + shape[1:] if 3 * count // shape[0] <= MAX_ELEMENTS else None
    if name == "matmul":
        return shape[:-1] + (operand[-1],)
    return shape


@st.composite
def programs(draw):
    """``(leaf_shapes, steps, seed)``: leaf 0 is the input; each two-input step adds a leaf."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    leaf_shapes, steps = [shape], []
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(sorted(STEPS)))
        axis = draw(st.integers(0, len(shape))) if name == "stack" else draw(st.integers(0, len(shape) - 1))
        operand = None
        if name == "matmul":
            operand = (shape[-1], draw(st.integers(1, 3)))
        elif name in ("add", "sub", "mul", "div"):
            kept = draw(st.integers(1, len(shape)))  # broadcasting: leading axes dropped, some sizes 1
            operand = tuple(1 if draw(st.booleans()) else size for size in shape[len(shape) - kept:])
        new_shape = _shape_after(name, shape, axis, operand)
        if new_shape is None or int(np.prod(new_shape)) == 0:
            continue
        if operand is not None:
            leaf_shapes.append(operand)
        steps.append((name, axis))
        shape = new_shape
    return leaf_shapes, steps, draw(st.integers(0, 2**32 - 1))


def run(lib, steps, leaves, keep=None):
    """The program's output; ``keep`` (a list) collects every tensor made on the way."""
    x, operands = leaves[0], iter(leaves[1:])
    for name, axis in steps:
        two_inputs = name in ("add", "sub", "mul", "div", "matmul")
        x = STEPS[name](lib, x, next(operands) if two_inputs else None, axis)
        if keep is not None:
            keep.append(x)
    return x


def values(leaf_shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in leaf_shapes]


def minigrad_gradients(steps, arrays, dtype, cotangent):
    leaves = [mg.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    out = run(mg, steps, leaves)
    (out * mg.tensor(cotangent, dtype=dtype)).sum().backward()
    return out, [leaf.grad for leaf in leaves]


@given(programs())
def test_gradients_match_finite_differences_in_float64(program):
    leaf_shapes, steps, seed = program
    note(f"steps={steps}, leaf shapes={leaf_shapes}")
    leaves = [mg.tensor(a, requires_grad=True) for a in values(leaf_shapes, seed)]
    assert mg.gradcheck(lambda *xs: run(mg, steps, xs), *leaves)


@given(programs())
def test_float32_follows_float64_and_keeps_its_dtype(program):
    leaf_shapes, steps, seed = program
    arrays = values(leaf_shapes, seed)
    out64, grads64 = minigrad_gradients(steps, arrays, np.float64, np.ones(run(mg, steps, [mg.tensor(a) for a in arrays]).shape))
    out32, grads32 = minigrad_gradients(steps, arrays, np.float32, np.ones(out64.shape))
    assert out32.dtype == np.float32 and all(g.dtype == np.float32 for g in grads32)
    for ours, reference in [(out32, out64)] + list(zip(grads32, grads64)):
        scale = max(1.0, float(np.abs(reference.data).max(initial=0)))
        np.testing.assert_allclose(ours.data, reference.data, rtol=1e-3, atol=1e-4 * scale)


@given(programs())
def test_outputs_and_gradients_match_torch(program):
    torch = pytest.importorskip("torch")
    leaf_shapes, steps, seed = program
    arrays = values(leaf_shapes, seed)
    theirs_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs = run(torch, steps, theirs_leaves)
    cotangent = np.random.default_rng(seed + 1).standard_normal(tuple(theirs.shape))
    (theirs * torch.tensor(cotangent)).sum().backward()
    ours, grads = minigrad_gradients(steps, arrays, np.float64, cotangent)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours_grad, their_leaf in zip(grads, theirs_leaves):
        np.testing.assert_allclose(ours_grad.data, their_leaf.grad.numpy(), rtol=1e-10, atol=1e-12)


@given(programs())
def test_a_second_backward_raises_unless_the_graph_was_retained(program):
    leaf_shapes, steps, seed = program
    leaves = [mg.tensor(a, requires_grad=True) for a in values(leaf_shapes, seed)]
    loss = run(mg, steps, leaves).sum()
    loss.backward(retain_graph=True)
    once = [leaf.grad.data.copy() for leaf in leaves]
    loss.backward()
    for leaf, first in zip(leaves, once):
        np.testing.assert_allclose(leaf.grad.data, 2 * first, rtol=1e-14, atol=0)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


# how the in-place change reaches the chosen tensor
ALIASES = {
    "itself": lambda t: t,
    "detach()": lambda t: t.detach(),
    "reshape(-1)": lambda t: t.reshape(-1),  # a view when NumPy can, else a copy
    "x[...]": lambda t: t[...],
    "Parameter(x)": lambda t: mg.nn.Parameter(t.detach()),
    "tensor(x) (a copy)": lambda t: mg.tensor(t),
    "x[[0]] (a copy)": lambda t: t[[0]] if t.ndim else mg.tensor(t),
}


@given(programs(), st.data())
def test_an_in_place_change_before_backward_raises_or_changes_nothing(program, data):
    """Never silently wrong: after an in-place change to any tensor of the graph, or to anything
    sharing its memory, backward raises; a change to a copy leaves the gradients as they were."""
    leaf_shapes, steps, seed = program
    arrays = values(leaf_shapes, seed)
    _, clean = minigrad_gradients(steps, arrays, np.float64, np.ones(run(mg, steps, [mg.tensor(a) for a in arrays]).shape))
    leaves = [mg.tensor(a, requires_grad=True) for a in arrays]
    made = []
    loss = run(mg, steps, leaves, keep=made).sum()
    chosen = data.draw(st.sampled_from(leaves + made + [loss]), label="changed tensor")
    alias_name = data.draw(st.sampled_from(sorted(ALIASES)), label="through")
    with mg.no_grad():
        alias = ALIASES[alias_name](chosen)
        shares = np.shares_memory(alias.data, chosen.data)
        alias.mul_(3.0)
    if shares:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
    else:
        loss.backward()
        for leaf, expected in zip(leaves, clean):
            np.testing.assert_array_equal(leaf.grad.data, expected.data)
