"""Is there somewhere to run a CUDA kernel, and how to launch the flat ones.

numba.cuda runs a kernel either on an NVIDIA GPU or, when the environment variable
``NUMBA_ENABLE_CUDASIM=1`` is set before numba is first imported, in numba's CUDA *simulator*:
plain Python threads on the CPU, one per CUDA thread. The simulator is far too slow for training
but runs every kernel in this package unchanged, which is how the tests check them on machines
without a GPU.
"""

import os
import sys
import threading

INSTALL_HINT = (
    'To run on an NVIDIA GPU, install the CUDA extra: pip install "minigrad-resnext[cuda]" '
    "(numba-cuda with the CUDA 12 libraries; a recent NVIDIA driver is needed). "
    "To run the same kernels on the CPU in numba's CUDA simulator (slow, for learning and tests), "
    "start Python with NUMBA_ENABLE_CUDASIM=1 in the environment, e.g. "
    "NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/kernels/cuda"
)


def simulator_enabled():
    """True when numba was imported with ``NUMBA_ENABLE_CUDASIM=1``."""
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def cuda_unavailable_reason():
    """``None`` when a GPU or the simulator can run kernels, else a sentence saying why not."""
    try:
        from numba import cuda

        if cuda.is_available():
            return None
    except Exception as error:  # a broken CUDA install: report it rather than crash on import
        return f"numba.cuda could not be loaded ({type(error).__name__}: {error})"
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return (
            "NUMBA_ENABLE_CUDASIM=1 is set, but only after numba was imported, so the simulator "
            "is off; set it in the environment before Python starts"
        )
    return "numba.cuda finds no CUDA GPU (no NVIDIA driver or no device) and the simulator is off"


def require_cuda():
    """Raise a ``RuntimeError`` that says how to get a GPU or the simulator, unless one is there."""
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"the 'cuda' device is not available: {reason}. {INSTALL_HINT}")


def arrays_to_device(**arrays):
    """Check each ``name=(array, expected_shape)`` and copy the arrays to the GPU, in order.

    Raises ``RuntimeError`` without a GPU or simulator, ``ValueError`` for a wrong shape and
    ``TypeError`` for a dtype other than float32/float64 or for mixed dtypes.
    """
    import numpy as np
    from numba import cuda

    require_cuda()
    for name, (array, expected_shape) in arrays.items():
        if tuple(array.shape) != tuple(expected_shape):
            raise ValueError(
                f"{name} has shape {tuple(array.shape)}, the geometry expects {tuple(expected_shape)}"
            )
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name} has dtype {array.dtype}; the CUDA kernels take float32 or float64")
    if len({array.dtype for array, _ in arrays.values()}) > 1:
        described = ", ".join(f"{name} is {array.dtype}" for name, (array, _) in arrays.items())
        raise TypeError(f"conv2d needs one dtype for all its arrays, but {described}")
    return [cuda.to_device(np.ascontiguousarray(array)) for array, _ in arrays.values()]


def kernel_geometry(geom):
    """The :class:`ConvGeometry` ``geom`` as the named tuple of ints a kernel can read
    (:data:`minigrad.kernels.conv_geometry.KernelGeometry`): ``geometry.stride_h`` reads as on the CPU."""
    return geom.record()


THREADS_PER_BLOCK = 256
MAX_BLOCKS = 4096  # enough to fill any current GPU; the kernels loop ("grid-stride") past it


def flat_launch(total_elements):
    """``(blocks, threads_per_block)`` for a kernel that gives each thread one flat index.

    Such a kernel visits ``index = cuda.grid(1), index + cuda.gridsize(1), ...`` up to
    ``total_elements``, so any number of blocks covers any size; we launch enough blocks for one
    index per thread, capped at ``MAX_BLOCKS``.
    """
    if simulator_enabled():
        # Each simulated thread is a Python thread, expensive to start: launch 2 blocks of 8
        # threads and let the grid-stride loop do the rest (it is then exercised by the tests).
        return 2, 8
    blocks = max(1, min(MAX_BLOCKS, (total_elements + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK))
    return blocks, THREADS_PER_BLOCK


def make_simulator_shared_arrays_thread_safe():
    """Close a race in numba's CUDA simulator that gives the first block private "shared" arrays.

    The simulator keeps one array per ``cuda.shared.array(...)`` source line and launch: the
    first thread to reach the line looks the line up in a dict, finds nothing, creates the array
    and stores it. The threads of a block are Python threads and that look-up-then-create is not
    atomic (a thread switch can fall between the look-up and the store), so two threads of the
    first block can each create their own array. Each then sees only its own writes to the
    tile and its dot products come out wrong -- the first outputs of a launch, about once in ten
    test runs. On a GPU nothing of the kind happens; this only changes the simulator.

    The replacement does the same look-up, keyed on the caller's (file, line) as numba does,
    under a lock. Idempotent; leaves numba alone if its simulator has another shape.
    """
    import numpy as np
    from numba.core import types
    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support

    shared = kernelapi.FakeCUDAShared
    if getattr(shared, "made_thread_safe_by_minigrad", False):
        return
    if "_allocations" not in vars(shared(0)):  # a numba whose simulator we have not read
        return
    unsafe_array = shared.array
    lock = threading.Lock()

    def array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: one buffer, nothing created per line
            return unsafe_array(self, shape, dtype)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = sys._getframe(1)
        line = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            if line not in self._allocations:
                self._allocations[line] = np.empty(shape, dtype)
            return self._allocations[line]

    shared.array = array
    shared.made_thread_safe_by_minigrad = True
