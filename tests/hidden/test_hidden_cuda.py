"""Graded test of task t09 (see conftest.py): the worker runs it under the CUDA simulator (the task's
environment), or on a GPU; where neither is there it skips, saying why."""

import numpy as np
import pytest

from minigrad.kernels import reference
from minigrad.kernels.conv_geometry import ConvGeometry

CASE = dict(input_shape=(1, 4, 3, 4), weight_shape=(2, 2, 2, 2), stride=2, padding=3, dilation=2, groups=2)


def cuda_im2col_or_why_not(x):
    from minigrad.kernels.cuda.device import cuda_unavailable_reason

    if cuda_unavailable_reason() is not None:
        return cuda_unavailable_reason()
    from minigrad.kernels.cuda import im2col as cuda_im2col

    return cuda_im2col.im2col(x, ConvGeometry.from_shapes(**CASE))


@pytest.mark.t09_cuda_kernel
def test_t09_im2col_with_padding_wider_than_the_kernel_reach_and_dilation(student):
    geom = ConvGeometry.from_shapes(**CASE)
    x = np.random.default_rng(6).standard_normal(geom.input_shape).astype(np.float32)
    columns = student.run(cuda_im2col_or_why_not, x)
    if isinstance(columns, str):
        pytest.skip(columns)
    np.testing.assert_array_equal(columns, reference.im2col(x, geom))
