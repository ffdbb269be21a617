"""``minigrad.kernels.cuda`` convolution kernels against the NumPy reference and the Numba CPU kernels."""

import numpy as np
import pytest

from minigrad.kernels import conv, reference
from minigrad.kernels import cuda as conv_cuda
from minigrad.kernels.conv_geometry import ConvGeometry

from cuda_cases import SHAPES, TOLERANCE, geometry, needs_cuda

pytestmark = [pytest.mark.cudasim, needs_cuda]


def _arrays(geom, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(geom.input_shape).astype(dtype)
    weight = rng.standard_normal(geom.weight_shape).astype(dtype)
    grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
    return x, weight, grad_out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape_name", sorted(SHAPES))
def test_forward_and_gradients_match_reference_and_cpu(shape_name, dtype):
    geom = geometry(shape_name)
    x, weight, grad_out = _arrays(geom, dtype)
    cases = [
        ("conv2d_forward", (x, weight), geom.output_shape),
        ("conv2d_grad_input", (grad_out, weight), geom.input_shape),
        ("conv2d_grad_weight", (x, grad_out), geom.weight_shape),
    ]
    for name, inputs, expected_shape in cases:
        result = getattr(conv_cuda, name)(*inputs, geom)
        assert result.dtype == dtype and result.shape == expected_shape, name
        expected = getattr(reference, name)(*inputs, geom)
        np.testing.assert_allclose(result, expected, **TOLERANCE[dtype], err_msg=f"{name} vs reference")
        on_cpu = getattr(conv, name)(*inputs, geom)
        np.testing.assert_allclose(result, on_cpu, **TOLERANCE[dtype], err_msg=f"{name} vs the CPU kernels")
    for asked in [(True, True), (False, True), (True, False)]:
        gradients = conv_cuda.conv2d_backward(x, grad_out, weight, geom, *asked)
        expected = reference.conv2d_grad_input(grad_out, weight, geom), reference.conv2d_grad_weight(x, grad_out, geom)
        for gradient, wanted, is_asked in zip(gradients, expected, asked):
            if is_asked:
                np.testing.assert_allclose(gradient, wanted, **TOLERANCE[dtype], err_msg=f"conv2d_backward{asked}")
            else:
                assert gradient is None


def test_forward_by_hand():
    # A 3x3 image of ones, a 2x2 kernel of ones: every output pixel sums 4 ones. With padding 1
    # the corners of the 4x4 output see only one input pixel.
    geom = ConvGeometry.from_shapes((1, 1, 3, 3), (1, 1, 2, 2), padding=1)
    y = conv_cuda.conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), geom)
    np.testing.assert_array_equal(y[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_groups_do_not_mix_channels():
    # groups=2: filter 0 sees only channel 0 and filter 1 only channel 1.
    geom = ConvGeometry.from_shapes((1, 2, 2, 2), (2, 1, 1, 1), groups=2)
    x = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 10.0)])[None]
    weight = np.array([2.0, 3.0]).reshape(2, 1, 1, 1)
    y = conv_cuda.conv2d_forward(x, weight, geom)
    np.testing.assert_array_equal(y[0, :, 0, 0], [2.0, 30.0])


def test_mixed_dtypes_are_a_type_error():
    geom = geometry("groups2_stride2")
    x, weight, _ = _arrays(geom, np.float64)
    with pytest.raises(TypeError, match="x is float64, weight is float32"):
        conv_cuda.conv2d_forward(x, weight.astype(np.float32), geom)
