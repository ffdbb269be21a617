"""In-place ops on Tensors, and the version counter that keeps them honest.

``w -= lr * w.grad`` must change ``w`` itself: the optimiser and the model hold the same object.
But an op may have saved ``w`` for its backward; changing ``w`` before that backward runs would
give a silently wrong gradient.  So every in-place op bumps ``tensor._version``; ``Function.apply``
notes each input's version when it records a node, and ``backward`` refuses a node whose input
has changed since, naming the in-place op (PyTorch's "modified by an inplace operation" error).
minigrad checks every input of a recorded op, not only the ones its backward reads: a little
stricter than PyTorch, never silently wrong.

Tensors that share memory share one counter (a :class:`VersionCounter`): a view made by
``reshape``/``view``/``permute``/``transpose`` or basic indexing (``x[1:3]``, ``x[0]``),
``detach()`` and ``Parameter(t)``.  So ``w.reshape(2, 2).mul_(10)`` is noticed by every op that
used ``w``.  ``from_numpy(t.numpy())`` shares memory but not the counter (as in PyTorch).

In-place ops are not themselves recorded in the graph.  While grad mode is on they refuse a tensor
that requires grad (PyTorch refuses this for leaves), so use them under ``minigrad.no_grad()``,
as optimisers do.  Writing through ``tensor.data`` or the array from ``numpy()`` is the untracked
escape hatch (as ``.data`` is in PyTorch): no version bump, no check.

>>> import minigrad as mg
>>> w = mg.tensor([1.0, 2.0], requires_grad=True)
>>> y = (w * w).sum()
>>> with mg.no_grad():
...     w -= 0.5
>>> y.backward()
Traceback (most recent call last):
...
RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: input 0 of Mul, shape (2,), is at version 1 but was at version 0 when recorded (last changed by __isub__)
"""

import numpy as np


class VersionCounter:
    """How many in-place writes the memory behind one or more Tensors has had, and the last one's name."""

    __slots__ = ("value", "last_op")

    def __init__(self):
        self.value = 0
        self.last_op = None


class InPlaceMethods:
    """The in-place methods of :class:`minigrad.Tensor` (a base class, so ``tensor.py`` stays one idea)."""

    @property
    def _version(self):
        """PyTorch's ``t._version``: the shared counter's value."""
        return self._version_counter.value

    @property
    def _last_inplace_op(self):
        return self._version_counter.last_op

    def add_(self, other, alpha=1):
        return self._write("add_", other, lambda data, value: data + alpha * value)

    def sub_(self, other, alpha=1):
        return self._write("sub_", other, lambda data, value: data - alpha * value)

    def mul_(self, other):
        return self._write("mul_", other, lambda data, value: data * value)

    def div_(self, other):
        return self._write("div_", other, lambda data, value: data / value)

    def copy_(self, source):
        return self._write("copy_", source, lambda data, value: value)

    def fill_(self, value):
        return self._write("fill_", value, lambda data, value: value)

    def zero_(self):
        return self._write("zero_", 0, lambda data, value: value)

    def __iadd__(self, other):
        return self._write("__iadd__", other, lambda data, value: data + value)

    def __isub__(self, other):
        return self._write("__isub__", other, lambda data, value: data - value)

    def __imul__(self, other):
        return self._write("__imul__", other, lambda data, value: data * value)

    def __itruediv__(self, other):
        return self._write("__itruediv__", other, lambda data, value: data / value)

    def _write(self, op_name, other, combine):
        """``self.data[...] = combine(self.data, other)`` in the same array, then bump the version."""
        from minigrad.autograd import is_grad_enabled

        other_is_tensor = isinstance(other, InPlaceMethods)
        value = other.data if other_is_tensor else np.asarray(other)
        if is_grad_enabled() and (self.requires_grad or (other_is_tensor and other.requires_grad)):
            raise RuntimeError(
                f"{op_name}: in-place ops are not recorded in the graph, so they refuse a tensor that "
                f"requires grad while grad mode is on; use the out-of-place op, or minigrad.no_grad()"
            )
        if other_is_tensor and value.dtype != self.data.dtype and value.dtype.kind == "f":
            raise TypeError(f"{op_name}: the operand is {value.dtype} but this tensor is {self.data.dtype}; "
                            f"convert one first (dtypes are never mixed silently)")
        result = np.asarray(combine(self.data, value))
        if np.broadcast_shapes(result.shape, self.shape) != self.shape:
            raise ValueError(f"{op_name}: a result of shape {result.shape} cannot be written into a tensor "
                             f"of shape {self.shape}")
        self.data[...] = result
        self._version_counter.value += 1
        self._version_counter.last_op = op_name
        return self
