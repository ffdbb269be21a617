"""minigrad: a small deep-learning framework in NumPy with Numba kernels.

>>> import minigrad as mg
>>> x = mg.tensor([[1.0, 2.0]], requires_grad=True)
>>> loss = mg.functional.relu(x * 3 - 4).sum()
>>> loss.backward()
>>> x.grad
array([[0., 3.]], dtype=float32)
"""

from minigrad.tensor import Tensor, ones, rand, randn, tensor, zeros  # noqa: I001  (Tensor first)
from minigrad import autograd, functional, nn, optim
from minigrad.autograd import Function, is_grad_enabled, no_grad
from minigrad.backend import get_device, use_device
from minigrad.gradcheck import GradcheckError, gradcheck
from minigrad.random import manual_seed
from minigrad import serialization
from minigrad.serialization import load, save

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "randn", "rand",
    "autograd", "functional", "nn", "optim", "Function", "no_grad", "is_grad_enabled",
    "gradcheck", "GradcheckError", "manual_seed", "use_device", "get_device",
    "serialization", "save", "load",
]
