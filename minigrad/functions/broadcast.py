"""Undoing NumPy broadcasting in the backward pass.

When ``a`` of shape (3, 1) is added to ``b`` of shape (4,), NumPy stretches both to (3, 4):
each element of ``a`` is *used* 4 times, each element of ``b`` 3 times.  A value used k times
receives the sum of its k gradient contributions, so the gradient of shape (3, 4) must be summed
back down to the input's shape:

* over the leading axes that broadcasting prepended (here: none for ``a``, axis 0 for ``b``), and
* over every axis where the input had size 1 but the output did not (axis 1 for ``a``),
  keeping that axis (``keepdims=True``) so the shape comes out right.
"""

import numpy as np


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, the shape of the input before broadcasting.

    >>> unbroadcast(np.ones((3, 4)), (3, 1))
    array([[4.],
           [4.],
           [4.]])
    >>> unbroadcast(np.ones((3, 4)), (4,))
    array([3., 3., 3., 3.])
    """
    shape = tuple(shape)
    # BEGIN SOLUTION t02_unbroadcast
    extra_leading_axes = grad.ndim - len(shape)
    if extra_leading_axes > 0:
        grad = grad.sum(axis=tuple(range(extra_leading_axes)))
    stretched_axes = tuple(
        axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1
    )
    if stretched_axes:
        grad = grad.sum(axis=stretched_axes, keepdims=True)
    # END SOLUTION
    return grad.reshape(shape)


def broadcast_shape(*shapes):
    """The shape NumPy broadcasting gives, or a ValueError quoting the shapes that clash."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            "shapes " + " and ".join(str(tuple(s)) for s in shapes) + " cannot be broadcast together"
        ) from None
