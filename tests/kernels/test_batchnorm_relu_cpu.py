"""Tests of the fused chapter ``minigrad/kernels/batchnorm_relu_cpu.py`` and the ``BatchNormReLU``
Function and layer built on it.

Oracles: the unfused pair (``batchnorm_cpu`` then ``relu_cpu``, themselves tested against NumPy
formulas and PyTorch), finite differences in float64 (tests/gradcheck_cases.py), a hand example,
and PyTorch's ``relu(batch_norm(...))`` where it is installed.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions.batchnorm import BatchNormReLU, batch_norm_relu
from minigrad.kernels import batchnorm_cpu, batchnorm_relu_cpu, relu_cpu

from batchnorm_checks import DTYPES_AND_TOLERANCES, SHAPES, assert_gradients_close, random_inputs


@pytest.mark.kernels
@pytest.mark.parametrize("dtype, rtol", DTYPES_AND_TOLERANCES)
@pytest.mark.parametrize("shape", SHAPES)
def test_fused_kernels_compute_what_batchnorm_then_relu_compute(shape, dtype, rtol):
    x, weight, bias, grad_out, _ = random_inputs(shape, dtype)

    fused, mean, var, inv_std = batchnorm_cpu.batch_norm_forward(x, weight, bias, 1e-5, True)
    plain = batchnorm_cpu.batch_norm_forward(x, weight, bias, 1e-5)[0]
    np.testing.assert_array_equal(fused, np.maximum(plain, 0))  # the clamp is the only change

    got = batchnorm_relu_cpu.batch_norm_relu_backward(grad_out, fused, x, mean, inv_std, weight, bias)
    masked = relu_cpu.relu_backward(grad_out, relu_cpu.relu_forward(plain))
    expected = batchnorm_cpu.batch_norm_backward(masked, x, mean, inv_std, weight)
    assert_gradients_close(got, expected, grad_out, weight * inv_std, rtol)



@pytest.mark.kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_mask_recomputed_from_x_is_exactly_where_y_is_positive(dtype):
    """The backward never reads y: it recomputes BN(x) > 0. Values of BN(x) at exactly 0 or within
    rounding of it are where a mask computed another way would differ; here every channel's bias
    puts a tenth of its values there (their x ties a chosen value), and the gradient must be
    exactly what the mask [y > 0] gives (a value let through or not moves dx by ~|dy| * scale)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 8, 400)).astype(dtype)
    x[:, :, ::10] = x[:1, :, :1]  # a tenth of each channel ties to one value, x0
    weight = rng.uniform(0.5, 2, 8).astype(dtype)
    _, mean, _, inv_std = batchnorm_cpu.batch_norm_forward(x, weight, np.zeros(8, dtype), 1e-5)
    # bias = -(x0 - mean) * scale in x's dtype: BN(x0) is 0 or within rounding of it
    bias = np.array([-(x[0, c, 0] - dtype(mean[c])) * dtype(weight[c] * inv_std[c]) for c in range(8)], dtype=dtype)
    y, mean, _, inv_std = batchnorm_cpu.batch_norm_forward(x, weight, bias, 1e-5, True)
    grad_out = rng.standard_normal(x.shape).astype(dtype)
    got = batchnorm_relu_cpu.batch_norm_relu_backward(grad_out, y, x, mean, inv_std, weight, bias)
    expected = batchnorm_cpu.batch_norm_backward(np.where(y > 0, grad_out, 0).astype(dtype), x, mean, inv_std, weight)
    assert_gradients_close(got, expected, grad_out, weight * inv_std, 1e-5 if dtype == np.float32 else 1e-12)
    y_ties = y[:, :, ::10]
    assert (y_ties == 0).any() or (y_ties < 1e-5).all()  # the ties do sit at the clamp


@pytest.mark.kernels
def test_a_hand_example():
    # x = [1, 2, 3, 4] in one channel: mean 2.5, var 1.25, xhat = [-3, -1, 1, 3] / sqrt(5)
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    one = np.ones(1)
    y, mean, _, inv_std = batchnorm_cpu.batch_norm_forward(x, one, np.zeros(1), 0.0, True)
    np.testing.assert_allclose(y[0, 0], [0, 0, 1 / np.sqrt(5), 3 / np.sqrt(5)], rtol=1e-15)
    # dy = 1 everywhere: dz = [0, 0, 1, 1], sum dz = 2, sum dz * xhat = 4 / sqrt(5);
    # dx = inv_std * (dz - 2/4 - xhat * (4/sqrt(5))/4) = sqrt(0.8) * (dz - 0.5 - xhat / sqrt(5))
    dx, dgamma, dbeta = batchnorm_relu_cpu.batch_norm_relu_backward(np.ones_like(x), y, x, mean, inv_std, one, np.zeros(1))
    xhat = np.array([-3, -1, 1, 3]) / np.sqrt(5)
    np.testing.assert_allclose(dx[0, 0], np.sqrt(0.8) * (np.array([0, 0, 1, 1]) - 0.5 - xhat / np.sqrt(5)), rtol=1e-14)
    np.testing.assert_allclose([dgamma[0], dbeta[0]], [4 / np.sqrt(5), 2.0], rtol=1e-15)


@pytest.mark.kernels
def test_nan_passes_through_the_clamp_as_relu_lets_it():
    x = np.array([[[1.0, np.nan, 3.0]]])
    y = batchnorm_cpu.batch_norm_forward(x, np.ones(1), np.zeros(1), 1e-5, True)[0]
    assert np.isnan(y).all()  # the NaN poisons the channel's statistics; ReLU does not hide it


def test_the_function_and_layer_match_relu_of_batchnorm_with_running_statistics():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((4, 3, 5, 5)), dtype=np.float64, requires_grad=True)
    fused_layer, plain_layer = mg.nn.BatchNormReLU2d(3, dtype=np.float64), mg.nn.BatchNorm2d(3, dtype=np.float64)
    plain_layer.load_state_dict(fused_layer.state_dict())  # the same keys: one loads into the other
    fused, plain = fused_layer(x), mg.functional.relu(plain_layer(x))
    assert fused._node.function is BatchNormReLU
    np.testing.assert_array_equal(fused.data, plain.data)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_array_equal(getattr(fused_layer, name), getattr(plain_layer, name), err_msg=name)
    fused_layer.eval(), plain_layer.eval()
    np.testing.assert_allclose(fused_layer(x).data, mg.functional.relu(plain_layer(x)).data, rtol=1e-15)
    assert (fused_layer(x).data >= 0).all()


def test_bad_input_is_named_as_batch_norm_relu():
    with pytest.raises(ValueError, match=r"batch_norm_relu: weight must have shape \(3,\)"):
        batch_norm_relu(mg.zeros(2, 3, 4, 4), None, None, mg.ones(4), training=True)
    with pytest.raises(ValueError, match="batch_norm_relu in training needs more than 1 value per channel"):
        batch_norm_relu(mg.zeros(1, 3), None, None, training=True)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x_np, w_np, b_np = rng.standard_normal((4, 6, 7, 5)), rng.uniform(0.5, 2, 6), rng.standard_normal(6)
    grad = rng.standard_normal((4, 6, 7, 5))
    x, w, b = (mg.tensor(a, dtype=np.float64, requires_grad=True) for a in (x_np, w_np, b_np))
    batch_norm_relu(x, None, None, w, b, training=True).backward(mg.tensor(grad, dtype=np.float64))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
    ty = torch.relu(torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True))
    ty.backward(torch.tensor(grad))
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(batch_norm_relu(x, None, None, w, b, training=True).data, ty.detach().numpy(),
                               rtol=1e-10, atol=1e-12)
