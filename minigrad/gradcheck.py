"""Finite-difference gradient checking: is an op's ``backward`` the derivative of its ``forward``?

The idea.  Pick a fixed random array ``v`` shaped like the output and look at the scalar
``L(x) = sum(v * fn(x))``.  Backpropagating ``v`` gives the analytical ``dL/dx`` (that is
``v^T J``, the vector-Jacobian product every backward computes).  Numerically, for each element
``x_i`` the central difference

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

has an error of order eps^2.  Because ``v`` is random, a wrong Jacobian entry shows up in ``v^T J``
with probability one.  For big inputs, instead of every element we can test random directions
``d``: ``dL/dx . d ~ (L(x + eps d) - L(x - eps d)) / (2 eps)``.

Element i passes when ``|analytical - numerical| <= atol + rtol * |numerical|`` (PyTorch's test).
Checks run in float64: in float32 the rounding error of L is ~1e-7 * |L|, and dividing by
2 eps = 2e-6 would leave nothing but noise.
"""

from dataclasses import dataclass

import numpy as np

from minigrad.autograd import no_grad
from minigrad.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytical gradient disagrees with the finite-difference one."""


@dataclass
class InputReport:
    """How one input fared: its worst element and the two values there."""

    input_index: int
    shape: tuple
    mode: str  # "elements" or "directions"
    worst_index: tuple  # element index, or (direction number,) in "directions" mode
    analytical: float
    numerical: float
    max_abs_error: float
    passed: bool

    def describe(self):
        where = f"element {self.worst_index}" if self.mode == "elements" else f"random direction {self.worst_index[0]}"
        return (
            f"input {self.input_index} (shape {self.shape}), {where}: analytical {self.analytical:.10g} "
            f"vs numerical {self.numerical:.10g} (|difference| {self.max_abs_error:.3g})"
        )


def _scalar_objective(fn, inputs, cotangent):
    """L(inputs) = sum(cotangent * fn(*inputs)), evaluated without recording a graph."""
    with no_grad():
        output = fn(*inputs)
    return float(np.sum(cotangent * output.data))


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, n_directions=None,
              max_elements=4096, seed=0, raise_exception=True):
    """Compare the autograd gradient of ``fn`` with central finite differences.

    Args:
        fn: a function of Tensors returning one Tensor (any shape).
        *inputs: its arguments.  Every Tensor with ``requires_grad=True`` is checked and must be
            float64.  The data of each checked input is perturbed in place and restored, so
            ``fn`` may also close over them (e.g. a layer's parameters passed in as inputs).
        eps, atol, rtol: step and tolerances, PyTorch's gradcheck defaults.
        n_directions: check this many random directions instead of every element.  By default
            every element is checked when an input has at most ``max_elements`` elements, and 32
            random directions otherwise.
        seed: seeds the random cotangent and directions, so a failure can be reproduced.
        raise_exception: raise ``GradcheckError`` naming the worst element on failure (default);
            if False, return the list of ``InputReport`` instead.

    Returns:
        ``True`` when every input passes (or the reports, with ``raise_exception=False``).

    >>> import minigrad as mg
    >>> x = mg.tensor([[1.0, -2.0], [0.5, 3.0]], dtype="float64", requires_grad=True)
    >>> mg.gradcheck(lambda t: (t * t).sum(axis=1), x)
    True
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if not inputs[i].is_leaf:
            raise ValueError(f"gradcheck: input {i} was computed by an op; pass leaf tensors (use detach())")
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; gradient checks need float64 "
                f"(finite differences in float32 measure rounding noise)"
            )

    rng = np.random.default_rng(seed)
    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    output = fn(*inputs)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise ValueError("gradcheck: the output does not depend on any input that requires grad")
    cotangent = rng.standard_normal(output.shape)
    output.backward(cotangent)

    reports = []
    for i in checked:
        tensor = inputs[i]
        analytical = np.zeros(tensor.shape) if tensor.grad is None else np.asarray(tensor.grad.data, dtype=np.float64)
        directions = n_directions
        if directions is None and tensor.numel() > max_elements:
            directions = 32
        if directions is None:
            report = _check_elements(fn, inputs, i, analytical, cotangent, eps, atol, rtol)
        else:
            report = _check_directions(fn, inputs, i, analytical, cotangent, eps, atol, rtol, directions, rng)
        reports.append(report)

    failures = [r for r in reports if not r.passed]
    if failures and raise_exception:
        raise GradcheckError("gradient check failed: " + "; ".join(r.describe() for r in failures))
    return True if raise_exception else reports


def _check_elements(fn, inputs, input_index, analytical, cotangent, eps, atol, rtol):
    # BEGIN SOLUTION t03_gradcheck
    data = inputs[input_index].data
    numerical = np.zeros(data.shape)
    for index in np.ndindex(data.shape):
        original = data[index]
        data[index] = original + eps
        plus = _scalar_objective(fn, inputs, cotangent)
        data[index] = original - eps
        minus = _scalar_objective(fn, inputs, cotangent)
        data[index] = original
        numerical[index] = (plus - minus) / (2 * eps)
    # END SOLUTION
    return _report(input_index, data.shape, "elements", analytical, numerical, atol, rtol)


def _check_directions(fn, inputs, input_index, analytical, cotangent, eps, atol, rtol, count, rng):
    data = inputs[input_index].data
    original = data.copy()
    analytical_slopes, numerical_slopes = np.zeros(count), np.zeros(count)
    for k in range(count):
        direction = rng.standard_normal(data.shape)
        direction /= np.linalg.norm(direction)
        data[...] = original + eps * direction
        plus = _scalar_objective(fn, inputs, cotangent)
        data[...] = original - eps * direction
        minus = _scalar_objective(fn, inputs, cotangent)
        data[...] = original
        numerical_slopes[k] = (plus - minus) / (2 * eps)
        analytical_slopes[k] = np.sum(analytical * direction)
    return _report(input_index, data.shape, "directions", analytical_slopes, numerical_slopes, atol, rtol)


def _report(input_index, shape, mode, analytical, numerical, atol, rtol):
    error = np.abs(analytical - numerical)
    excess = error - (atol + rtol * np.abs(numerical))
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.size else ()
    return InputReport(
        input_index=input_index,
        shape=tuple(shape),
        mode=mode,
        worst_index=tuple(int(w) for w in worst),
        analytical=float(analytical[worst]) if excess.size else 0.0,
        numerical=float(numerical[worst]) if excess.size else 0.0,
        max_abs_error=float(error.max()) if excess.size else 0.0,
        passed=bool(np.all(excess <= 0)),
    )
