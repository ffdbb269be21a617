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
    """The module whose ``conv2d_forward``, ``conv2d_grad_input``, ``conv2d_grad_weight`` and
    ``conv2d_backward`` (both gradients, what ``Conv2d.backward`` calls) to call.

    Both take NumPy arrays and a ``ConvGeometry`` and return NumPy arrays.
    """
    if _current_device == "cuda":
        from minigrad.kernels import cuda

        return cuda
    from minigrad.kernels import conv

    return conv
