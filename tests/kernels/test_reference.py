"""The NumPy reference convolution, checked against hand-worked numbers, an explicit 7-loop
convolution, the adjoint identities that define its gradients, and PyTorch when installed."""

import numpy as np
import pytest
from conv_cases import CASES, make_case

from minigrad.kernels import reference
from minigrad.kernels.conv_geometry import ConvGeometry

pytestmark = pytest.mark.kernels



def direct_conv_loops(x, weight, geom):
    """The convolution as its definition: seven nested loops, bounds tested pixel by pixel."""
    out = np.zeros(geom.output_shape)
    in_per_group, out_per_group = geom.in_channels_per_group, geom.out_channels_per_group
    for n in range(geom.batch):
        for o in range(geom.out_channels):
            group = o // out_per_group
            for y in range(geom.out_h):
                for x_out in range(geom.out_w):
                    for c in range(in_per_group):
                        for i in range(geom.kernel_h):
                            for j in range(geom.kernel_w):
                                in_y = y * geom.stride_h - geom.pad_h + i * geom.dilation_h
                                in_x = x_out * geom.stride_w - geom.pad_w + j * geom.dilation_w
                                if 0 <= in_y < geom.in_h and 0 <= in_x < geom.in_w:
                                    out[n, o, y, x_out] += (
                                        weight[o, c, i, j] * x[n, group * in_per_group + c, in_y, in_x]
                                    )
    return out


# --- hand-worked examples ---------------------------------------------------------------------

X_3X3 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).reshape(1, 1, 3, 3)
W_2X2 = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)


def test_forward_by_hand():
    geom = ConvGeometry.from_shapes(X_3X3.shape, W_2X2.shape)
    # top-left: 1*1 + 2*2 + 3*4 + 4*5 = 37; top-right: 1*2 + 2*3 + 3*5 + 4*6 = 47; ...
    expected = np.array([[37.0, 47.0], [67.0, 77.0]]).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(reference.conv2d_forward(X_3X3, W_2X2, geom), expected)


def test_forward_by_hand_padding_stride_dilation_groups():
    ones_3x3 = np.ones((1, 1, 3, 3))
    geom = ConvGeometry.from_shapes(X_3X3.shape, ones_3x3.shape, stride=2, padding=1)
    # 3x3 sums around the corners (0,0), (0,2), (2,0), (2,2); padding contributes zeros.
    expected = np.array([[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]], float)
    np.testing.assert_array_equal(reference.conv2d_forward(X_3X3, ones_3x3, geom)[0, 0], expected)

    geom = ConvGeometry.from_shapes(X_3X3.shape, W_2X2.shape, dilation=2)
    # Dilation 2 spreads the 2x2 taps over the corners: 1*1 + 2*3 + 3*7 + 4*9 = 64.
    assert reference.conv2d_forward(X_3X3, W_2X2, geom).reshape(()) == 64.0

    x = np.array([[[1.0, 2.0], [3.0, 4.0]], [[10.0, 20.0], [30.0, 40.0]]]).reshape(1, 2, 2, 2)
    weight = np.array([2.0, -1.0]).reshape(2, 1, 1, 1)
    geom = ConvGeometry.from_shapes(x.shape, weight.shape, groups=2)
    # Two groups of one channel: filter 0 sees only channel 0, filter 1 only channel 1.
    expected = np.array([[[2.0, 4.0], [6.0, 8.0]], [[-10.0, -20.0], [-30.0, -40.0]]]).reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(reference.conv2d_forward(x, weight, geom), expected)


def test_grad_input_by_hand():
    geom = ConvGeometry.from_shapes(X_3X3.shape, W_2X2.shape)
    # With dL/dy all ones, input pixel (a, b) collects w[i, j] for every tap that reads it.
    expected = np.array([[1.0, 1 + 2, 2], [1 + 3, 1 + 2 + 3 + 4, 2 + 4], [3, 3 + 4, 4]]).reshape(1, 1, 3, 3)
    grad_out = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(reference.conv2d_grad_input(grad_out, W_2X2, geom), expected)


