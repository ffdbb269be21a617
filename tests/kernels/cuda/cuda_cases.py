"""Shapes, tolerances and the skip marker shared by the numba.cuda kernel tests (see conftest.py)."""

import numpy as np
import pytest

from minigrad.kernels.conv_geometry import ConvGeometry
from minigrad.kernels.cuda.device import cuda_unavailable_reason

_reason = cuda_unavailable_reason()

# Put on every test that launches a kernel.
needs_cuda = pytest.mark.skipif(
    _reason is not None,
    reason=f"{_reason}; run NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim tests/kernels/cuda",
)

# Small on purpose: the simulator runs every CUDA thread as a Python thread.
# (input shape, weight shape, stride, padding, dilation, groups)
SHAPES = {
    "groups1_padding1": ((2, 3, 4, 4), (4, 3, 3, 3), 1, 1, 1, 1),
    "groups2_stride2": ((1, 4, 5, 5), (6, 2, 3, 3), 2, 1, 1, 2),
    "depthwise_dilation2": ((1, 4, 5, 5), (4, 1, 3, 3), 1, 2, 2, 4),
    "groups3_rectangular": ((2, 6, 5, 4), (3, 2, 3, 2), (2, 1), (1, 0), (1, 2), 3),
}

TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def geometry(name):
    input_shape, weight_shape, stride, padding, dilation, groups = SHAPES[name]
    return ConvGeometry.from_shapes(input_shape, weight_shape, stride, padding, dilation, groups)
