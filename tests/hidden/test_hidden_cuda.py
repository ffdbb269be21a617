"""Hidden test of task t09 (see conftest.py): the simulator or a GPU runs it; elsewhere it skips."""

import numpy as np
import pytest

from minigrad.kernels import reference
from minigrad.kernels.conv_geometry import ConvGeometry
from minigrad.kernels.cuda.device import cuda_unavailable_reason


@pytest.mark.t09_cuda_kernel
@pytest.mark.skipif(cuda_unavailable_reason() is not None, reason=f"{cuda_unavailable_reason()}")
def test_t09_im2col_with_padding_wider_than_the_kernel_reach_and_dilation():
    from minigrad.kernels.cuda import im2col as cuda_im2col

    geom = ConvGeometry.from_shapes((1, 4, 3, 4), (2, 2, 2, 2), stride=2, padding=3, dilation=2, groups=2)
    x = np.random.default_rng(6).standard_normal(geom.input_shape).astype(np.float32)
    np.testing.assert_array_equal(cuda_im2col.im2col(x, geom), reference.im2col(x, geom))
