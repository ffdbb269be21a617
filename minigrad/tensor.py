"""Tensor: a NumPy array, the gradient that flows into it, and the Function that made it.

A Tensor is deliberately thin.  ``data`` holds the values, ``grad`` collects ``d(loss)/d(data)``
after ``backward()``, and ``_node`` remembers which op produced it (``None`` for a leaf: a tensor
you created yourself).  Every arithmetic method just calls one differentiable op from
``minigrad/functions/``; the graph bookkeeping lives in ``minigrad/autograd.py``.

>>> import minigrad as mg
>>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()          # y = sum(x_i^2)
>>> y.backward()
>>> x.grad                     # dy/dx_i = 2 x_i
tensor([2., 4., 6.], dtype=float32)
"""

from collections import namedtuple

import numpy as np

from minigrad.inplace import InPlaceMethods, VersionCounter

DEFAULT_DTYPE = np.float32
FLOAT_DTYPES = (np.float32, np.float64)


def _as_array(data, dtype):
    """Turn ``data`` into an ndarray: NumPy arrays and scalars keep their dtype, Python floats become float32."""
    if isinstance(data, Tensor):
        data = data.data
    array = np.asarray(data)
    if dtype is not None:
        return array.astype(dtype, copy=False)
    if not isinstance(data, (np.ndarray, np.generic)) and array.dtype.kind == "f":
        return array.astype(DEFAULT_DTYPE)
    return array


