"""Graded tests of tasks t01-t08 (see conftest.py).

Each function without ``test_`` runs in the worker, on the submission's code, and returns arrays;
each test compares them here with the specification (``reference``, NumPy formulas, finite
differences) or, where the teacher's solution is the specification, with that solution.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function
from minigrad.kernels import conv, im2col, reference
from minigrad.kernels.batchnorm_cpu import batch_norm_backward
from minigrad.kernels.conv_geometry import ConvGeometry

# (N, C, H, W), (O, Cg, kh, kw), stride, padding, dilation, groups: every number differs from 1
ODD_GEOMETRY = ((2, 6, 9, 7), (6, 2, 2, 3), (2, 1), (1, 2), (2, 1), 3)
PLAIN_GEOMETRY = ((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), (0, 0), (1, 1), 1)
DEPTHWISE_GEOMETRY = ((2, 4, 6, 5), (4, 1, 3, 3), (1, 2), (1, 1), (1, 1), 4)


def geometry(case):
    x_shape, w_shape, stride, padding, dilation, groups = case
    return ConvGeometry.from_shapes(x_shape, w_shape, stride, padding, dilation, groups)


def inputs(case, seed):
    geom = geometry(case)
    rng = np.random.default_rng(seed)
    return geom, rng.standard_normal(geom.input_shape), rng.standard_normal(geom.weight_shape), \
        rng.standard_normal(geom.output_shape)


# t01 ----------------------------------------------------------------------------------------

def gradient_of_unary_chain(data, grad_y):
    """y = mean_0(tanh(relu(log(exp(x))))): no binary op, so no broadcasting (t02) is involved."""
    x = mg.tensor(data, requires_grad=True)
    x.exp().log().relu().tanh().mean(axis=0).backward(grad_y)  # tanh's backward is given
    return x.grad.data


@pytest.mark.t01_elementwise_backward
def test_t01_a_chain_of_unary_ops_and_a_mean(student):
    data = np.linspace(-1.5, 1.5, 12).reshape(3, 4)
    grad_y = np.array([1.0, -2.0, 0.5, 3.0])
    expected = grad_y / 3 * (1 - np.tanh(np.maximum(data, 0)) ** 2) * (data > 0)
    np.testing.assert_allclose(student.run(gradient_of_unary_chain, data, grad_y), expected, rtol=1e-12, atol=1e-15)


def gradients_of_reductions(data):
    x = mg.tensor(data, requires_grad=True)
    x.sum(axis=(0, 2)).sum().backward()
    by_sum = x.grad.data.copy()
    x.grad = None
    x.sum(axis=1, keepdims=True).mean().backward()
    by_mean = x.grad.data.copy()
    x.grad = None
    x.exp().sum().backward()
    return by_sum, by_mean, x.grad.data


@pytest.mark.t01_elementwise_backward
def test_t01_sum_and_mean_over_axes_with_and_without_keepdims_and_exp(student):
    data = np.random.default_rng(0).uniform(-1, 1, (2, 3, 4))
    by_sum, by_mean, by_exp = student.run(gradients_of_reductions, data)
    np.testing.assert_array_equal(by_sum, np.ones_like(data))
    np.testing.assert_allclose(by_mean, np.full_like(data, 1 / 8), rtol=1e-15)  # (2, 1, 4): 8 elements averaged
    np.testing.assert_allclose(by_exp, np.exp(data), rtol=1e-15)


# t02 ----------------------------------------------------------------------------------------

def unbroadcast_of(grad, shape):
    from minigrad.functions.broadcast import unbroadcast

    return np.asarray(unbroadcast(grad, tuple(shape)))


@pytest.mark.t02_unbroadcast
@pytest.mark.parametrize("shape", [(), (1, 3, 1), (4, 1, 1), (3, 5), (5,), (4, 3, 5)])
def test_t02_unbroadcast_to_every_kind_of_shape(student, shape):
    grad = np.arange(60.0).reshape(4, 3, 5)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] > 1)
    expected = grad.sum(axis=axes).reshape(shape)
    result = student.run(unbroadcast_of, grad, shape)
    assert result.shape == shape
    np.testing.assert_array_equal(result, expected)


def broadcast_binary_gradients(a_data, b_data):
    a, b = mg.tensor(a_data, requires_grad=True), mg.tensor(b_data, requires_grad=True)
    ((a + b) * (a - b) / (b * b + 1.0) + a * 3.0).sum().backward()
    return a.grad.data, b.grad.data


@pytest.mark.t02_unbroadcast
def test_t02_the_binary_ops_sum_gradients_back_to_broadcast_inputs(student):
    rng = np.random.default_rng(2)
    a_data, b_data = rng.uniform(0.5, 2, (3, 1)), rng.uniform(0.5, 2, (4,))
    grad_a, grad_b = student.run(broadcast_binary_gradients, a_data, b_data)
    a, b = a_data, b_data[None, :]
    # f = (a^2 - b^2) / (b^2 + 1) + 3a
    np.testing.assert_allclose(grad_a, (2 * a / (b * b + 1) + 3).sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(grad_b, (-2 * b * (a * a + 1) / (b * b + 1) ** 2).sum(axis=0), rtol=1e-12)


# t03 ----------------------------------------------------------------------------------------

class Square(Function):
    """y = x^2 with dx = 2 x dy, in NumPy: checking it exercises the checker alone, not the
    student's elementwise backwards or unbroadcasting (t01, t02)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_out


