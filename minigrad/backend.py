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


def reuse_freed_memory():
    """Ask the C allocator (glibc's malloc, on Linux) to keep freed memory for reuse.

    A training step allocates and frees hundreds of activation-sized arrays (MBs each). By
    default glibc hands each large block straight back to the operating system when it is
    freed and maps fresh pages for the next one, which the kernel must zero page by page on
    first touch. This raises malloc's mmap and trim thresholds so that freed blocks stay in the
    process and are reused: the same numbers, about the same peak memory, far fewer page
    faults. PyTorch's CPU tuning guide gives the same advice (a caching allocator such as
    jemalloc). Measured with benchmarks/train_step.py on 2 cores (``--reuse-memory`` against
    the default, the same day): the smallest preset at batch 128 went from 155 to 174 images/s,
    resnext29_32x4d at batch 64 from 14.9 to 16.7 (PyTorch: 210 -> 235 and 13.4 -> 17.3).

    The training command calls it. Returns True if the setting took, False where there is no
    glibc (other platforms: nothing changes). It lasts for the life of the process.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
    took_mmap = mallopt(M_MMAP_THRESHOLD, 1 << 30)  # blocks up to 1 GiB come from the reusable heap
    took_trim = mallopt(M_TRIM_THRESHOLD, 1 << 40)  # and free memory at its top is never given back
    return bool(took_mmap and took_trim)
