"""Indexing: ``x[index]`` with basic slices, integers, ``None``/``...`` and integer or boolean arrays.

Forward is NumPy's indexing.  Backward scatters the gradient into a zero array of x's shape with
``np.add.at``, which *adds* at repeated indices: ``x[[0, 0]]`` uses x[0] twice, so x[0] must
receive both gradient contributions (plain ``grad[index] += dy`` would keep only one).
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.tensor import Tensor


def _plain_index(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


class GetItem(Function):
    """y = x[index] ;  dx = zeros like x, with dy added at ``index`` (repeats accumulate)"""

    @staticmethod
    def forward(ctx, x, index):
        ctx.input_shape, ctx.index = x.shape, index
        try:
            result = x[index]
        except IndexError as error:
            raise IndexError(f"{error} (tensor shape {x.shape})") from None
        return np.array(result, copy=True)

    @staticmethod
    def backward(ctx, grad_out):
        grad = np.zeros(ctx.input_shape, dtype=grad_out.dtype)
        np.add.at(grad, ctx.index, grad_out)
        return grad


def getitem(x, index):
    return GetItem.apply(x, index=_plain_index(index))
