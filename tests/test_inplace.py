"""In-place ops: the same array is changed, the version counter catches a changed saved tensor,
and where PyTorch succeeds the gradients equal PyTorch's."""

import operator

import numpy as np
import pytest

import minigrad as mg

# name in the error -> how to apply it to tensor ``t`` (with a float32 operand of t's shape)
IN_PLACE = {
    "add_": lambda t: t.add_(mg.ones(*t.shape)),
    "sub_": lambda t: t.sub_(mg.ones(*t.shape), alpha=2),
    "mul_": lambda t: t.mul_(3.0),
    "div_": lambda t: t.div_(2.0),
    "copy_": lambda t: t.copy_(mg.zeros(*t.shape)),
    "fill_": lambda t: t.fill_(1.5),
    "zero_": lambda t: t.zero_(),
    "__iadd__": lambda t: operator.iadd(t, 1.0),
    "__isub__": lambda t: operator.isub(t, mg.ones(*t.shape)),
    "__imul__": lambda t: operator.imul(t, 2.0),
    "__itruediv__": lambda t: operator.itruediv(t, 4.0),
}
# the same ops out of place, on arrays: what the data must become
EXPECTED = {
    "add_": lambda a: a + 1, "sub_": lambda a: a - 2, "mul_": lambda a: a * 3, "div_": lambda a: a / 2,
    "copy_": lambda a: a * 0, "fill_": lambda a: a * 0 + 1.5, "zero_": lambda a: a * 0,
    "__iadd__": lambda a: a + 1, "__isub__": lambda a: a - 1, "__imul__": lambda a: a * 2,
    "__itruediv__": lambda a: a / 4,
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_each_op_changes_the_same_array_and_bumps_the_version(name):
    array = np.array([1.0, -2.0, 4.0], dtype=np.float32)
    t = mg.from_numpy(array)
    result = IN_PLACE[name](t)
    assert result is t and t.data is array and t._version == 1
    np.testing.assert_allclose(array, EXPECTED[name](np.array([1.0, -2.0, 4.0])))


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_modifying_a_saved_leaf_makes_backward_raise_naming_the_op(name):
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    with mg.no_grad():
        IN_PLACE[name](x)
    with pytest.raises(RuntimeError, match=f"modified by an inplace operation: input 0 of Mul, shape \\(3,\\), "
                                           f"is at version 1 but was at version 0 when recorded "
                                           f"\\(last changed by {name}\\)"):
        y.backward()


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_modifying_a_saved_intermediate_makes_backward_raise(name):
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    hidden = x.exp()
    y = (hidden * hidden).sum()
    with mg.no_grad():
        IN_PLACE[name](hidden)
    with pytest.raises(RuntimeError, match=f"input 0 of Mul.*last changed by {name}"):
        y.backward()


def test_in_place_on_a_tensor_that_requires_grad_is_refused_while_recording():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: in-place ops are not recorded in the graph"):
        x.add_(1.0)
    plain = mg.zeros(1)
    with pytest.raises(RuntimeError, match="__iadd__: in-place ops are not recorded"):
        plain += x
    assert x.data[0] == 1.0 and plain.data[0] == 0.0


def test_bad_operands_quote_shapes_and_dtypes():
    t = mg.zeros(2, 3)
    with pytest.raises(ValueError, match="add_: a result of shape \\(4, 2, 3\\) cannot be written into a tensor of shape \\(2, 3\\)"):
        t.add_(mg.ones(4, 2, 3))
    with pytest.raises(TypeError, match="mul_: the operand is float64 but this tensor is float32"):
        t.mul_(mg.ones(2, 3, dtype=np.float64))
    assert t._version == 0


def test_writing_through_data_is_the_untracked_escape_hatch():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data[0] = 10.0  # no version bump: backward runs, with the new value
    y.backward()
    np.testing.assert_allclose(x.grad, [20.0, 4.0])


def test_changing_an_unused_tensor_after_backward_is_fine():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    with mg.no_grad():
        x -= 0.5 * x.grad
    np.testing.assert_allclose(x.data, [0.0, 0.0])


def test_gradients_equal_torch_when_both_succeed():
    """A weight scaled in place before use, then a few steps of the tutorial's manual update."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data, inputs = rng.standard_normal(3), rng.standard_normal((5, 3))
    ours_w, theirs_w = mg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    ours_scale, theirs_scale = mg.ones(3, dtype=np.float64), torch.ones(3, dtype=torch.float64)
    ours_scale.mul_(3.0).sub_(mg.tensor(data))
    theirs_scale.mul_(3.0).sub_(torch.tensor(data))
    for _ in range(3):
        ours = ((mg.tensor(inputs) @ (ours_w * ours_scale)) ** 2).sum()
        theirs = ((torch.tensor(inputs) @ (theirs_w * theirs_scale)) ** 2).sum()
        ours.backward()
        theirs.backward()
        np.testing.assert_allclose(ours_w.grad, theirs_w.grad.numpy(), rtol=1e-12)
        with mg.no_grad():
            ours_w -= 1e-2 * ours_w.grad
            ours_w.grad = None
        with torch.no_grad():
            theirs_w -= 1e-2 * theirs_w.grad
            theirs_w.grad = None
    np.testing.assert_allclose(ours_w.data, theirs_w.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("make_optimizer", [lambda ps: mg.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: mg.optim.Adam(ps, lr=0.1)],
                         ids=["SGD", "Adam"])
def test_an_optimiser_step_between_forward_and_backward_makes_backward_raise(make_optimizer):
    """The optimiser changes its parameters in place: a graph recorded before step() must not
    silently use the new values (PyTorch raises here too)."""
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    optimizer = make_optimizer([w])
    (w * w).sum().backward()
    loss = (w * w).sum()  # recorded with w at version 0
    optimizer.step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: input 0 of Mul.* \(last changed by sub_\)"):
        loss.backward()
