"""The version counter (minigrad/inplace.py, minigrad/autograd.py) in the cases issue 23 found
silently wrong: an op's saved *output* changed in place, tensors sharing memory (views,
``detach()``, ``Parameter(t)``), and a second backward through a released graph.  Where PyTorch
is installed, each case is checked to raise there too."""

import numpy as np
import pytest

import minigrad as mg

MODIFIED = "modified by an inplace operation"


def leaf(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# op name in the error -> y = op(x), for the ops that save their output for backward
SAVES_OUTPUT = {
    "Exp": lambda x: x.exp(),
    "Sigmoid": lambda x: x.sigmoid(),
    "Tanh": lambda x: x.tanh(),
    "ReLU": lambda x: x.relu(),
    "Softmax": lambda x: x.softmax(0),
    "LogSoftmax": lambda x: x.log_softmax(0),
    "Sqrt": lambda x: x.sqrt(),
}


@pytest.mark.parametrize("op_name", SAVES_OUTPUT)
def test_changing_a_saved_output_in_place_makes_backward_raise(op_name):
    x = leaf([0.5, 1.0, 2.0])
    y = SAVES_OUTPUT[op_name](x)
    with mg.no_grad():
        y.zero_()
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: the output of {op_name},.*zero_"):
        y.sum().backward()


@pytest.mark.parametrize("op_name", SAVES_OUTPUT)
def test_torch_raises_in_the_same_saved_output_cases(op_name):
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = {"Exp": torch.exp, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "ReLU": torch.relu,
         "Softmax": lambda t: t.softmax(0), "LogSoftmax": lambda t: t.log_softmax(0), "Sqrt": torch.sqrt}[op_name](x)
    with torch.no_grad():
        y.zero_()
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


# how to get a second tensor on w's memory
ALIASES = {
    "reshape": lambda w: w.reshape(2, 2),
    "view": lambda w: w.view(4),
    "transpose of a reshape": lambda w: w.reshape(2, 2).T,
    "basic slice": lambda w: w[1:3],
    "integer index": lambda w: w[0],
    "detach": lambda w: w.detach(),
    "Parameter": lambda w: mg.nn.Parameter(w),
    "detach of a detach": lambda w: w.detach().detach(),
}


@pytest.mark.parametrize("alias", ALIASES)
def test_an_alias_shares_the_version_counter(alias):
    w = leaf([1.0, 2.0, 3.0, 4.0])
    loss = (w * w).sum()
    with mg.no_grad():
        other = ALIASES[alias](w)
        other.mul_(10)
    assert w._version == 1 and other._version == 1
    assert np.shares_memory(other.data, w.data)
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: input 0 of Mul.*mul_"):
        loss.backward()


def test_writing_the_original_is_seen_through_its_alias():
    w = leaf([1.0, 2.0, 3.0, 4.0])
    view = w.detach().reshape(2, 2).requires_grad_()
    loss = (view * view).sum()
    with mg.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_a_copy_does_not_share_the_counter():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    with mg.no_grad():
        mg.tensor(w).mul_(10)  # tensor() copies
        w[[0, 1]].mul_(10)  # advanced indexing copies
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])
    assert w._version == 0


def test_a_reshape_that_must_copy_does_not_share_the_counter():
    w = leaf(np.arange(6.0).reshape(2, 3))
    flat = w.T.reshape(6)  # not contiguous: NumPy copies
    assert not np.shares_memory(flat.data, w.data)
    with mg.no_grad():
        flat.detach().zero_()
    assert w._version == 0


def test_torch_raises_for_an_alias_written_in_place():
    torch = pytest.importorskip("torch")
    for alias in (lambda w: w.reshape(2, 2), lambda w: w.detach(), lambda w: w[1:3], lambda w: torch.nn.Parameter(w)):
        w = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64, requires_grad=True)
        loss = (w * w).sum()
        with torch.no_grad():
            alias(w).mul_(10)
        with pytest.raises(RuntimeError, match=MODIFIED):
            loss.backward()


# ------------------------------------------------------------------ a second backward
def test_a_second_backward_raises_and_names_retain_graph():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])  # not added twice


def test_retain_graph_lets_backward_run_twice_and_accumulate():
    x = leaf([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-15)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_backward_releases_what_each_op_saved():
    x = leaf([1.0, 2.0])
    y = x.exp()
    loss = (y * x).sum()
    assert y._node.ctx.saved_tensors
    loss.backward()
    assert y._node.ctx is None and loss._node.ctx is None


def test_a_shared_subgraph_needs_retain_graph_for_the_second_loss():
    x = leaf([1.0, 2.0])
    hidden = x.tanh()
    hidden.sum().backward(retain_graph=True)
    (hidden * 2).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * (1 - np.tanh([1.0, 2.0]) ** 2), rtol=1e-14)
