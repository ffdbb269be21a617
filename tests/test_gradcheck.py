"""The checker must be able to fail: deliberately wrong backward functions are caught, by name."""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function
from minigrad.functions.broadcast import unbroadcast
from minigrad.gradcheck import GradcheckError, InputReport


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ----------------------------------------------------- deliberately wrong ops
class ExpWrongSign(Function):
    """y = e^x with dx = -dy * y: the sign is wrong."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return -grad_out * y


class TanhOffByTwo(Function):
    """y = tanh x with dx = 2 dy (1 - y^2): off by a factor of two."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return 2 * grad_out * (1 - y * y)


class AddWithoutBroadcastSum(Function):
    """y = a + b, b of shape (1, k) broadcast over a's rows; backward keeps the first row of dy
    for b instead of summing over all rows (the broadcast reduction is missing)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.b_rows = b.shape[0]
        return a + b

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out, grad_out[: ctx.b_rows]


class AddCorrect(Function):
    """The same op done right, to show the checker passes it."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad_out):
        return unbroadcast(grad_out, ctx.a_shape), unbroadcast(grad_out, ctx.b_shape)


class GatherOverwrites(Function):
    """y = x[index] with dx[index] = dy: assignment keeps only the last use of a repeated index,
    where every use must add its contribution."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.input_shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, grad_out):
        grad = np.zeros(ctx.input_shape)
        grad[ctx.index] = grad_out
        return grad


# ------------------------------------------------------------ caught errors
@pytest.mark.t03_gradcheck
def test_wrong_sign_is_caught_and_named():
    # exp'(x) is ~1e-13 at x = -30, below atol, so only element 1 can fail.
    x = f64([-30.0, 2.0, -30.0])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\), element \(1,\)"):
        mg.gradcheck(ExpWrongSign.apply, x)


@pytest.mark.t03_gradcheck
def test_off_by_a_factor_is_caught_and_named():
    # tanh'(x) underflows to ~1e-17 at |x| = 20, so only element (1, 0) can fail.
    x = f64([[20.0, -20.0], [0.3, 20.0]])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 2\)\), element \(1, 0\)") as error:
        mg.gradcheck(TanhOffByTwo.apply, x)
    # the message carries both numbers, the analytical one twice the numerical one
    analytical, numerical = map(float, re.search(r"analytical (\S+) vs numerical (\S+)", str(error.value)).groups())
    assert analytical == pytest.approx(2 * numerical, rel=1e-6)


@pytest.mark.t03_gradcheck
def test_missing_broadcast_reduction_is_caught_on_the_broadcast_input():
    rng = np.random.default_rng(0)
    a, b = f64(rng.standard_normal((4, 3))), f64(rng.standard_normal((1, 3)))
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(1, 3\)\), element \(0, [0-2]\)") as error:
        mg.gradcheck(AddWithoutBroadcastSum.apply, a, b)
    assert "input 0" not in str(error.value)  # a's gradient is right


def test_the_same_op_with_the_broadcast_sum_passes():
    rng = np.random.default_rng(0)
    a, b = f64(rng.standard_normal((4, 3))), f64(rng.standard_normal((1, 3)))
    assert mg.gradcheck(AddCorrect.apply, a, b)


@pytest.mark.t03_gradcheck
def test_overwritten_instead_of_accumulated_gradient_is_caught():
    # x[0] is used three times, x[2] once; assignment keeps one of x[0]'s three contributions.
    x = f64([0.5, -1.0, 2.0, 1.5])
    index = np.array([0, 2, 0, 0])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(4,\)\), element \(0,\)"):
        mg.gradcheck(lambda t: GatherOverwrites.apply(t, index=index), x)
    # with distinct indices assignment is harmless, and the checker agrees
    assert mg.gradcheck(lambda t: GatherOverwrites.apply(t, index=np.array([3, 0])), x)


def test_wrong_gradient_of_a_tensor_used_twice_is_caught():
    """x * exp(x) uses x in two branches; a wrong exp backward spoils the sum of both."""
    x = f64([[0.2, -0.4, 1.1]])
    assert mg.gradcheck(lambda t: t * t.exp(), x)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(1, 3\)\)"):
        mg.gradcheck(lambda t: t * ExpWrongSign.apply(t), x)


# --------------------------------------------------------------- report mode
def test_report_mode_returns_one_report_per_checked_input():
    rng = np.random.default_rng(1)
    a, b = f64(rng.standard_normal((4, 3))), f64(rng.standard_normal((1, 3)))
    constant = f64(rng.standard_normal((4, 3)), requires_grad=False)
    reports = mg.gradcheck(lambda p, c, q: AddWithoutBroadcastSum.apply(p * c, q), a, constant, b,
                           raise_exception=False)
    assert [type(r) for r in reports] == [InputReport, InputReport]
    first, second = reports
    assert (first.input_index, first.shape, first.mode, first.passed) == (0, (4, 3), "elements", True)
    assert (second.input_index, second.shape, second.mode, second.passed) == (2, (1, 3), "elements", False)
    assert second.max_abs_error > 1e-3
    assert abs(second.analytical - second.numerical) == pytest.approx(second.max_abs_error)
    assert "input 2 (shape (1, 3)), element (0, " in second.describe()


@pytest.mark.t03_gradcheck
def test_report_mode_on_a_correct_op_passes_everything():
    x = f64(np.linspace(-1, 1, 6).reshape(2, 3))
    reports = mg.gradcheck(lambda t: t.tanh(), x, raise_exception=False)
    assert len(reports) == 1 and reports[0].passed and reports[0].max_abs_error < 1e-7


# ---------------------------------------------------------- directions mode
def test_large_inputs_switch_to_random_directions():
    rng = np.random.default_rng(2)
    x = f64(rng.uniform(-1, 1, 5000))  # above max_elements=4096
    (report,) = mg.gradcheck(lambda t: t.tanh(), x, raise_exception=False)
    assert report.mode == "directions" and report.passed
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(5000,\)\), random direction \d+"):
        mg.gradcheck(TanhOffByTwo.apply, x)


def test_directions_can_be_requested_for_a_small_input():
    x = f64(np.linspace(0.1, 0.9, 8))
    (report,) = mg.gradcheck(ExpWrongSign.apply, x, n_directions=4, raise_exception=False)
    assert report.mode == "directions" and not report.passed
    assert report.worst_index[0] in range(4)
    assert mg.gradcheck(lambda t: t.exp(), x, n_directions=4)


# ----------------------------------------------------------- refused inputs
def test_float32_input_is_refused():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"input 0 has dtype float32.*float64"):
        mg.gradcheck(lambda t: t * t, x)


def test_nothing_to_check_and_non_leaf_inputs_are_refused():
    x = f64([1.0, 2.0], requires_grad=False)
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        mg.gradcheck(lambda t: t * t, x)
    y = f64([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match="input 0 was computed by an op"):
        mg.gradcheck(lambda t: t * t, y)


@pytest.mark.t03_gradcheck
def test_inputs_are_restored_after_checking():
    values = np.array([[0.3, -0.7], [1.2, 0.05]])
    x = f64(values.copy())
    mg.gradcheck(lambda t: t.exp(), x)
    mg.gradcheck(lambda t: t.exp(), x, n_directions=3)
    np.testing.assert_array_equal(x.data, values)

