"""Tests of the evaluation chapter ``minigrad/kernels/batchnorm_eval_cpu.py`` and the
``BatchNormEval`` Function that the three BatchNorm layers use in ``eval()``.

Oracles: the elementwise ops it replaces (``x * scale + shift``, ``+ residual``, ``relu``: equal
bit for bit), finite differences in float64 (tests/gradcheck_cases.py), a hand example, and
PyTorch's ``relu(batch_norm(x, training=False) + r)`` where it is installed.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions.batchnorm import BatchNormEval, batch_norm_add_relu
from minigrad.kernels import batchnorm_eval_cpu

from batchnorm_checks import SHAPES, random_inputs


@pytest.mark.kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("relu, with_residual", [(False, False), (True, False), (True, True)])
def test_the_kernel_equals_the_elementwise_ops_bit_for_bit(shape, dtype, relu, with_residual):
    x, scale, shift, _, residual = random_inputs(shape, dtype)
    expected = x * scale[None, :, None] + shift[None, :, None]
    if with_residual:
        expected = expected + residual
    if relu:
        expected = np.maximum(expected, dtype(0))
    got = batchnorm_eval_cpu.affine_forward(x, scale, shift, relu, residual if with_residual else None)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.kernels
def test_nan_passes_the_clamp_and_a_strided_input_is_read_correctly():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4)[:, :, ::2]  # not contiguous
    x[0, 1, 0] = np.nan
    y = batchnorm_eval_cpu.affine_forward(x, np.array([1.0, -1.0, 2.0]), np.array([0.0, 1.0, -3.0]), True)
    expected = np.maximum(x * np.array([1.0, -1.0, 2.0])[None, :, None] + np.array([0.0, 1.0, -3.0])[None, :, None], 0)
    np.testing.assert_array_equal(y, expected)  # assert_array_equal treats NaN as equal to NaN
    assert np.isnan(y[0, 1, 0])


def test_a_hand_example():
    # running mean 2, running var 4, eps 0: xhat = (x - 2) / 2 = [-0.5, 0, 0.5, 1]; relu keeps the last two
    x = mg.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=np.float64, requires_grad=True)
    gamma, beta = mg.tensor([1.0], dtype=np.float64, requires_grad=True), mg.tensor([0.0], dtype=np.float64, requires_grad=True)
    y = mg.functional.batch_norm_relu(x, np.array([2.0]), np.array([4.0]), gamma, beta, eps=0.0)
    assert y._node.function is BatchNormEval
    np.testing.assert_array_equal(y.data[0, 0], [0.0, 0.0, 0.5, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [0.0, 0.0, 0.5, 0.5])  # dy * [y > 0] * gamma / sqrt(var)
    assert gamma.grad[0] == 1.5 and beta.grad[0] == 2.0                 # sum of xhat, and of dy, where y > 0


@pytest.mark.parametrize("layer", ["BatchNorm2d", "BatchNormReLU2d", "BatchNormAddReLU2d"])
def test_each_layer_in_eval_gives_the_values_and_gradients_of_the_unfused_graph(layer):
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal((4, 3, 5, 5)), dtype=np.float64, requires_grad=True)
    r = mg.tensor(rng.standard_normal((4, 3, 5, 5)), dtype=np.float64, requires_grad=True)
    module = getattr(mg.nn, layer)(3, dtype=np.float64)
    module.running_mean[:], module.running_var[:] = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    with mg.no_grad():
        module.weight.mul_(mg.tensor(rng.uniform(0.5, 2, 3), dtype=np.float64))
        module.bias.add_(mg.tensor(rng.standard_normal(3), dtype=np.float64))
    module.eval()
    fused = module(x, r) if layer == "BatchNormAddReLU2d" else module(x)
    assert fused._node.function is BatchNormEval

    # the unfused graph of elementwise ops, on copies of the same leaves
    x2, r2 = (mg.tensor(t.data.copy(), requires_grad=True) for t in (x, r))
    w2, b2 = (mg.tensor(p.data.copy(), requires_grad=True) for p in (module.weight, module.bias))
    scale = w2 * mg.tensor(1 / np.sqrt(module.running_var + module.eps))
    shift = b2 - scale * mg.tensor(module.running_mean)
    plain = x2 * scale.reshape(1, 3, 1, 1) + shift.reshape(1, 3, 1, 1)
    plain = plain + r2 if layer == "BatchNormAddReLU2d" else plain
    plain = plain if layer == "BatchNorm2d" else mg.functional.relu(plain)
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-15, atol=1e-15)

    grad_out = rng.standard_normal(fused.shape)
    fused.backward(mg.tensor(grad_out)), plain.backward(mg.tensor(grad_out))
    pairs = [(x, x2), (module.weight, w2), (module.bias, b2)] + [(r, r2)] * (layer == "BatchNormAddReLU2d")
    for mine, theirs in pairs:
        np.testing.assert_allclose(mine.grad, theirs.grad, rtol=1e-12, atol=1e-12)


def test_matches_torch_in_eval_with_residual_and_relu():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x_np, r_np, dy = (rng.standard_normal((4, 6, 7, 5)) for _ in range(3))
    mean, var = rng.standard_normal(6), rng.uniform(0.5, 2, 6)
    w_np, b_np = rng.uniform(0.5, 2, 6), rng.standard_normal(6)
    x, r, w, b = (mg.tensor(a, dtype=np.float64, requires_grad=True) for a in (x_np, r_np, w_np, b_np))
    y = batch_norm_add_relu(x, r, mean, var, w, b, eps=1e-3)
    y.backward(mg.tensor(dy))
    tx, tr, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_np, r_np, w_np, b_np))
    ty = torch.relu(torch.nn.functional.batch_norm(tx, torch.tensor(mean), torch.tensor(var), tw, tb,
                                                   training=False, eps=1e-3) + tr)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-12)
    for mine, theirs, name in ((x, tx, "dx"), (r, tr, "dr"), (w, tw, "dweight"), (b, tb, "dbias")):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)
