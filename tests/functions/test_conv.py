"""Tests of ``minigrad/functions/conv.py``: the Conv2d Function and ``conv2d``.

Oracles: finite differences in float64 (every element), numbers worked out by hand, and PyTorch's
``F.conv2d`` when torch is installed.  The kernels themselves are tested against the NumPy reference
in ``tests/kernels``; here the question is whether the Function wires them up correctly.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions.conv import Conv2d, conv2d
from minigrad.kernels.conv.selection import conv_algorithm

T05, T06 = pytest.mark.t05_grouped_conv_forward, pytest.mark.t06_conv_backward


@pytest.fixture
def matmul_path():
    """Compute every convolution with im2col + matmul, what classroom tasks t05 and t06 write.

    "auto" would pick the direct loops or the shifted matmuls for most of these geometries,
    which are not tasks, and a graded test would pass without the student's code. Every
    algorithm is tested on its own in tests/kernels/test_conv.py.
    """
    with conv_algorithm("im2col"):
        yield


@pytest.fixture
def path(request):
    """"auto" lets minigrad choose; "im2col" does what `matmul_path` does."""
    with conv_algorithm(request.param):
        yield request.param


def both_paths(task_marker):
    """Run once as minigrad chooses and once with im2col + matmul; the latter is graded as `task_marker`."""
    return pytest.mark.parametrize("path", ["auto", pytest.param("im2col", marks=task_marker)], indirect=True)


def leaf(array):
    return mg.tensor(np.array(array, dtype=np.float64), dtype=np.float64, requires_grad=True)


# (N, C_in, H, W), (C_out, kH, kW), stride, padding, dilation, groups, bias.
# Each value of the grid appears at least once; the rows pair them where they interact
# (stride with dilation, padding with depthwise, non-square everything, 1x1 with stride).
GRID = {
    "plain 3x3": ((2, 2, 5, 5), (3, 3, 3), 1, 0, 1, 1, True),
    "batch 1, non-square kernel and input, pad 1": ((1, 2, 4, 6), (3, 2, 3), 1, 1, 1, 1, True),
    "groups 2, stride 2, pad 1": ((2, 4, 5, 6), (4, 3, 3), 2, 1, 1, 2, True),
    "depthwise 3x3, pad 1, no bias": ((1, 4, 5, 4), (4, 3, 3), 1, 1, 1, 4, False),
    "depthwise x2 filters, stride 2, pad 2, dilation 2": ((1, 3, 6, 6), (6, 3, 3), 2, 2, 2, 3, True),
    "1x1 kernel": ((2, 3, 4, 5), (2, 1, 1), 1, 0, 1, 1, True),
    "1x1 kernel, groups 2, stride 2": ((1, 4, 5, 4), (2, 1, 1), 2, 0, 1, 2, False),
    "1x1 kernel with padding (zero border)": ((1, 2, 3, 3), (2, 1, 1), 1, 1, 1, 1, True),
    "dilation 2, no padding": ((1, 2, 6, 6), (2, 2, 2), 1, 0, 2, 1, True),
    "pairs: stride (2,1), pad (1,2), dilation (2,1), groups 2": ((1, 2, 6, 5), (4, 3, 2), (2, 1), (1, 2), (2, 1), 2, True),
    "depthwise, stride 2, no padding": ((2, 4, 5, 5), (4, 3, 3), 2, 0, 1, 4, True),
    "padding 2 > kernel reach (output larger than input)": ((1, 1, 3, 3), (2, 3, 3), 1, 2, 1, 1, True),
    "kernel as large as the input (1x1 output)": ((2, 1, 4, 3), (2, 4, 3), 1, 0, 1, 1, True),
    "stride = kernel (non-overlapping), one filter per group": ((1, 4, 4, 6), (2, 2, 2), 2, 0, 1, 2, False),
    "depthwise non-square kernel, padding (1, 0)": ((1, 3, 5, 4), (3, 3, 1), 1, (1, 0), 1, 3, True),
    "stride 3 does not divide the extent": ((1, 2, 6, 5), (2, 2, 2), 3, 1, 1, 1, True),
    "stride 2, padding 2, dilation 2, groups 2": ((1, 2, 5, 6), (4, 3, 3), 2, 2, 2, 2, False),
    "dilation (1, 2), non-square kernel": ((2, 2, 4, 6), (2, 2, 3), 1, 1, (1, 2), 1, True),
    "single input channel, many filters": ((2, 1, 5, 4), (4, 3, 3), 1, 1, 1, 1, True),
    "stride (1, 2), batch 2, groups 2": ((2, 2, 4, 5), (2, 2, 2), (1, 2), 0, 1, 2, True),
}


def make_case(case, rng):
    x_shape, (out_channels, kernel_h, kernel_w), stride, padding, dilation, groups, has_bias = case
    x = leaf(rng.standard_normal(x_shape))
    weight = leaf(rng.standard_normal((out_channels, x_shape[1] // groups, kernel_h, kernel_w)))
    bias = leaf(rng.standard_normal(out_channels)) if has_bias else None
    attrs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, weight, bias, attrs


# ---------------------------------------------------------------- gradients (finite differences)


@T06
@pytest.mark.usefixtures("matmul_path")
@pytest.mark.parametrize("case", list(GRID.values()), ids=list(GRID))
def test_gradcheck_input_weight_and_bias(case):
    x, weight, bias, attrs = make_case(case, np.random.default_rng(0))
    if bias is None:
        assert mg.gradcheck(lambda x, w: conv2d(x, w, **attrs), x, weight)
    else:
        assert mg.gradcheck(lambda x, w, b: conv2d(x, w, b, **attrs), x, weight, bias)


def test_gradcheck_input_used_twice_accumulates():
    """x feeds the convolution and the product: dx gets both contributions.

    Not marked t06: the product's backward needs unbroadcast (t02), which t06 does not depend on."""
    rng = np.random.default_rng(1)
    x, weight = leaf(rng.standard_normal((1, 2, 4, 4))), leaf(rng.standard_normal((2, 1, 3, 3)))
    assert mg.gradcheck(lambda x, w: conv2d(x, w, padding=1, groups=2) * x, x, weight)