def test_grad_weight_by_hand():
    geom = ConvGeometry.from_shapes(X_3X3.shape, W_2X2.shape)
    # With dL/dy all ones, dL/dw[i, j] is the sum of the 2x2 input block that tap (i, j) reads.
    expected = np.array([[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]], float)
    grad_out = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(reference.conv2d_grad_weight(X_3X3, grad_out, geom)[0, 0], expected)


def test_im2col_and_col2im_by_hand():
    geom = ConvGeometry.from_shapes(X_3X3.shape, W_2X2.shape)
    # Rows are taps (0,0), (0,1), (1,0), (1,1); columns are output pixels in row-major order.
    expected_cols = np.array([[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]], float)
    np.testing.assert_array_equal(reference.im2col(X_3X3, geom), expected_cols[None])
    # Folding back all-ones columns counts how many receptive fields hold each pixel.
    counts = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], float).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(reference.col2im(np.ones((1, 4, 4)), geom), counts)


# --- against independent oracles --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_forward_matches_seven_loops(case):
    x, weight, _, geom = make_case(case)
    np.testing.assert_allclose(reference.conv2d_forward(x, weight, geom), direct_conv_loops(x, weight, geom), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_gradients_satisfy_adjoint_identity(case):
    """<conv(x, w), gy> = <x, grad_input(gy, w)> = <w, grad_weight(x, gy)>: conv is linear in x
    and in w, and each gradient is the adjoint (transpose) of that linear map."""
    x, weight, grad_out, geom = make_case(case)
    forward_pairing = np.vdot(direct_conv_loops(x, weight, geom), grad_out)
    input_pairing = np.vdot(x, reference.conv2d_grad_input(grad_out, weight, geom))
    weight_pairing = np.vdot(weight, reference.conv2d_grad_weight(x, grad_out, geom))
    assert input_pairing == pytest.approx(forward_pairing, rel=1e-12, abs=1e-12)
    assert weight_pairing == pytest.approx(forward_pairing, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_im2col_matmul_is_the_convolution_and_col2im_its_adjoint(case):
    x, weight, _, geom = make_case(case)
    cols = reference.im2col(x, geom)
    assert cols.shape == geom.col_shape
    G, Og = geom.groups, geom.out_channels_per_group
    # (G, Og, N*oh*ow) = (G, Og, Cg*kh*kw) @ (G, Cg*kh*kw, N*oh*ow)
    out = weight.reshape(G, Og, geom.col_rows) @ cols
    out = out.reshape(G, Og, geom.batch, geom.out_h, geom.out_w).transpose(2, 0, 1, 3, 4)
    np.testing.assert_allclose(out.reshape(geom.output_shape), direct_conv_loops(x, weight, geom), rtol=1e-12, atol=1e-12)
    other_cols = np.random.default_rng(1).standard_normal(geom.col_shape)
    assert np.vdot(x, reference.col2im(other_cols, geom)) == pytest.approx(np.vdot(cols, other_cols), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_dtype(dtype):
    x, weight, grad_out, geom = make_case(CASES[1], dtype)
    assert reference.conv2d_forward(x, weight, geom).dtype == dtype
    assert reference.conv2d_grad_input(grad_out, weight, geom).dtype == dtype
    assert reference.conv2d_grad_weight(x, grad_out, geom).dtype == dtype
    assert reference.im2col(x, geom).dtype == dtype
    assert reference.col2im(reference.im2col(x, geom), geom).dtype == dtype


@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    x, weight, grad_out, geom = make_case(case)
    x_t = torch.tensor(x, requires_grad=True)
    weight_t = torch.tensor(weight, requires_grad=True)
    out_t = torch.nn.functional.conv2d(
        x_t, weight_t, None, (geom.stride_h, geom.stride_w), (geom.pad_h, geom.pad_w),
        (geom.dilation_h, geom.dilation_w), geom.groups,
    )  # fmt: skip
    out_t.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(reference.conv2d_forward(x, weight, geom), out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(reference.conv2d_grad_input(grad_out, weight, geom), x_t.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(reference.conv2d_grad_weight(x, grad_out, geom), weight_t.grad.numpy(), rtol=1e-10, atol=1e-10)
