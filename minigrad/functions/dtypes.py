"""The one dtype check shared by the ops with compiled kernels (conv2d, batch_norm, relu, pooling).

Their Numba loops are compiled for float32 and float64 only: an integer input would overflow in
the sums without a word (uint8 200 * 2 over 36 taps gives 64, not 14400) and float16 fails deep in
Numba's compiler. So they refuse any other dtype up front, as PyTorch refuses integer convolutions.
"""

import numpy as np

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
