"""Creating tensors: PyTorch's constructors, over NumPy.

``tensor(data)`` copies ``data`` (PyTorch's rule), so editing the caller's array later cannot
change what a graph saved; ``from_numpy(array)`` shares the array's memory on purpose, and
``Tensor.numpy()`` hands the same memory back.  ``device`` is accepted for PyTorch's spelling:
tensors always live in host memory, so only ``"cpu"`` is meaningful (see ``docs/pytorch.md``).

>>> import numpy as np, minigrad as mg
>>> a = np.zeros(2, dtype=np.float32)
>>> copied, shared = mg.tensor(a), mg.from_numpy(a)
>>> a[0] = 7.0
>>> copied.numpy()[0], shared.numpy()[0]
(np.float32(0.0), np.float32(7.0))
"""

import numpy as np

from minigrad.tensor import DEFAULT_DTYPE, Tensor


def check_device(device):
    """Accept ``None``, ``"cpu"`` or a :class:`device` for ``"cpu"``; refuse anything else."""
    name = device.type if isinstance(device, _Device) else device
    if name not in (None, "cpu"):
        raise ValueError(
            f"tensors live in host memory, so device must be 'cpu' or None, got {device!r} "
            f"(convolutions can run on the CUDA kernels with minigrad.use_device('cuda'))"
        )


class _Device:
    """PyTorch's ``torch.device("cpu")``: a name, nothing more."""

    def __init__(self, type="cpu"):  # noqa: A002 - PyTorch's argument name
        check_device(type)
        self.type = type

    def __repr__(self):
        return f"device(type={self.type!r})"

    def __eq__(self, other):
        return isinstance(other, _Device) and other.type == self.type

    __hash__ = object.__hash__


device = _Device


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A leaf Tensor holding a *copy* of ``data`` (PyTorch's ``torch.tensor``)."""
    check_device(device)
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):  # lists and Python numbers are new arrays anyway
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array):
    """A leaf Tensor that *shares* ``array``'s memory: writes to either show in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def zeros(*shape, dtype=DEFAULT_DTYPE, requires_grad=False, device=None):
    check_device(device)
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=DEFAULT_DTYPE, requires_grad=False, device=None):
    check_device(device)
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def randn(*shape, generator=None, dtype=DEFAULT_DTYPE, requires_grad=False, device=None):
    """Standard normal samples; ``generator`` is a NumPy Generator or an int seed."""
    check_device(device)
    rng = _generator(generator)
    return Tensor(rng.standard_normal(_shape_arg(shape)).astype(dtype), requires_grad=requires_grad)


def rand(*shape, generator=None, dtype=DEFAULT_DTYPE, requires_grad=False, device=None):
    """Uniform samples in [0, 1); ``generator`` is a NumPy Generator or an int seed."""
    check_device(device)
    rng = _generator(generator)
    return Tensor(rng.random(_shape_arg(shape)).astype(dtype), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=DEFAULT_DTYPE, requires_grad=False, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    check_device(device)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    return Tensor(np.linspace(start, end, steps, dtype=dtype), requires_grad=requires_grad)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def _generator(generator):
    from minigrad.random import as_generator

    return as_generator(generator)