class SquareWrongAtOneElement(Square):
    """Square, except element 0, where the gradient is 1% too large."""

    @staticmethod
    def backward(ctx, grad_out):
        grad = Square.backward(ctx, grad_out)
        grad.reshape(-1)[0] *= 1.01
        return grad


def gradcheck_of_wrong_square(data):
    try:
        mg.gradcheck(SquareWrongAtOneElement.apply, mg.tensor(data, requires_grad=True))
    except mg.GradcheckError as error:
        return "raised GradcheckError", str(error)
    return "passed", ""


def gradcheck_of_right_square(data):
    x = mg.tensor(data, requires_grad=True)
    passed = mg.gradcheck(Square.apply, x)
    return bool(passed), x.data  # the checker must put every perturbed value back


@pytest.mark.t03_gradcheck
def test_t03_catches_an_error_at_a_single_element(student):
    verdict, message = student.run(gradcheck_of_wrong_square, np.linspace(1.0, 3.0, 12).reshape(3, 4))
    assert verdict == "raised GradcheckError" and message


@pytest.mark.t03_gradcheck
def test_t03_passes_large_correct_values_and_restores_the_inputs(student):
    data = np.linspace(100.0, 300.0, 6)
    passed, after = student.run(gradcheck_of_right_square, data)
    assert passed is True
    np.testing.assert_array_equal(after, data)


# t04-t06 --------------------------------------------------------------------------------------

def columns_and_folded(case, x, cols):
    geom = geometry(case)
    return im2col.im2col(x, geom), im2col.col2im(cols, geom)


@pytest.mark.t04_im2col
@pytest.mark.parametrize("case", [PLAIN_GEOMETRY, ODD_GEOMETRY, DEPTHWISE_GEOMETRY])
def test_t04_im2col_and_col2im_match_the_reference(student, case):
    geom = geometry(case)
    rng = np.random.default_rng(4)
    x, cols = rng.standard_normal(geom.input_shape), rng.standard_normal(geom.col_shape)
    columns, folded = student.run(columns_and_folded, case, x, cols)
    np.testing.assert_array_equal(columns, reference.im2col(x, geom))
    np.testing.assert_allclose(folded, reference.col2im(cols, geom), rtol=1e-12, atol=1e-12)


def im2col_forward(case, x, weight):
    with mg.conv_algorithm("im2col"):
        return conv.conv2d_forward(x, weight, geometry(case))


@pytest.mark.t05_grouped_conv_forward
@pytest.mark.parametrize("case", [PLAIN_GEOMETRY, ODD_GEOMETRY, DEPTHWISE_GEOMETRY])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_t05_forward_matches_the_reference(student, case, dtype):
    geom, x, weight, _ = inputs(case, 5)
    out = student.run(im2col_forward, case, x.astype(dtype), weight.astype(dtype))
    assert out.dtype == dtype and out.shape == geom.output_shape
    np.testing.assert_allclose(out, reference.conv2d_forward(x, weight, geom), atol=1e-4 if dtype == np.float32 else 1e-12)


