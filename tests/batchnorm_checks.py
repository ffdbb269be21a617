"""A check shared by the tests of the fused BatchNorm kernels (tests/kernels/test_batchnorm_*relu_cpu.py)."""

import numpy as np


def assert_gradients_close(got, expected, grad_out, gamma_inv_std, rtol):
    """(dx, dgamma, dbeta) against the unfused kernels' in grad_out's dtype. dx is a difference of
    terms of the size of gamma * inv_std * dy: its rounding is judged relative to that."""
    scales = {"dx": np.abs(grad_out).max() * gamma_inv_std.max(), "dgamma": np.abs(expected[1]).max(),
              "dbeta": np.abs(expected[2]).max()}
    for name, g, e in zip(("dx", "dgamma", "dbeta"), got, expected):
        assert g.dtype == grad_out.dtype, name
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * scales[name], err_msg=name)
