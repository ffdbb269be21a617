"""The engine: recording, topological backward, accumulation, no_grad, and its error messages."""

import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ------------------------------------------------------------- accumulation
def test_backward_accumulates_into_grad_across_calls():
    x = f64([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, -4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, -1.0, 9.0])  # 2x + 3, not overwritten by 3


def test_tensor_used_in_two_branches_gets_both_contributions():
    # L = sum(x * w + exp(x));  dL/dx = w + exp(x)
    x, w = f64([0.5, -1.0]), f64([2.0, 3.0])
    (x * w + x.exp()).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0 + np.exp(0.5), 3.0 + np.exp(-1.0)])
    np.testing.assert_allclose(w.grad, [0.5, -1.0])


def test_intermediate_used_twice_is_complete_before_it_propagates():
    # h = 2x ; L = sum(h*h + h) ;  dL/dh = 2h + 1 ; dL/dx = 2 (2h + 1) = 8x + 2
    x = f64([1.0, -0.5, 2.0])
    h = x * 2.0
    (h * h + h).sum().backward()
    np.testing.assert_allclose(x.grad, 8 * x.data + 2)
    assert h.grad is None  # only leaves keep .grad


def test_backward_with_an_explicit_gradient():
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    (x * x).backward(np.array([[1.0, 0.0], [0.5, -1.0]]))
    np.testing.assert_allclose(x.grad, [[2.0, 0.0], [3.0, -8.0]])


def test_leaf_that_does_not_require_grad_gets_no_grad():
    x, c = f64([1.0, 2.0]), f64([3.0, 4.0], requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


# ------------------------------------------------------------------ errors
def test_non_scalar_backward_without_grad_quotes_the_shape():
    x = f64(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"single-value output, got shape \(2, 3\)"):
        (x * 2.0).backward()


def test_backward_grad_of_the_wrong_shape_quotes_both_shapes():
    x = f64(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), but the output has shape \(2, 3\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_a_tensor_without_history_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        f64([1.0], requires_grad=False).sum().backward()


class WrongShapeGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum(axis=0)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out  # should be broadcast back to x's shape


class WrongCount(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out


class MissingGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad_out):
        return None


def test_wrong_shaped_gradient_names_the_op_and_shapes():
    x = f64(np.ones((4, 3)))
    with pytest.raises(RuntimeError, match=r"WrongShapeGrad\.backward returned a gradient of shape \(3,\) "
                                           r"for input 0 of shape \(4, 3\)"):
        WrongShapeGrad.apply(x).sum().backward()


def test_wrong_number_of_gradients_names_the_op():
    a, b = f64([1.0]), f64([2.0])
    with pytest.raises(RuntimeError, match=r"WrongCount\.backward returned 1 gradients for 2 inputs"):
        WrongCount.apply(a, b).sum().backward()


def test_none_for_an_input_that_requires_grad_names_the_op():
    with pytest.raises(RuntimeError, match=r"MissingGrad\.backward returned None for input 0"):
        MissingGrad.apply(f64([1.0])).sum().backward()


def test_apply_refuses_non_tensor_inputs():
    with pytest.raises(TypeError, match=r"WrongCount\.apply expects Tensors.*got float at position 1"):
        WrongCount.apply(f64([1.0]), 2.0)


# ---------------------------------------------------------- graph recording
def test_needs_input_grad_tells_backward_which_inputs_matter():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, grad_out):
            return grad_out, None

    Probe.apply(f64([1.0]), f64([2.0], requires_grad=False)).sum().backward()
    assert seen["needs"] == (True, False)


def test_no_grad_records_nothing_and_restores_the_mode():
    x = f64([1.0, 2.0])
    assert mg.is_grad_enabled()
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = (x * 3.0).exp()
        with mg.no_grad():
            pass
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y._node is None
    np.testing.assert_allclose(y.data, np.exp([3.0, 6.0]))


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            1 / 0
    assert mg.is_grad_enabled()


def test_no_input_requiring_grad_records_nothing():
    y = f64([1.0], requires_grad=False) * 2.0
    assert not y.requires_grad and y._node is None


def test_detach_shares_data_and_stops_the_gradient():
    x = f64([1.0, 2.0, 3.0])
    d = x.detach()
    assert d.is_leaf and not d.requires_grad
    assert np.shares_memory(d.data, x.data)
    (d * x).sum().backward()  # only the x branch contributes: d/dx (c * x) = c
    np.testing.assert_allclose(x.grad, [1.0, 2.0, 3.0])


def test_requires_grad_cannot_be_switched_off_on_a_computed_tensor():
    y = f64([1.0]) * 2.0
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


def test_deep_chain_of_5000_ops_has_no_recursion_error():
    x = f64([0.5])
    y = x
    for _ in range(2500):
        y = (y * 1.0001) + 0.001
    y.sum().backward()
    # y = 1.0001^2500 x + const, so dy/dx = 1.0001^2500
    np.testing.assert_allclose(x.grad, [1.0001**2500], rtol=1e-12)


def test_wide_graph_many_uses_of_one_tensor():
    x = f64([2.0])
    total = x * 0.0
    for k in range(1, 201):
        total = total + x * float(k)
    total.sum().backward()
    np.testing.assert_allclose(x.grad, [200 * 201 / 2])


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def evaluator():
        with mg.no_grad():
            entered.set()
            checked.wait(timeout=10)
            seen["evaluator"] = (f64([1.0]) * 2.0).requires_grad

    thread = threading.Thread(target=evaluator)
    thread.start()
    assert entered.wait(timeout=10)
    seen["trainer"] = (f64([1.0]) * 2.0).requires_grad, mg.is_grad_enabled()
    checked.set()
    thread.join(timeout=10)
    assert seen == {"trainer": (True, True), "evaluator": False}


def test_no_grad_blocks_left_in_any_order_end_with_recording_on():
    # Two threads enter and leave in interleaved order: with one process-wide flag the second
    # exit restored "off" for good.
    steps = [threading.Event() for _ in range(3)]
    results = {}

    def first():
        with mg.no_grad():
            steps[0].set()
            steps[1].wait(timeout=10)
        results["first"] = mg.is_grad_enabled()
        steps[2].set()

    def second():
        steps[0].wait(timeout=10)
        with mg.no_grad():
            steps[1].set()
            steps[2].wait(timeout=10)
        results["second"] = mg.is_grad_enabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == {"first": True, "second": True}
    assert mg.is_grad_enabled()

    # In one thread, contexts exited out of order (e.g. by hand-driven __enter__/__exit__).
    outer, inner = mg.no_grad(), mg.no_grad()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert not mg.is_grad_enabled()
    inner.__exit__(None, None, None)
    assert mg.is_grad_enabled()