@T06
@pytest.mark.usefixtures("matmul_path")
def test_only_the_inputs_that_require_grad_get_a_gradient():
    rng = np.random.default_rng(2)
    x = mg.tensor(rng.standard_normal((1, 2, 4, 4)), dtype=np.float64)
    weight = leaf(rng.standard_normal((3, 2, 2, 2)))
    bias = mg.tensor(np.zeros(3), dtype=np.float64)
    conv2d(x, weight, bias).sum().backward()
    assert x.grad is None and bias.grad is None
    # d(sum y)/dw[o, c, i, j] = sum of the input pixels that tap (i, j) reads
    np.testing.assert_allclose(weight.grad[1, 0, 0, 0], x.data[0, 0, :3, :3].sum(), rtol=1e-12)


# ---------------------------------------------------------------- worked by hand

X_3X3 = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]


@T05
@pytest.mark.usefixtures("matmul_path")
def test_hand_example_forward_2x2_kernel_and_bias():
    x = leaf([[X_3X3]])
    weight = leaf([[[[1.0, 2.0], [3.0, 4.0]]]])
    bias = leaf([1.0])
    y = conv2d(x, weight, bias)
    # y[0,0] = 1*1 + 2*2 + 3*4 + 4*5 + 1 = 38 ; y[0,1] = 1*2 + 2*3 + 3*5 + 4*6 + 1 = 48
    # y[1,0] = 1*4 + 2*5 + 3*7 + 4*8 + 1 = 68 ; y[1,1] = 1*5 + 2*6 + 3*8 + 4*9 + 1 = 78
    np.testing.assert_array_equal(y.data, [[[[38.0, 48.0], [68.0, 78.0]]]])


