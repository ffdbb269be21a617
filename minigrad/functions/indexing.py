"""Indexing: ``x[index]`` with basic slices, integers, ``None``/``...`` and integer or boolean arrays.

Forward is NumPy's indexing, with PyTorch's (and NumPy's) rule for what is shared: *basic*
indexing (ints, slices, ``None``, ``...``) gives a view that shares x's memory and version
counter, so ``x[0:2].zero_()`` under ``no_grad()`` changes x, and an op that saved x notices;
*advanced* indexing (integer or boolean arrays, Tensors, lists) gives a copy.

Backward scatters the gradient into a zero array of x's shape.  Advanced indexing uses
``np.add.at``, which *adds* at repeated indices: ``x[[0, 0]]`` uses x[0] twice, so x[0] must
receive both gradient contributions (plain ``grad[index] += dy`` would keep only one).  A basic
index names every element at most once, so plain assignment is enough there.
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.tensor import Tensor


def _is_basic(index):
    """True for an index NumPy answers with a view: ints, slices, None and ``...`` only."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(part is None or part is Ellipsis or isinstance(part, slice)
               or (isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_)))
               for part in parts)


def _plain_index(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


class GetItem(Function):
    """y = x[index] ;  dx = zeros like x, with dy added at ``index`` (repeats accumulate)"""

    @staticmethod
    def forward(ctx, x, index):
        ctx.basic = _is_basic(index)
        if ctx.basic and not any(part is Ellipsis for part in (index if isinstance(index, tuple) else (index,))):
            # a trailing ``...`` makes NumPy return a 0-d view, not a copied scalar, for x[0] of a vector
            index = (index if isinstance(index, tuple) else (index,)) + (Ellipsis,)
        ctx.input_shape, ctx.index = x.shape, index
        try:
            return x[index]  # basic: a view of x (Function.apply shares x's version counter); advanced: a copy
        except IndexError as error:
            raise IndexError(f"{error} (tensor shape {x.shape})") from None

    @staticmethod
    def backward(ctx, grad_out):
        grad = np.zeros(ctx.input_shape, dtype=grad_out.dtype)
        if ctx.basic:
            grad[ctx.index] = grad_out
        else:
            np.add.at(grad, ctx.index, grad_out)
        return grad


def getitem(x, index):
    return GetItem.apply(x, index=_plain_index(index))
