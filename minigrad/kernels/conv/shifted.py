"""Chapter 3: shifted matmuls. im2col without the column matrix, at stride 1.

Lay a block of n images out flat: each channel's zero-padded planes row after row at pitch Wp,
the n images one after another (L = Hp*Wp values each). At stride 1 the im2col column of tap
(i, j) at every output position k = m*L + y*Wp + x is then the padded block shifted by
s(i, j) = i*dh*Wp + j*dw::

    cols[(c, i, j), k] = padded[c, k + s(i, j)]

so instead of copying kh*kw shifted copies of the input into a column matrix, each tap is one
matrix product with a shifted *view* of the padded block, which BLAS reads in place (a row
stride that is not the row length is fine for BLAS). Legend in
:mod:`minigrad.kernels.conv_geometry`::

    forward   out_flat (Og, n*L)  = sum_{i,j} W_g[:, :, i, j] (Og, Cg) @ padded[:, s : s + n*L] (Cg, n*L)
    grad_w    dW_g[:, :, i, j]   += grad_out_flat (Og, n*L) @ padded[:, s : s + n*L]^T (n*L, Cg)

Positions with y >= oh or x >= ow read past their image's last row or column: garbage in
out_flat, thrown away, and zeros in grad_out_flat, so they add nothing to grad_w.

The gradient w.r.t. the input, at stride 1, is itself a stride-1 convolution (of grad_out, with
each group's weight transposed and flipped, see :func:`grad_input_as_forward`), so it is this
same forward. The direct loops use that too.

When it wins: ``choose`` gives it the stride-1 convolutions with wide groups on small images
(below 16x16), where the direct loops lose to BLAS. Measured with benchmarks/conv.py (2 cores,
one BLAS thread per product) on 64 x 64ch x 32x32, 3x3, forward / forward + both gradients:
im2col + matmul 79 / 172 ms, shifted matmuls 41 / 112 ms.
"""

import numpy as np

from minigrad.kernels.conv.batches import blocks_of_images, result_array
from minigrad.kernels.conv_geometry import ConvGeometry

__all__ = ["forward", "grad_input", "grad_weight", "cannot_compute", "grad_input_as_forward"]

# Bytes of padded input per block (at least one image): one block and its products stay in
# cache while the kh*kw products run over it. Measured (2 cores), forward / grad input / grad
# weight of 32 x 512ch x 32x32, groups 8: 256 KiB (one image) 158 / 147 / 171 ms, 4 MiB
# 244 / 198 / 213 ms; 64 x 64ch x 32x32 dense: the same at 256 KiB and 1 MiB, slower at 4 MiB.
SHIFTED_BLOCK_BYTES = 2**18


def cannot_compute(geom):
    """Why this algorithm cannot compute ``geom`` (a sentence), or None if it can."""
    if (geom.stride_h, geom.stride_w) != (1, 1):
        return f"it needs stride 1 (a shifted view reads every pixel), and this convolution has stride ({geom.stride_h}, {geom.stride_w})"
    return None


def grad_input_as_forward(grad_out, weight, geom):
    """The stride-1 convolution whose forward is dL/dx: ``(its input, its filters, its geometry)``.

    dL/dx[c, p, q] = sum_{o,i,j} w[o, c, kh-1-i, kw-1-j] * gy_padded[o, p + i*dh, q + j*dw]: a
    convolution of grad_out with each group's weight transposed (Og <-> Cg) and flipped
    (i -> kh-1-i, j -> kw-1-j), filters ``(G*Cg, Og, kh, kw)``, padding ``(kh-1)*dh - pad_h``
    by ``(kw-1)*dw - pad_w``. Where the forward's padding is wider than that, that padding would
    be negative: those outer rows of grad_out only ever met zero padding in the forward pass, so
    they are cut off and the padding is zero. Its output has the forward's input size.
    """
    assert geom.stride_h == geom.stride_w == 1, "only a stride-1 gradient is a plain convolution"
    G, Og, Cg, kh, kw = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group, geom.kernel_h, geom.kernel_w
    # (G*Og, Cg, kh, kw) -> (G, Cg, Og, kh, kw), flipped in both kernel axes -> (G*Cg, Og, kh, kw)
    flipped = weight.reshape(G, Og, Cg, kh, kw).transpose(0, 2, 1, 3, 4)[:, :, :, ::-1, ::-1].reshape(G * Cg, Og, kh, kw)
    full_pad_h, full_pad_w = (kh - 1) * geom.dilation_h - geom.pad_h, (kw - 1) * geom.dilation_w - geom.pad_w
    crop_h, crop_w = max(0, -full_pad_h), max(0, -full_pad_w)
    grad_out = np.ascontiguousarray(grad_out[:, :, crop_h : geom.out_h - crop_h, crop_w : geom.out_w - crop_w])
    transposed = ConvGeometry.from_shapes(
        grad_out.shape, flipped.shape, stride=1, padding=(max(0, full_pad_h), max(0, full_pad_w)),
        dilation=(geom.dilation_h, geom.dilation_w), groups=G,
    )  # fmt: skip
    assert transposed.output_shape == geom.input_shape
    return grad_out, flipped, transposed


