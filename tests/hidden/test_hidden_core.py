"""Hidden tests of tasks t01-t08 (see conftest.py): cases the visible tests do not cover."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function
from minigrad.kernels import conv, im2col, reference
from minigrad.kernels.batchnorm_cpu import batch_norm_backward
from minigrad.kernels.conv_geometry import ConvGeometry

# (N, C, H, W), (O, Cg, kh, kw), stride, padding, dilation, groups: every number differs from 1
ODD_GEOMETRY = ((2, 6, 9, 7), (6, 2, 2, 3), (2, 1), (1, 2), (2, 1), 3)


def odd_geometry():
    x_shape, w_shape, stride, padding, dilation, groups = ODD_GEOMETRY
    return ConvGeometry.from_shapes(x_shape, w_shape, stride, padding, dilation, groups)


@pytest.mark.t01_elementwise_backward
def test_t01_chain_of_tanh_log_div_and_a_mean_over_one_axis():
    rng = np.random.default_rng(0)
    a_data, b_data = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, (3, 4))
    a, b = mg.tensor(a_data, requires_grad=True), mg.tensor(b_data, requires_grad=True)
    y = mg.functional.tanh(a) * mg.functional.log(b) / a  # f = tanh(a) log(b) / a
    y.mean(axis=0).sum().backward()  # dL/dy = 1/3 everywhere
    sech2 = 1 - np.tanh(a_data) ** 2
    expected_a = np.log(b_data) * (sech2 * a_data - np.tanh(a_data)) / a_data ** 2 / 3
    expected_b = np.tanh(a_data) / (a_data * b_data) / 3
    np.testing.assert_allclose(a.grad.data, expected_a, rtol=1e-12)
    np.testing.assert_allclose(b.grad.data, expected_b, rtol=1e-12)


@pytest.mark.t02_unbroadcast
def test_t02_to_a_scalar_and_to_size_one_axes_between_others():
    from minigrad.functions.broadcast import unbroadcast

    grad = np.arange(60.0).reshape(4, 3, 5)
    total = unbroadcast(grad, ())
    assert np.shape(total) == () and total == grad.sum()
    kept = unbroadcast(grad, (1, 3, 1))
    assert kept.shape == (1, 3, 1)
    np.testing.assert_array_equal(kept[0, :, 0], grad.sum(axis=(0, 2)))


class SquareWrongAtOneElement(Function):
    """y = x^2 with dx = 2 x dy, except element 0, where the gradient is 1% too large."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        grad = 2 * x * grad_out
        grad.reshape(-1)[0] *= 1.01
        return grad


@pytest.mark.t03_gradcheck
def test_t03_catches_an_error_at_a_single_element_and_passes_large_correct_values():
    x = mg.tensor(np.linspace(1.0, 3.0, 12).reshape(3, 4), requires_grad=True)
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(SquareWrongAtOneElement.apply, x)
    big = mg.tensor(np.linspace(100.0, 300.0, 6), requires_grad=True)
    assert mg.gradcheck(lambda t: t * t, big)  # relative tolerance: a large exact gradient passes


@pytest.mark.t04_im2col
def test_t04_im2col_and_col2im_on_a_geometry_where_nothing_is_1():
    geom = odd_geometry()
    rng = np.random.default_rng(1)
    x, cols = rng.standard_normal(geom.input_shape), rng.standard_normal(geom.col_shape)
    np.testing.assert_array_equal(im2col.im2col(x, geom), reference.im2col(x, geom))
    np.testing.assert_allclose(im2col.col2im(cols, geom), reference.col2im(cols, geom), rtol=1e-12, atol=1e-12)


@pytest.mark.t05_grouped_conv_forward
def test_t05_float32_forward_on_a_geometry_where_nothing_is_1():
    geom = odd_geometry()
    rng = np.random.default_rng(2)
    x, weight = rng.standard_normal(geom.input_shape), rng.standard_normal(geom.weight_shape)
    with mg.conv_algorithm("im2col"):
        out = conv.conv2d_forward(x.astype(np.float32), weight.astype(np.float32), geom)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, reference.conv2d_forward(x, weight, geom), rtol=0, atol=1e-4)


