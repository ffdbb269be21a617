"""Random convolution geometries, drawn by Hypothesis: every algorithm that can compute one
against the NumPy reference (forward and both gradients, float64), float32 against float64,
finite differences, and PyTorch where installed."""

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.kernels import conv as conv_kernels
from minigrad.kernels import reference
from minigrad.kernels.conv_geometry import ConvGeometry


@st.composite
def geometries(draw):
    """Keyword arguments of ``conv2d`` plus the input and weight shapes, always a valid convolution."""
    pair = lambda low, high: (draw(st.integers(low, high)), draw(st.integers(low, high)))  # noqa: E731
    groups, in_per_group, out_per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel, stride, padding, dilation = pair(1, 3), pair(1, 3), pair(0, 2), pair(1, 2)
    smallest = [max(1, d * (k - 1) + 1 - 2 * p) for k, p, d in zip(kernel, padding, dilation)]
    height, width = (draw(st.integers(low, low + 5)) for low in smallest)
    return {
        "input_shape": (draw(st.integers(1, 3)), groups * in_per_group, height, width),
        "weight_shape": (groups * out_per_group, in_per_group) + kernel,
        "stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
        "bias": draw(st.booleans()), "seed": draw(st.integers(0, 2**32 - 1)),
    }


def arrays(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    x, weight = rng.standard_normal(case["input_shape"]), rng.standard_normal(case["weight_shape"])
    bias = rng.standard_normal(case["weight_shape"][0]) if case["bias"] else None
    return [None if a is None else a.astype(dtype) for a in (x, weight, bias)]


def conv_arguments(case):
    return {key: case[key] for key in ("stride", "padding", "dilation", "groups")}


def geometry(case):
    return ConvGeometry.from_shapes(case["input_shape"], case["weight_shape"], **conv_arguments(case))


def minigrad_conv(case, dtype, algorithm="auto"):
    """``(output, grad_x, grad_weight, grad_bias)`` with a cotangent of ones scaled by position."""
    x, weight, bias = (None if a is None else mg.tensor(a, requires_grad=True) for a in arrays(case, dtype))
    with mg.conv_algorithm(algorithm):
        out = F.conv2d(x, weight, bias, **conv_arguments(case))
        cotangent = np.linspace(-1, 1, out.numel()).reshape(out.shape).astype(dtype)
        out.backward(cotangent)
    return out.data, x.grad.data, weight.grad.data, None if bias is None else bias.grad.data, cotangent


@given(geometries())
def test_every_algorithm_that_can_compute_a_geometry_matches_the_reference(case):
    geom = geometry(case)
    x, weight, bias = arrays(case)
    able = [name for name, module in conv_kernels.ALGORITHMS.items() if module.cannot_compute(geom) is None]
    note(f"{geom}; algorithms {able}")
    assert "im2col" in able  # the classic handles every geometry
    expected = reference.conv2d_forward(x, weight, geom) + (0 if bias is None else bias.reshape(1, -1, 1, 1))
    for name in able:
        out, grad_x, grad_weight, grad_bias, cotangent = minigrad_conv(case, np.float64, name)
        np.testing.assert_allclose(out, expected, rtol=1e-11, atol=1e-11, err_msg=f"{name}: forward")
        np.testing.assert_allclose(grad_x, reference.conv2d_grad_input(cotangent, weight, geom),
                                   rtol=1e-11, atol=1e-11, err_msg=f"{name}: grad_input")
        np.testing.assert_allclose(grad_weight, reference.conv2d_grad_weight(x, cotangent, geom),
                                   rtol=1e-11, atol=1e-11, err_msg=f"{name}: grad_weight")
        if grad_bias is not None:
            np.testing.assert_allclose(grad_bias, cotangent.sum(axis=(0, 2, 3)), rtol=1e-12, atol=1e-12)


@given(geometries())
def test_float32_follows_float64(case):
    for ours, reference_value in zip(minigrad_conv(case, np.float32), minigrad_conv(case, np.float64)):
        if ours is not None:
            assert ours.dtype == np.float32
            scale = max(1.0, float(np.abs(reference_value).max()))
            np.testing.assert_allclose(ours, reference_value, rtol=1e-4, atol=1e-5 * scale)


@given(geometries())
def test_gradients_match_finite_differences(case):
    inputs = [mg.tensor(a, requires_grad=True) for a in arrays(case) if a is not None]
    assert mg.gradcheck(lambda *tensors: F.conv2d(*tensors, **conv_arguments(case)), *inputs, n_directions=8)


@given(geometries())
def test_outputs_and_gradients_match_torch(case):
    torch = pytest.importorskip("torch")
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays(case)]
    out = torch.nn.functional.conv2d(*theirs, **conv_arguments(case))
    ours = minigrad_conv(case, np.float64)
    out.backward(torch.tensor(ours[4]))
    np.testing.assert_allclose(ours[0], out.detach().numpy(), rtol=1e-10, atol=1e-10)
    for mine, their_leaf in zip(ours[1:4], theirs):
        if their_leaf is not None:
            np.testing.assert_allclose(mine, their_leaf.grad.numpy(), rtol=1e-10, atol=1e-10)
