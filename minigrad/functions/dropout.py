"""Dropout: during training, zero each element with probability p and scale the survivors by
1 / (1 - p), so the expected value of every element is unchanged and evaluation needs no rescaling.

The mask is drawn from a NumPy generator: minigrad's default one (``minigrad.manual_seed`` seeds
it) unless one is passed, so a run is reproducible and a gradient check can draw the same mask twice.
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.random import as_generator

__all__ = ["Dropout", "dropout"]


class Dropout(Function):
    """y = x * m / (1 - p) ;  dx = dy * m / (1 - p)   with m_i = 1 with probability 1 - p, else 0"""

    @staticmethod
    def forward(ctx, x, p, generator):
        keep = generator.random(x.shape) >= p
        # p == 1 drops everything (PyTorch returns zeros), where 1 / (1 - p) is undefined
        scale = keep.astype(x.dtype) * (x.dtype.type(1 / (1 - p)) if p < 1 else x.dtype.type(0))
        ctx.save_for_backward(scale)
        return x * scale

    @staticmethod
    def backward(ctx, grad_out):
        (scale,) = ctx.saved_tensors
        return grad_out * scale


def dropout(x, p=0.5, training=True, inplace=False, generator=None):
    """PyTorch's ``F.dropout``: ``x`` itself when not training (or p == 0), else a dropped-out copy.

    >>> import minigrad as mg
    >>> y = dropout(mg.ones(10000), p=0.25, generator=0)
    >>> round(float((y.data == 0).mean()), 2), float(y.data.max())
    (0.25, 1.3333333730697632)
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got p={p!r}")
    if inplace:
        raise ValueError("dropout(inplace=True) is not supported: in-place ops are not recorded in the graph here")
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=float(p), generator=as_generator(generator))