def _padded_images(x_block, pad_h, pad_w, tail):
    """``(n, C, H, W) -> (C, n*Hp*Wp + tail)``: each image zero-padded and flattened, the n images
    one after another, and ``tail`` zeros at the end for the last image's shifted reads."""
    n, channels, height, width = x_block.shape
    padded_h, padded_w = height + 2 * pad_h, width + 2 * pad_w
    padded = np.zeros((channels, n * padded_h * padded_w + tail), dtype=x_block.dtype)
    planes = padded[:, : n * padded_h * padded_w].reshape(channels, n, padded_h, padded_w)
    planes[:, :, pad_h : pad_h + height, pad_w : pad_w + width] = x_block.transpose(1, 0, 2, 3)
    return padded


def _layout(geom):
    """``(Hp, Wp, L, tail, shifts)``: the padded image, its flat size L = Hp*Wp, the zeros
    needed past the last image for its shifted reads, and each tap's shift s(i, j)."""
    padded_h, padded_w = geom.in_h + 2 * geom.pad_h, geom.in_w + 2 * geom.pad_w
    shifts = [i * geom.dilation_h * padded_w + j * geom.dilation_w for i in range(geom.kernel_h) for j in range(geom.kernel_w)]
    return padded_h, padded_w, padded_h * padded_w, shifts[-1], shifts


def forward(x, weight, geom, out=None):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``, stride 1, written into ``out`` when given."""
    G, Og, Cg, kh, kw = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group, geom.kernel_h, geom.kernel_w
    padded_h, padded_w, image_size, tail, shifts = _layout(geom)
    # (G, kh*kw, Og, Cg): one contiguous (Og, Cg) matrix per group and tap
    tap_weights = np.ascontiguousarray(weight.reshape(G, Og, Cg, kh * kw).transpose(0, 3, 1, 2))
    out = result_array(out, geom.output_shape, x.dtype)
    for images in blocks_of_images(geom.batch, Cg * image_size * x.itemsize, SHIFTED_BLOCK_BYTES):
        n = images.stop - images.start
        positions = n * image_size
        product = np.empty((Og, positions), dtype=x.dtype)
        for g, channels, filters in geom.group_slices():
            padded = _padded_images(x[images, channels], geom.pad_h, geom.pad_w, tail)
            out_flat = np.zeros((Og, positions), dtype=x.dtype)
            for tap, shift in enumerate(shifts):
                # (Og, n*L) = (Og, Cg) @ (Cg, n*L), a view of the padded block
                np.matmul(tap_weights[g, tap], padded[:, shift : shift + positions], out=product)
                out_flat += product
            # (Og, n*L) -> (Og, n, Hp, Wp), keep the valid corner -> (n, Og, oh, ow)
            out[images, filters] = out_flat.reshape(Og, n, padded_h, padded_w)[:, :, : geom.out_h, : geom.out_w].transpose(1, 0, 2, 3)
    return out


def grad_input(grad_out, weight, geom, out=None):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``: the forward of the transposed convolution."""
    return forward(*grad_input_as_forward(grad_out, weight, geom), out=out)


def grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``, stride 1."""
    G, Og, Cg, kh, kw = geom.groups, geom.out_channels_per_group, geom.in_channels_per_group, geom.kernel_h, geom.kernel_w
    padded_h, padded_w, image_size, tail, shifts = _layout(geom)
    tap_grads = np.zeros((G, kh * kw, Og, Cg), dtype=x.dtype)
    for images in blocks_of_images(geom.batch, Cg * image_size * x.itemsize, SHIFTED_BLOCK_BYTES):
        n = images.stop - images.start
        positions = n * image_size
        for g, channels, filters in geom.group_slices():
            padded = _padded_images(x[images, channels], geom.pad_h, geom.pad_w, tail)
            # grad_out at the forward's output positions, zero everywhere else
            grad_out_flat = np.zeros((Og, positions), dtype=x.dtype)
            grad_out_planes = grad_out_flat.reshape(Og, n, padded_h, padded_w)
            grad_out_planes[:, :, : geom.out_h, : geom.out_w] = grad_out[images, filters].transpose(1, 0, 2, 3)
            for tap, shift in enumerate(shifts):
                # (Og, Cg) += (Og, n*L) @ (n*L, Cg)
                tap_grads[g, tap] += grad_out_flat @ padded[:, shift : shift + positions].T
    # (G, kh*kw, Og, Cg) -> (G, Og, Cg, kh*kw) -> (O, Cg, kh, kw)
    return tap_grads.transpose(0, 2, 3, 1).reshape(geom.weight_shape)
