"""Which kernels the convolution runs on: the Numba CPU ones (default) or the numba.cuda ones.

>>> import minigrad
>>> minigrad.backend.get_device()
'cpu'

``use_device("cuda")`` switches every later convolution to :mod:`minigrad.kernels.cuda`. Tensors
stay NumPy arrays in host memory either way: each CUDA call copies its inputs to the GPU, runs
the kernels and copies the result back. That keeps the framework one code path, at the cost of
the copies; it is a way to *see* the same convolution as GPU threads, not to train faster.

Without an NVIDIA GPU, numba's CUDA simulator runs the same kernels on the CPU (slowly) when
Python is started with ``NUMBA_ENABLE_CUDASIM=1``.
"""

import contextlib

DEVICES = ("cpu", "cuda")

_current_device = "cpu"


def use_device(device):
    """Run later convolutions on ``"cpu"`` or ``"cuda"``.

    Raises ``ValueError`` for another name and ``RuntimeError`` (saying how to get one) when
    ``"cuda"`` is asked for with neither a GPU nor the CUDA simulator.
    """
    global _current_device
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cuda":
        from minigrad.kernels.cuda.device import require_cuda  # numba.cuda is loaded only now

        require_cuda()
    _current_device = device


def get_device():
    """``"cpu"`` or ``"cuda"``: where convolutions run now."""
    return _current_device


def conv_kernels():
    """The module whose ``conv2d_forward``, ``conv2d_grad_input`` and ``conv2d_grad_weight`` to call.

    Both take NumPy arrays and a ``ConvGeometry`` and return NumPy arrays.
    """
    if _current_device == "cuda":
        from minigrad.kernels import cuda

        return cuda
    from minigrad.kernels import conv_cpu

    return conv_cpu


def limit_blas_threads(threads):
    """A context in which BLAS (OpenBLAS, via NumPy) runs each matrix product on at most ``threads`` threads.

    The CPU convolution already runs its matrix products on every core, one slice of the batch
    per thread (see :mod:`minigrad.kernels.conv_cpu`), so one BLAS thread per product is what
    it wants. More BLAS threads oversubscribe the cores, and OpenBLAS's threads keep spinning
    after each product, slowing down the Numba kernels that run next. The training command and
    the benchmarks run inside ``limit_blas_threads(1)``. Needs the optional package
    threadpoolctl (installed by ".[dev]" and ".[train]"); without it this changes nothing.

    >>> with limit_blas_threads(1):
    ...     pass
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")
