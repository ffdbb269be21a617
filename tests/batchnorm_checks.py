"""Inputs and a check shared by the tests of the BatchNorm kernels (tests/kernels/test_batchnorm_*_cpu.py)."""

import numpy as np

DTYPES_AND_TOLERANCES = [(np.float64, 1e-12), (np.float32, 2e-5)]
SHAPES = [(4, 3, 10), (2, 5, 1), (3, 2, 64), (2, 3, 2500)]  # (N, C, S): one value per channel and image included;
# 2500 values per image: the forward sums them in blocks of batchnorm_cpu.SUM_BLOCK (1024)


def random_inputs(shape, dtype):
    """x (mean 2, std 3), weight in [0.5, 2], bias, grad_out and a residual, all in ``dtype``."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    weight, bias = rng.uniform(0.5, 2, shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    grad_out, residual = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    return x, weight, bias, grad_out, residual


def assert_gradients_close(got, expected, grad_out, gamma_inv_std, rtol):
    """(dx, dgamma, dbeta) against the unfused kernels' in grad_out's dtype. dx is a difference of
    terms of the size of gamma * inv_std * dy: its rounding is judged relative to that."""
    scales = {"dx": np.abs(grad_out).max() * gamma_inv_std.max(), "dgamma": np.abs(expected[1]).max(),
              "dbeta": np.abs(expected[2]).max()}
    for name, g, e in zip(("dx", "dgamma", "dbeta"), got, expected):
        assert g.dtype == grad_out.dtype, name
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * scales[name], err_msg=name)
