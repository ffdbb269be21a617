"""minigrad: a small deep-learning framework in NumPy with Numba kernels.

>>> import minigrad as mg
>>> x = mg.tensor([[1.0, 2.0]], requires_grad=True)
>>> loss = mg.functional.relu(x * 3 - 4).sum()
>>> loss.backward()
>>> x.grad
tensor([[0., 3.]], dtype=float32)

Importing minigrad decides, once for the whole process, how it uses this machine
(docs/threads_and_memory.md): its kernels use every core (``set_num_threads`` changes that), NumPy's
BLAS runs each matrix product on one thread (minigrad runs one product per core itself), idle
OpenMP threads sleep instead of spinning, and the C allocator keeps freed memory for reuse.
"""

import numpy as np

from minigrad.tensor import Tensor  # noqa: I001  (Tensor first)
from minigrad.creation import device, from_numpy, linspace, ones, rand, randn, tensor, zeros
from minigrad.torch_level import argmax, cat, cos, exp, flatten, log, log_softmax, max, numel, sin, softmax, sqrt, stack  # noqa: A004
from minigrad import allocator, autograd, functional, kernels, nn, optim, utils
from minigrad.autograd import Function, is_grad_enabled, no_grad
from minigrad.backend import get_device, use_device
from minigrad.gradcheck import GradcheckError, gradcheck
from minigrad.kernels.compiled_cache import forget_stale_kernels
from minigrad.kernels.conv.selection import conv_algorithm
from minigrad.kernels.threads import get_num_threads, set_num_threads
from minigrad.random import manual_seed
from minigrad import serialization
from minigrad import profiler
from minigrad.serialization import load, save

kernels.threads.take_charge_of_the_cores()
allocator.reuse_freed_memory()
forget_stale_kernels()  # before any kernel runs (minigrad/kernels/compiled_cache.py says why)

__version__ = "0.1.0"

# PyTorch's dtype names, so ``dtype=torch.float`` reads the same (Tensor.dtype is a NumPy dtype).
float32 = float = np.float32  # noqa: A001
float64 = double = np.float64
int64 = long = np.int64
bool = np.bool_  # noqa: A001

__all__ = [
    "Tensor", "tensor", "from_numpy", "zeros", "ones", "randn", "rand", "linspace", "device",
    "flatten", "max", "argmax", "softmax", "log_softmax", "sin", "cos", "exp", "log", "sqrt", "numel", "stack", "cat",
    "float32", "float", "float64", "double", "int64", "long", "bool",
    "allocator", "autograd", "functional", "kernels", "nn", "optim", "utils", "Function", "no_grad", "is_grad_enabled",
    "gradcheck", "GradcheckError", "manual_seed", "use_device", "get_device", "conv_algorithm",
    "set_num_threads", "get_num_threads", "serialization", "save", "load", "profiler",
]