@pytest.mark.t06_conv_backward
def test_t06_conv2d_with_bias_backward_on_a_geometry_where_nothing_is_1():
    x_shape, w_shape, stride, padding, dilation, groups = ODD_GEOMETRY
    geom = odd_geometry()
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal(x_shape), requires_grad=True)
    weight = mg.tensor(rng.standard_normal(w_shape), requires_grad=True)
    bias = mg.tensor(rng.standard_normal(w_shape[0]), requires_grad=True)
    grad_out = rng.standard_normal(geom.output_shape)
    with mg.conv_algorithm("im2col"):
        mg.functional.conv2d(x, weight, bias, stride, padding, dilation, groups).backward(grad_out)
    np.testing.assert_allclose(x.grad.data, reference.conv2d_grad_input(grad_out, weight.data, geom), atol=1e-12)
    np.testing.assert_allclose(weight.grad.data, reference.conv2d_grad_weight(x.data, grad_out, geom), atol=1e-12)
    np.testing.assert_allclose(bias.grad.data, grad_out.sum(axis=(0, 2, 3)), rtol=1e-12)


def batch_norm_numpy(x, weight, eps):
    """(N, C, S) -> normalised per channel over N and S, scaled by weight (C,)."""
    mean = x.mean(axis=(0, 2), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(0, 2), keepdims=True)
    return weight[None, :, None] * (x - mean) / np.sqrt(var + eps)


@pytest.mark.t07_batchnorm_backward
def test_t07_backward_against_finite_differences_with_two_values_per_channel():
    rng = np.random.default_rng(4)
    x, weight, grad_out, eps = rng.standard_normal((2, 3, 1)), rng.uniform(0.5, 2, 3), rng.standard_normal((2, 3, 1)), 1e-5
    mean = x.mean(axis=(0, 2))
    inv_std = 1 / np.sqrt(((x - mean[None, :, None]) ** 2).mean(axis=(0, 2)) + eps)
    grad_x, grad_weight, grad_bias = batch_norm_backward(grad_out, x, mean, inv_std, weight)
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = 1e-6
        numeric[index] = (np.sum(grad_out * batch_norm_numpy(x + step, weight, eps))
                          - np.sum(grad_out * batch_norm_numpy(x - step, weight, eps))) / 2e-6
    np.testing.assert_allclose(grad_x, numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_bias, grad_out.sum(axis=(0, 2)), rtol=1e-12)
    xhat = (x - mean[None, :, None]) * inv_std[None, :, None]
    np.testing.assert_allclose(grad_weight, (grad_out * xhat).sum(axis=(0, 2)), rtol=1e-10)


@pytest.mark.t08_block_converter
def test_t08_eight_branches_round_trip_and_slices():
    from resnext_np.block import ResNeXtBottleneck
    from resnext_np.convert import convert

    block_c = ResNeXtBottleneck(16, 16, 1, cardinality=8, base_width=8, widen_factor=1).double()  # d = 2
    rng = np.random.default_rng(5)
    block_c.load_state_dict({key: value if key.endswith("num_batches_tracked") else rng.uniform(0.5, 2, value.shape)
                             for key, value in block_c.state_dict().items()})
    block_a = convert(block_c, "a")
    branch = block_a.branches[5]
    np.testing.assert_array_equal(branch.conv_expand.weight.data, block_c.conv_expand.weight.data[:, 10:12])
    np.testing.assert_array_equal(branch.bn.running_mean, block_c.bn.running_mean[10:12])
    back = convert(convert(block_a, "b"), "c").state_dict()
    for key, value in block_c.state_dict().items():
        assert np.array_equal(back[key], value), key
