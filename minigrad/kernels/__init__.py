"""Pure array code for the convolution: no Tensor, no Function, no nn in here.

A kernel takes NumPy arrays and a :class:`ConvGeometry` and returns NumPy arrays.
``reference`` is the plain-NumPy specification, ``conv`` the Numba CPU algorithms,
``cuda`` the optional numba.cuda path.
"""

from minigrad.kernels.conv_geometry import ConvGeometry

__all__ = ["ConvGeometry"]