@T06
@pytest.mark.usefixtures("matmul_path")
def test_hand_example_gradients_2x2_kernel_and_bias():
    x = leaf([[X_3X3]])
    weight = leaf([[[[1.0, 2.0], [3.0, 4.0]]]])
    bias = leaf([1.0])
    conv2d(x, weight, bias).sum().backward()
    # dw[i,j] = sum of the 2x2 block of x starting at (i, j)
    np.testing.assert_array_equal(weight.grad, [[[[12.0, 16.0], [24.0, 28.0]]]])
    # dx[p,q] = sum of the weights whose window covers (p, q): the centre sees all four (10)
    np.testing.assert_array_equal(x.grad, [[[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]])
    np.testing.assert_array_equal(bias.grad, [4.0])  # four output pixels


@T05
@pytest.mark.usefixtures("matmul_path")
def test_hand_example_padding_stride_and_dilation():
    x = leaf([[[[1.0, 2.0], [3.0, 4.0]]]])
    ones = leaf(np.ones((1, 1, 3, 3)))
    # With padding 1, every 3x3 window around a pixel of a 2x2 image covers the whole image: 1+2+3+4.
    np.testing.assert_array_equal(conv2d(x, ones, padding=1).data, np.full((1, 1, 2, 2), 10.0))
    # Stride 2 keeps only the first window.
    np.testing.assert_array_equal(conv2d(x, ones, padding=1, stride=2).data, [[[[10.0]]]])
    # A 2x2 kernel with dilation 2 reads the four corners of a 3x3 image: 1 + 3 + 7 + 9.
    corners = conv2d(leaf([[X_3X3]]), leaf(np.ones((1, 1, 2, 2))), dilation=2)
    np.testing.assert_array_equal(corners.data, [[[[20.0]]]])


@T05
@pytest.mark.usefixtures("matmul_path")
def test_hand_example_groups_keep_channels_apart():
    # Two groups, 1x1 kernels: output channel 0 sees only input channel 0, output 1 only input 1.
    x = leaf([[[[1.0, 2.0]], [[10.0, 20.0]]]])        # (1, 2, 1, 2)
    weight = leaf([[[[2.0]]], [[[-1.0]]]])             # (2, 1, 1, 1)
    y = conv2d(x, weight, groups=2)
    np.testing.assert_array_equal(y.data, [[[[2.0, 4.0]], [[-10.0, -20.0]]]])


def test_docstring_formula_for_output_size():
    # H_out = (H + 2p - d(k-1) - 1) // s + 1 = (7 + 2 - 4 - 1) // 2 + 1 = 3 ; W: (6 + 0 - 2 - 1) // 1 + 1 = 4
    x = mg.zeros(1, 1, 7, 6)
    weight = mg.zeros(1, 1, 3, 3)
    y = conv2d(x, weight, stride=(2, 1), padding=(1, 0), dilation=(2, 1))
    assert y.shape == (1, 1, 3, 4)


# ---------------------------------------------------------------- float32


def test_float32_stays_float32_and_matches_float64():
    rng = np.random.default_rng(3)
    x64 = rng.standard_normal((2, 4, 6, 5))
    w64 = rng.standard_normal((6, 2, 3, 3))
    b64 = rng.standard_normal(6)
    attrs = dict(stride=2, padding=1, dilation=1, groups=2)
    results = {}
    for dtype in (np.float32, np.float64):
        x, w, b = (mg.tensor(a.astype(dtype), requires_grad=True) for a in (x64, w64, b64))
        y = conv2d(x, w, b, **attrs)
        y.backward(np.ones(y.shape, dtype=dtype))
        results[dtype] = (y, x, w, b)
    y32, x32, w32, b32 = results[np.float32]
    y64, xg64, wg64, bg64 = results[np.float64]
    assert y32.dtype == np.float32
    assert x32.grad.dtype == np.float32 and w32.grad.dtype == np.float32 and b32.grad.dtype == np.float32
    np.testing.assert_allclose(y32.data, y64.data, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x32.grad, xg64.grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w32.grad, wg64.grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b32.grad, bg64.grad, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- mistakes


def zeros(*shape, dtype=np.float64):
    return mg.tensor(np.zeros(shape, dtype=dtype))


BAD_CALLS = {
    "in_channels not divisible by groups": (
        lambda: conv2d(zeros(1, 6, 4, 4), zeros(4, 1, 3, 3), groups=4), r"in_channels=6 is not divisible by groups=4"),
    "out_channels not divisible by groups": (
        lambda: conv2d(zeros(1, 4, 4, 4), zeros(6, 1, 3, 3), groups=4), r"out_channels=6 is not divisible by groups=4"),
    "weight channels inconsistent with input and groups": (
        lambda: conv2d(zeros(1, 4, 4, 4), zeros(6, 3, 3, 3), groups=2),
        r"weight shape \(6, 3, 3, 3\).*6 input channels with groups=2.*input has 4 channels"),
    "kernel larger than the padded input": (
        lambda: conv2d(zeros(1, 1, 4, 4), zeros(1, 1, 5, 3)), r"kernel \(5, 3\).*padded input \(4, 4\)"),
    "dilated kernel larger than the padded input": (
        lambda: conv2d(zeros(1, 1, 4, 4), zeros(1, 1, 3, 3), dilation=2, padding=(0, 1)),
        r"spans \(5, 5\) pixels, larger than the padded input \(4, 6\)"),
    "stride < 1": (lambda: conv2d(zeros(1, 1, 4, 4), zeros(1, 1, 3, 3), stride=(1, 0)), r"stride must be >= 1.*\(1, 0\)"),
    "dilation < 1": (lambda: conv2d(zeros(1, 1, 4, 4), zeros(1, 1, 3, 3), dilation=0), r"dilation must be >= 1.*\(0, 0\)"),
    "padding < 0": (lambda: conv2d(zeros(1, 1, 4, 4), zeros(1, 1, 3, 3), padding=-1), r"padding must be >= 0.*\(-1, -1\)"),
    "3-D input": (lambda: conv2d(zeros(1, 4, 4), zeros(1, 1, 3, 3)), r"4-D input.*\(1, 4, 4\)"),
    "5-D input": (lambda: conv2d(zeros(1, 1, 1, 4, 4), zeros(1, 1, 3, 3)), r"4-D input.*\(1, 1, 1, 4, 4\)"),
    "input and weight dtypes differ": (
        lambda: conv2d(zeros(1, 1, 4, 4, dtype=np.float32), zeros(1, 1, 3, 3)), r"input dtype float32 and weight dtype float64"),
    "bias dtype differs": (
        lambda: conv2d(zeros(1, 1, 4, 4), zeros(2, 1, 3, 3), zeros(2, dtype=np.float32)), r"bias dtype float32"),
    "bias of the wrong length": (
        lambda: conv2d(zeros(1, 1, 4, 4), zeros(2, 1, 3, 3), zeros(3)), r"bias must have shape \(2,\), got \(3,\)"),
    "bias of the wrong rank": (
        lambda: conv2d(zeros(1, 1, 4, 4), zeros(2, 1, 3, 3), zeros(2, 1)), r"bias must have shape \(2,\), got \(2, 1\)"),
}


@pytest.mark.parametrize("call, message", list(BAD_CALLS.values()), ids=list(BAD_CALLS))
def test_mistakes_raise_value_error_quoting_the_numbers(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_array_instead_of_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="weight must be a Tensor, got ndarray"):
        conv2d(zeros(1, 1, 4, 4), np.zeros((1, 1, 3, 3)))


# ---------------------------------------------------------------- PyTorch parity


def torch_leaf(torch, array):
    return torch.tensor(np.array(array), dtype=torch.float64, requires_grad=True)


@both_paths(T06)
@pytest.mark.parametrize("case", list(GRID.values()), ids=list(GRID))
def test_matches_torch_forward_and_gradients(case, path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, weight, bias, attrs = make_case(case, rng)
    y = conv2d(x, weight, bias, **attrs)
    grad_out = rng.standard_normal(y.shape)
    y.backward(grad_out)

    tx, tw = torch_leaf(torch, x.data), torch_leaf(torch, weight.data)
    tb = None if bias is None else torch_leaf(torch, bias.data)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **attrs)
    ty.backward(torch.from_numpy(grad_out))

    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(weight.grad, tw.grad.numpy(), rtol=0, atol=1e-10)
    if bias is not None:
        np.testing.assert_allclose(bias.grad, tb.grad.numpy(), rtol=0, atol=1e-10)


@T06
@pytest.mark.usefixtures("matmul_path")
def test_matches_torch_on_non_contiguous_arrays():
    """Transposed input, reversed weight and a transposed incoming gradient are read by value."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = mg.Tensor(rng.standard_normal((2, 5, 6, 4)).transpose(0, 3, 2, 1), requires_grad=True)  # (2, 4, 6, 5)
    weight = mg.Tensor(rng.standard_normal((4, 2, 3, 2))[:, :, ::-1], requires_grad=True)     # negative strides
    assert not x.data.flags.c_contiguous and not weight.data.flags.c_contiguous
    y = conv2d(x, weight, padding=1, groups=2)
    grad_out = rng.standard_normal(y.shape[::-1]).T                        # Fortran order
    y.backward(grad_out)

    tx, tw = torch_leaf(torch, x.data), torch_leaf(torch, weight.data)
    ty = torch.nn.functional.conv2d(tx, tw, padding=1, groups=2)
    ty.backward(torch.from_numpy(np.ascontiguousarray(grad_out)))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(weight.grad, tw.grad.numpy(), rtol=0, atol=1e-10)


def test_conv2d_is_the_function_recorded_in_the_graph():
    x = leaf(np.ones((1, 1, 3, 3)))
    y = conv2d(x, leaf(np.ones((1, 1, 2, 2))))
    assert y._node.function is Conv2d


def test_backward_uses_the_algorithm_chosen_at_forward_time(monkeypatch):
    """Forward inside ``conv_algorithm("shifted")``, backward outside it: the gradients still
    come from the shifted matmuls ("auto" would pick the direct loops here). Spies count calls."""
    from minigrad.kernels.conv import direct, shifted

    calls = []
    for module in (shifted, direct):
        for name in ("grad_input", "grad_weight"):
            original = getattr(module, name)
            monkeypatch.setattr(module, name, lambda *args, _original=original, _name=f"{module.__name__}.{name}": calls.append(_name) or _original(*args))
    x = leaf(np.random.default_rng(0).standard_normal((2, 4, 16, 16)))
    w = leaf(np.random.default_rng(1).standard_normal((4, 2, 3, 3)))
    with conv_algorithm("shifted"):
        y = conv2d(x, w, padding=1, groups=2)
    y.sum().backward()
    assert {name.rsplit(".", 2)[-2] for name in calls} == {"shifted"}, calls
    assert {name.rsplit(".", 1)[-1] for name in calls} == {"grad_input", "grad_weight"}


def test_an_algorithm_that_cannot_compute_the_convolution_is_a_value_error():
    x, w = leaf(np.ones((1, 2, 5, 5))), leaf(np.ones((2, 2, 3, 3)))
    with conv_algorithm("pointwise"):
        with pytest.raises(ValueError, match="'pointwise' cannot compute this convolution: it needs a 1x1 kernel, and this one is 3x3"):
            conv2d(x, w)
    with conv_algorithm("shifted"):
        with pytest.raises(ValueError, match=r"'shifted' cannot compute .* stride \(2, 2\). Algorithms that can: im2col, direct"):
            conv2d(x, w, stride=2)
