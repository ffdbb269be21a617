"""The convolution as numba.cuda kernels: the optional GPU path.

Read it next to the CPU kernels' first chapter, :mod:`minigrad.kernels.conv.im2col_matmul`: the
algorithm is the same (im2col, then one matrix product per group), only the loops have become
threads. (It is the only algorithm here; the CPU presets never run im2col themselves: their
convolutions go to the direct loops and the pointwise products.) In learning order:

* :mod:`~minigrad.kernels.cuda.device`  -- is there a GPU (or the simulator)? launch sizes.
* :mod:`~minigrad.kernels.cuda.im2col`  -- ``im2col`` / ``col2im``, one thread per element written
  (``minigrad.kernels.cuda.im2col.im2col``, as on the CPU side).
* :mod:`~minigrad.kernels.cuda.matmul`  -- a grouped matrix product tiled through shared memory.
* :mod:`~minigrad.kernels.cuda.layout`  -- ``(N, O, oh, ow) <-> (G, Og, N*oh*ow)``.
* :mod:`~minigrad.kernels.cuda.conv`    -- ``conv2d_forward``, ``conv2d_grad_input``,
  ``conv2d_grad_weight`` (and ``conv2d_backward``, the two gradients): NumPy in, NumPy out, like
  :mod:`minigrad.kernels.conv`.

Without a GPU, run everything in numba's CUDA simulator by starting Python with
``NUMBA_ENABLE_CUDASIM=1`` (it must be set before numba is first imported).
Importing this package never needs a GPU; calling a kernel does.
"""

from minigrad.kernels.cuda.conv import (
    conv2d_backward,
    conv2d_forward,
    conv2d_forward_on_device,
    conv2d_grad_input,
    conv2d_grad_input_on_device,
    conv2d_grad_weight,
    conv2d_grad_weight_on_device,
)
from minigrad.kernels.cuda.device import cuda_unavailable_reason, require_cuda

__all__ = [
    "conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight", "conv2d_backward",
    "conv2d_forward_on_device", "conv2d_grad_input_on_device", "conv2d_grad_weight_on_device",
    "cuda_unavailable_reason", "require_cuda",
]