class Tensor(InPlaceMethods):
    """An n-dimensional array that can record the operations applied to it.

    Args:
        data: array-like.  Python floats and lists become float32 (``DEFAULT_DTYPE``);
            NumPy arrays keep their dtype; integers stay integers.
        requires_grad: if True, ops on this tensor are recorded and ``backward()`` fills ``grad``.
            Only float32/float64 tensors can require grad.
        dtype: optional NumPy dtype to convert to.
    """

    # Elementwise ``==`` returns a boolean array, so Tensors hash by identity.
    __hash__ = object.__hash__
    # ``ndarray * tensor`` must call ``Tensor.__rmul__`` (recorded in the graph); without this NumPy
    # would treat the tensor as a sequence and return an object array of one-element tensors.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        self._grad = None
        self._node = None  # set by Function.apply on op outputs
        # bumped by every in-place op; shared with the Tensor whose array this one reuses (inplace.py)
        shares = isinstance(data, Tensor) and self.data is data.data
        self._version_counter = data._version_counter if shares else VersionCounter()
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ basics
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def size(self, dim=None):
        """The shape as a tuple, or the length of axis ``dim`` (PyTorch's ``size``)."""
        if dim is None:
            return self.data.shape
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size(dim={dim}) is out of range for a tensor with {self.ndim} dimensions")
        return self.data.shape[dim]

    def numel(self):
        """The number of elements."""
        return self.data.size

    def dim(self):
        return self.data.ndim

    @property
    def grad(self):
        """``d(loss)/d(self)`` after ``backward()``: a Tensor without history, or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # As PyTorch, only None or a Tensor shaped like this one (a mistyped grad fails here, not in step())
        if value is not None and (not isinstance(value, Tensor) or value.shape != self.shape):
            got = f"a Tensor of shape {value.shape}" if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"grad must be None or a Tensor of shape {self.shape}, got {got}")
        self._grad = value

    @property
    def is_leaf(self):
        """A leaf was created by the user, not by an op; only leaves keep ``.grad``."""
        return self._node is None

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        # As NumPy: only a one-element tensor has a truth value.  Without this, Python would fall
        # back on __len__ and ``if a == b`` would be True for any non-empty a, b.
        return bool(self.data)

    def __repr__(self):
        grad_note = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{grad_note})"

    def __array__(self, dtype=None, copy=None):
        """Let NumPy read a Tensor (``np.asarray(x.grad)``, ``np.testing``), as it reads a torch Tensor."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self):
        """The underlying array (shared, not copied): writing to it is the untracked escape hatch."""
        return self.data

    def __index__(self):
        """A one-element integer tensor can index a list, as ``classes[label]`` in the tutorial."""
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only one-element integer tensors can be used as an index, "
                            f"got dtype {self.dtype} shape {self.shape}")
        return int(self.data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def requires_grad_(self, requires_grad=True):
        """Switch gradient recording on (or off) for this leaf, in place."""
        if requires_grad and self.data.dtype.type not in FLOAT_DTYPES:
            raise TypeError(
                f"only float32/float64 tensors can require grad, got dtype {self.data.dtype}"
            )
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad can only be switched off on a leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A new leaf sharing the same data and version counter, cut off from the graph."""
        return Tensor(self)

    def backward(self, gradient=None, retain_graph=None):
        """Fill ``.grad`` of every leaf this tensor depends on; see ``autograd.backward``."""
        from minigrad.autograd import backward

        backward(self, gradient, retain_graph=bool(retain_graph))

    def astype(self, dtype):
        """``self`` converted to ``dtype``, recorded in the graph as ``float()`` and ``double()`` are
        (the gradient flows back converted); ``self`` when it already is. ``x.detach().astype(...)``
        for a conversion cut off from the graph; to an integer dtype only without grad."""
        return dtypes.cast(self, dtype)

    def float(self):
        """float32, recorded in the graph; ``self`` when it already is (as PyTorch)."""
        return dtypes.cast(self, np.float32)

    def double(self):
        """float64, recorded in the graph; ``self`` when it already is."""
        return dtypes.cast(self, np.float64)

    # ------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return elementwise.add(self, other)

    def __radd__(self, other):
        return elementwise.add(other, self)

    def __sub__(self, other):
        return elementwise.sub(self, other)

    def __rsub__(self, other):
        return elementwise.sub(other, self)

    def __mul__(self, other):
        return elementwise.mul(self, other)

    def __rmul__(self, other):
        return elementwise.mul(other, self)

    def __truediv__(self, other):
        return elementwise.div(self, other)

    def __rtruediv__(self, other):
        return elementwise.div(other, self)

    def __pow__(self, exponent):
        return elementwise.pow(self, exponent)

    def __rpow__(self, base):
        return elementwise.pow(base, self)

    def __neg__(self):
        return elementwise.neg(self)

    def __matmul__(self, other):
        return matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return matmul.matmul(other, self)

    def exp(self):
        return elementwise.exp(self)

    def log(self):
        return elementwise.log(self)

    def sqrt(self):
        return elementwise.sqrt(self)

    def pow(self, exponent):
        return elementwise.pow(self, exponent)

    def relu(self):
        return activation.relu(self)

    def softmax(self, dim):
        return loss.softmax(self, dim=dim)

    def log_softmax(self, dim):
        return loss.log_softmax(self, dim=dim)

    def sigmoid(self):
        return elementwise.sigmoid(self)

    def tanh(self):
        return elementwise.tanh(self)

    # ------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False, dim=None):
        return reduction.sum(self, axis=_axis_arg(axis, dim), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False, dim=None):
        return reduction.mean(self, axis=_axis_arg(axis, dim), keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """With ``dim`` (PyTorch's form): ``(values, indices)`` along it; otherwise the maximum.

        ``axis=``/``keepdims=`` (NumPy's form) return just the maxima over those axes.
        """
        if dim is None:
            return reduction.max(self, axis=axis, keepdims=keepdims)
        if axis is not None:
            raise TypeError(f"give either axis or dim, not both (axis={axis}, dim={dim})")
        values = reduction.max(self, axis=dim, keepdims=keepdim)
        return MaxResult(values, self.argmax(dim=dim, keepdim=keepdim))

    # ----------------------------------------------------------------- shapes
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return shape_ops.reshape(self, shape)

    def view(self, *shape):
        """PyTorch's ``view``: here the same as ``reshape`` (NumPy returns a view whenever it can)."""
        return self.reshape(*shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return shape_ops.flatten(self, start_dim, end_dim)

    def transpose(self, *axes):
        """With no arguments, reverse all axes; with two ints, swap them (PyTorch's meaning)."""
        return shape_ops.transpose(self, *axes)

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return shape_ops.permute(self, axes)

    @property
    def T(self):
        return shape_ops.transpose(self)

    def __getitem__(self, index):
        return indexing.getitem(self, index)

    # ------------------------------------------- comparisons (no gradient)
    def _compare(self, other, op):
        other_data = other.data if isinstance(other, Tensor) else other
        return Tensor(op(self.data, other_data))

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def argmax(self, axis=None, dim=None, keepdim=False):
        """Indices of the maxima, as an integer tensor without gradient."""
        return Tensor(np.argmax(self.data, axis=_axis_arg(axis, dim), keepdims=keepdim))


# What ``x.max(dim)`` returns, as PyTorch's ``torch.return_types.max``: unpacks as ``values, indices``.
MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _axis_arg(axis, dim):
    """Accept PyTorch's ``dim=`` as a synonym for NumPy's ``axis=``."""
    if axis is not None and dim is not None:
        raise TypeError(f"give either axis or dim, not both (axis={axis}, dim={dim})")
    return dim if axis is None else axis


# The ops need Tensor to exist before they can be imported, so they are bound last.
from minigrad.functions import activation, dtypes, elementwise, indexing, loss, matmul, reduction, shape_ops  # noqa: E402,I001
