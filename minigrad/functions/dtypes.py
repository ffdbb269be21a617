"""Dtypes: the one check shared by the ops with compiled kernels, and ``Cast`` (``x.float()``).

Their Numba loops are compiled for float32 and float64 only: an integer input would overflow in
the sums without a word (uint8 200 * 2 over 36 taps gives 64, not 14400) and float16 fails deep in
Numba's compiler. So they refuse any other dtype up front, as PyTorch refuses integer convolutions.

``cast`` is the recorded conversion behind ``Tensor.float()`` and ``Tensor.double()``: the gradient
flows back converted to the input's dtype.
"""

import numpy as np

from minigrad.autograd import Function

SUPPORTED = (np.float32, np.float64)


def require_float(op_name, **arrays):
    """Raise ``TypeError`` unless every given array (None skipped) is float32 or float64.

    >>> require_float("conv2d", input=np.zeros(2, dtype=np.uint8))
    Traceback (most recent call last):
    ...
    TypeError: conv2d supports float32 and float64, got input of dtype uint8; convert it first (e.g. x.astype(np.float32), or mg.tensor(x, dtype=np.float32))
    """
    for name, array in arrays.items():
        if array is not None and array.dtype.type not in SUPPORTED:
            raise TypeError(f"{op_name} supports float32 and float64, got {name} of dtype {array.dtype}; convert it "
                            f"first (e.g. x.astype(np.float32), or mg.tensor(x, dtype=np.float32))")


class Cast(Function):
    """y = x converted to ``dtype`` ;  dx = dy converted back to x's dtype"""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out.astype(ctx.input_dtype)


def cast(x, dtype):
    """``x`` as ``dtype`` (recorded, so gradients flow back); ``x`` itself when it already is."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.requires_grad and dtype.type not in SUPPORTED:
        raise TypeError(f"cannot cast a tensor that requires grad to {dtype}: gradients need float32 or float64")
    return Cast.apply(x, dtype=dtype)