def conv2d_gradients(case, x_data, w_data, b_data, grad_out):
    x_shape, w_shape, stride, padding, dilation, groups = case
    x, weight, bias = (mg.tensor(array, requires_grad=True) for array in (x_data, w_data, b_data))
    with mg.conv_algorithm("im2col"):
        mg.functional.conv2d(x, weight, bias, stride, padding, dilation, groups).backward(grad_out)
    return x.grad.data, weight.grad.data, bias.grad.data


@pytest.mark.t06_conv_backward
@pytest.mark.parametrize("case", [PLAIN_GEOMETRY, ODD_GEOMETRY, DEPTHWISE_GEOMETRY])
def test_t06_conv2d_with_bias_backward_matches_the_reference(student, case):
    geom, x, weight, grad_out = inputs(case, 6)
    bias = np.random.default_rng(7).standard_normal(geom.weight_shape[0])
    grad_x, grad_w, grad_b = student.run(conv2d_gradients, case, x, weight, bias, grad_out)
    np.testing.assert_allclose(grad_x, reference.conv2d_grad_input(grad_out, weight, geom), atol=1e-12)
    np.testing.assert_allclose(grad_w, reference.conv2d_grad_weight(x, grad_out, geom), atol=1e-12)
    np.testing.assert_allclose(grad_b, grad_out.sum(axis=(0, 2, 3)), rtol=1e-12)


# t07 ----------------------------------------------------------------------------------------

def batch_norm_numpy(x, weight, eps):
    """(N, C, S) -> normalised per channel over N and S, scaled by weight (C,)."""
    mean = x.mean(axis=(0, 2), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(0, 2), keepdims=True)
    return weight[None, :, None] * (x - mean) / np.sqrt(var + eps)


def statistics(x, eps):
    mean = x.mean(axis=(0, 2))
    return mean, 1 / np.sqrt(((x - mean[None, :, None]) ** 2).mean(axis=(0, 2)) + eps)


def batch_norm_backward_of(grad_out, x, mean, inv_std, weight):
    return batch_norm_backward(grad_out, x, mean, inv_std, weight)


@pytest.mark.t07_batchnorm_backward
@pytest.mark.parametrize("shape", [(2, 3, 1), (4, 2, 9)])
def test_t07_backward_against_finite_differences(student, shape):
    rng = np.random.default_rng(7)
    x, weight, grad_out, eps = rng.standard_normal(shape), rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape), 1e-5
    mean, inv_std = statistics(x, eps)
    grad_x, grad_weight, grad_bias = student.run(batch_norm_backward_of, grad_out, x, mean, inv_std, weight)
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


# t08 ----------------------------------------------------------------------------------------

def random_block_c(seed):
    from resnext_np.block import ResNeXtBottleneck

    block_c = ResNeXtBottleneck(16, 16, 1, cardinality=8, base_width=8, widen_factor=1).double()  # d = 2
    rng = np.random.default_rng(seed)
    block_c.load_state_dict({key: value if key.endswith("num_batches_tracked") else rng.uniform(0.5, 2, value.shape)
                             for key, value in block_c.state_dict().items()})
    return block_c


def converted(seed):
    from resnext_np.convert import convert

    block_a = convert(random_block_c(seed), "a")
    branch = block_a.branches[5]
    back = convert(convert(block_a, "b"), "c").state_dict()
    return branch.conv_expand.weight.data, branch.bn.running_mean, {key: np.asarray(value) for key, value in back.items()}


@pytest.mark.t08_block_converter
def test_t08_eight_branches_cut_from_the_grouped_weights_and_back(student):
    expand, running_mean, back = student.run(converted, 5)
    block_c = random_block_c(5)  # built here: the same numbers, the teacher's code
    np.testing.assert_array_equal(expand, block_c.conv_expand.weight.data[:, 10:12])
    np.testing.assert_array_equal(running_mean, block_c.bn.running_mean[10:12])
    original = block_c.state_dict()
    assert sorted(back) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)
