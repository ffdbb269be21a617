"""Tests of the merge at the end of a ResNeXt block, ``relu(BatchNorm(x) + residual)`` fused:
the ``residual`` of ``batch_norm_forward`` and the ``grad_residual`` of ``batch_norm_relu_backward``,
and the ``BatchNormAddReLU`` Function and layer built on them.

Oracles: the unfused ops (``batchnorm_cpu``, an add, ``relu_cpu``), finite differences in float64
(tests/gradcheck_cases.py), and PyTorch's ``relu(batch_norm(...) + r)`` where it is installed.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions.batchnorm import BatchNormAddReLU, batch_norm_add_relu
from minigrad.kernels import batchnorm_cpu, batchnorm_relu_cpu, relu_cpu

from batchnorm_checks import DTYPES_AND_TOLERANCES, SHAPES, assert_gradients_close, random_inputs


@pytest.mark.kernels
@pytest.mark.parametrize("dtype, rtol", DTYPES_AND_TOLERANCES)
@pytest.mark.parametrize("shape", SHAPES)
def test_fused_kernels_compute_what_batchnorm_add_relu_compute(shape, dtype, rtol):
    x, weight, bias, grad_out, residual = random_inputs(shape, dtype)

    fused, mean, var, inv_std = batchnorm_cpu.batch_norm_forward(x, weight, bias, 1e-5, True, residual)
    summed = batchnorm_cpu.batch_norm_forward(x, weight, bias, 1e-5)[0] + residual
    np.testing.assert_array_equal(fused, np.maximum(summed, 0))

    grad_residual = np.full(shape, np.nan, dtype=dtype)  # every element must be written
    got = batchnorm_relu_cpu.batch_norm_relu_backward(grad_out, fused, x, mean, inv_std, weight, bias, grad_residual)
    masked = relu_cpu.relu_backward(grad_out, relu_cpu.relu_forward(summed))
    np.testing.assert_array_equal(grad_residual, masked)  # the sum passes the ReLU's gradient on unchanged
    expected = batchnorm_cpu.batch_norm_backward(masked, x, mean, inv_std, weight)
    assert_gradients_close(got, expected, grad_out, weight * inv_std, rtol)


@pytest.mark.kernels
def test_a_hand_example():
    # x = [1, 2, 3, 4]: xhat = [-3, -1, 1, 3] / sqrt(5) = [-1.342, -0.447, 0.447, 1.342]; r = [2, 0, -1, 0]
    x, residual = np.array([[[1.0, 2.0, 3.0, 4.0]]]), np.array([[[2.0, 0.0, -1.0, 0.0]]])
    one = np.ones(1)
    y, mean, _, inv_std = batchnorm_cpu.batch_norm_forward(x, one, np.zeros(1), 0.0, True, residual)
    xhat = np.array([-3, -1, 1, 3]) / np.sqrt(5)
    np.testing.assert_allclose(y[0, 0], [xhat[0] + 2, 0, 0, xhat[3]], rtol=1e-15)
    grad_residual = np.empty_like(x)
    batchnorm_relu_cpu.batch_norm_relu_backward(np.full_like(x, 3.0), y, x, mean, inv_std, one, np.zeros(1), grad_residual)
    np.testing.assert_array_equal(grad_residual[0, 0], [3.0, 0.0, 0.0, 3.0])


def test_the_function_and_layer_match_relu_of_batchnorm_plus_residual():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((4, 3, 5, 5)), dtype=np.float64, requires_grad=True)
    r = mg.tensor(rng.standard_normal((4, 3, 5, 5)), dtype=np.float64, requires_grad=True)
    fused_layer, plain_layer = mg.nn.BatchNormAddReLU2d(3, dtype=np.float64), mg.nn.BatchNorm2d(3, dtype=np.float64)
    plain_layer.load_state_dict(fused_layer.state_dict())  # the same keys: one loads into the other
    fused, plain = fused_layer(x, r), mg.functional.relu(plain_layer(x) + r)
    assert fused._node.function is BatchNormAddReLU
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-15, atol=1e-15)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_array_equal(getattr(fused_layer, name), getattr(plain_layer, name), err_msg=name)
    fused_layer.eval(), plain_layer.eval()
    np.testing.assert_allclose(fused_layer(x, r).data, mg.functional.relu(plain_layer(x) + r).data, rtol=1e-15)


def test_bad_residuals_are_refused_with_their_shape_and_dtype():
    x = mg.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"residual must match the input, \(2, 3, 4, 4\) float32; got \(2, 3, 4, 5\)"):
        batch_norm_add_relu(x, mg.zeros(2, 3, 4, 5), None, None, training=True)
    with pytest.raises(ValueError, match="got \\(2, 3, 4, 4\\) float64"):
        batch_norm_add_relu(x, mg.zeros(2, 3, 4, 4, dtype=np.float64), None, None, training=True)
    with pytest.raises(TypeError, match="residual must be a Tensor, got ndarray"):
        batch_norm_add_relu(x, np.zeros((2, 3, 4, 4)), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm_add_relu: weight must have shape \(3,\)"):
        batch_norm_add_relu(x, mg.zeros(2, 3, 4, 4), None, None, mg.ones(4), training=True)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x_np, r_np = rng.standard_normal((4, 6, 7, 5)), rng.standard_normal((4, 6, 7, 5))
    w_np, b_np, grad = rng.uniform(0.5, 2, 6), rng.standard_normal(6), rng.standard_normal((4, 6, 7, 5))
    x, r, w, b = (mg.tensor(a, dtype=np.float64, requires_grad=True) for a in (x_np, r_np, w_np, b_np))
    out = batch_norm_add_relu(x, r, None, None, w, b, training=True)
    out.backward(mg.tensor(grad, dtype=np.float64))
    tx, tr, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_np, r_np, w_np, b_np))
    ty = torch.relu(torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True) + tr)
    ty.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((x, tx), (r, tr), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
