"""The BatchNorm kernels against hand-computed numbers and a plain NumPy formulation."""

import numpy as np
import pytest

from minigrad.kernels import batchnorm_cpu

pytestmark = pytest.mark.kernels


def test_forward_by_hand():
    # One channel holding 1, 2, 3, 4 (two images, two positions): mean 2.5, biased variance 1.25.
    x = np.array([[[1.0, 2.0]], [[3.0, 4.0]]])
    y, mean, var, inv_std = batchnorm_cpu.batch_norm_forward(x, np.array([2.0]), np.array([0.5]), 0.0)
    assert mean.tolist() == [2.5] and var.tolist() == [1.25]
    xhat = np.array([-1.5, -0.5, 0.5, 1.5]) / np.sqrt(1.25)
    np.testing.assert_allclose(y.reshape(-1), 2 * xhat + 0.5, rtol=1e-15)
    np.testing.assert_allclose(inv_std, [1 / np.sqrt(1.25)], rtol=1e-15)


def test_backward_by_hand():
    # dy = 1 everywhere: dbeta = 4, dgamma = sum(xhat) = 0, and dx = 0 (a constant shift of y
    # is absorbed by the mean).
    x = np.array([[[1.0, 2.0]], [[3.0, 4.0]]])
    _, mean, _, inv_std = batchnorm_cpu.batch_norm_forward(x, np.array([2.0]), np.array([0.0]), 0.0)
    grad_x, grad_weight, grad_bias = batchnorm_cpu.batch_norm_backward(np.ones_like(x), x, mean, inv_std, np.array([2.0]))
    assert grad_bias.tolist() == [4.0]
    np.testing.assert_allclose(grad_weight, [0.0], atol=1e-15)
    np.testing.assert_allclose(grad_x, 0.0, atol=1e-15)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 2500)])  # 2500 values: summed in blocks of SUM_BLOCK
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_kernels_match_numpy_formulas(dtype, tolerance, shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma, beta = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    eps = 1e-5
    y, mean, var, inv_std = batchnorm_cpu.batch_norm_forward(x, gamma, beta, eps)
    grad_x, grad_gamma, grad_beta = batchnorm_cpu.batch_norm_backward(dy, x, mean, inv_std, gamma)
    assert y.dtype == dtype and grad_x.dtype == dtype and grad_gamma.dtype == dtype

    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    m = x64.mean(axis=(0, 2), keepdims=True)
    v = x64.var(axis=(0, 2), keepdims=True)
    xhat = (x64 - m) / np.sqrt(v + eps)
    g = gamma.astype(np.float64)[None, :, None]
    count = x.shape[0] * x.shape[2]
    expected_dx = g / np.sqrt(v + eps) / count * (
        count * dy64 - dy64.sum(axis=(0, 2), keepdims=True) - xhat * (dy64 * xhat).sum(axis=(0, 2), keepdims=True)
    )
    np.testing.assert_allclose(y, xhat * g + beta.astype(np.float64)[None, :, None], rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(var, v.reshape(-1), rtol=tolerance)
    np.testing.assert_allclose(grad_beta, dy64.sum(axis=(0, 2)), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(grad_gamma, (dy64 * xhat).sum(axis=(0, 2)), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(grad_x, expected_dx, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("mean", [1e4, 1e6])
def test_float32_forward_keeps_its_precision_when_the_mean_is_large(mean):
    # x * scale + shift cancels two numbers of size mean/std: at mean 1e6, std 1 it was off by 0.09.
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 3, 64)) + mean).astype(np.float32)
    weight, bias = np.array([1.0, 2.0, 0.5], np.float32), np.array([0.0, 1.0, -1.0], np.float32)
    y = batchnorm_cpu.batch_norm_forward(x, weight, bias, 1e-5)[0]
    x64 = x.astype(np.float64)
    channel_mean, channel_var = x64.mean(axis=(0, 2), keepdims=True), x64.var(axis=(0, 2), keepdims=True)
    expected = (x64 - channel_mean) / np.sqrt(channel_var + 1e-5) * weight[:, None] + bias[:, None]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-5)  # float32's own rounding of y ~ 1e-7
