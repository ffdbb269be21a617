"""Chapter 1: im2col + matmul, the classic. Unfold, then one matrix product per group.

Copy every receptive field into a column (:mod:`minigrad.kernels.im2col`); then a group's
convolution is one matrix product of its filters with its columns, which BLAS runs near peak
speed. A grouped convolution is G dense convolutions side by side, each on its own channel slice,
so the loops below run over groups and, inside a group, over blocks of n consecutive images.
Each (group, block) pair is a small dense convolution (``_block_geometry``). Per block, in the
legend of :mod:`minigrad.kernels.conv_geometry`::

    cols      (Cg*kh*kw, n*oh*ow)    im2col of the block (one column per output pixel)
    forward   (Og, n*oh*ow)        = W_g (Og, Cg*kh*kw) @ cols  (or its transpose, see below)
    grad_in   (Cg*kh*kw, n*oh*ow)  = W_g^T @ dY_g (Og, n*oh*ow), folded back by col2im
    grad_w    (Cg*kh*kw, Og)      += cols @ dY_g^T, summed over the blocks

When it wins: it computes every convolution, and ``choose`` gives it what the other algorithms
do not do faster: strided convolutions with wide groups (dense 64 -> 128 channels, stride 2, at
32x32, batch 64, forward + both gradients: 62 ms, direct loops 77 ms). It is what classroom
tasks t05 and t06 ask for, and what the CUDA kernels (:mod:`minigrad.kernels.cuda`) compute.

Why blocks: one column matrix for the whole batch is kh*kw times the input (576 x 65536 floats =
150 MB for 64 x 64ch x 32x32, 3x3), written once and read once from main memory. A block of
about ``COLUMN_BLOCK_BYTES`` is read back by the matmul while it is still in cache, and bounds
peak memory (one block per thread).

Why these matmul orientations (the same numbers, different speed in OpenBLAS, measured on
65536-column batches cut into blocks): with few filters per tap row (Og=64, Cg*kh*kw=576) the
forward as cols^T @ W^T took 84 ms against 216 ms for W @ cols, but with a square weight (1x1,
Og = Cg = 256) W @ cols took 124 ms against 223 ms: the forward picks by shape. grad_w as
cols @ dY^T took 64 ms against 113 ms for dY @ cols^T (244 against 364 ms for 1x1).
"""

from dataclasses import replace

import numpy as np

from minigrad.kernels.conv.batches import blocks_of_images, result_array
from minigrad.kernels.im2col import col2im, im2col

__all__ = ["forward", "grad_input", "grad_weight", "cannot_compute"]

# Column-matrix bytes per block (at least one image). Measured on 2 cores, one BLAS thread per
# product, forward / grad input / grad weight of 64 x 64ch x 32x32, 3x3: 32 MiB blocks
# 57 / 61 / 52 ms, 2 MiB 49 / 54 / 45 ms; 32 x 512ch x 32x32 groups 8: 255 / 260 / 220 ms
# against 197 / 204 / 170 ms. Smaller blocks gained nothing more.
COLUMN_BLOCK_BYTES = 2 * 2**20


def cannot_compute(geom):
    """None: im2col + matmul computes every convolution."""
    return None


def _image_blocks(geom, itemsize):
    """Consecutive slices of the batch whose one-group column matrix takes about COLUMN_BLOCK_BYTES."""
    return blocks_of_images(geom.batch, geom.col_rows * geom.out_h * geom.out_w * itemsize, COLUMN_BLOCK_BYTES)


def _block_geometry(geom, images):
    """The dense convolution that one group computes on the slice ``images``: Cg channels in, Og out."""
    return replace(
        geom, batch=images.stop - images.start, groups=1,
        in_channels=geom.in_channels_per_group, out_channels=geom.out_channels_per_group,
    )  # fmt: skip


def _columns(x_block, block):
    """``(n, Cg, H, W) -> (Cg*kh*kw, n*oh*ow)``: im2col of one group's block of images."""
    return im2col(x_block, block)[0]


def _fold_columns(grad_cols, block):
    """``(Cg*kh*kw, n*oh*ow) -> (n, Cg, H, W)``: col2im, the adjoint of :func:`_columns`."""
    return col2im(grad_cols[None], block)


def _grad_out_matrix(grad_out_block):
    """``(n, Og, oh, ow) -> (Og, n*oh*ow)``: columns in im2col's order (one per output pixel)."""
    out_channels_per_group = grad_out_block.shape[1]
    return grad_out_block.transpose(1, 0, 2, 3).reshape(out_channels_per_group, -1)


def forward(x, weight, geom, out=None):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``, written into ``out`` when given."""
    Og, oh, ow = geom.out_channels_per_group, geom.out_h, geom.out_w
    out = result_array(out, geom.output_shape, x.dtype)
    # BEGIN SOLUTION t05_grouped_conv_forward
    for _, channels, filters in geom.group_slices():
        weight_matrix = weight[filters].reshape(Og, geom.col_rows)  # (Og, Cg*kh*kw)
        for images in _image_blocks(geom, x.itemsize):
            block = _block_geometry(geom, images)
            cols = _columns(x[images, channels], block)  # (Cg*kh*kw, n*oh*ow)
            if Og < geom.col_rows:
                # (n*oh*ow, Og) = (Cg*kh*kw, n*oh*ow)^T @ (Og, Cg*kh*kw)^T, then (n, oh, ow, Og) -> (n, Og, oh, ow)
                out_block = (cols.T @ weight_matrix.T).reshape(block.batch, oh, ow, Og).transpose(0, 3, 1, 2)
            else:
                # (Og, n*oh*ow) = (Og, Cg*kh*kw) @ (Cg*kh*kw, n*oh*ow), then (Og, n, oh, ow) -> (n, Og, oh, ow)
                out_block = (weight_matrix @ cols).reshape(Og, block.batch, oh, ow).transpose(1, 0, 2, 3)
            out[images, filters] = out_block
    # END SOLUTION
    return out


def grad_input(grad_out, weight, geom, out=None):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``, written into ``out`` when given."""
    grad_x = result_array(out, geom.input_shape, grad_out.dtype)
    # BEGIN SOLUTION t06_conv_backward
    for _, channels, filters in geom.group_slices():
        weight_matrix = weight[filters].reshape(geom.out_channels_per_group, geom.col_rows)  # (Og, Cg*kh*kw)
        for images in _image_blocks(geom, grad_out.itemsize):
            block = _block_geometry(geom, images)
            # (Cg*kh*kw, n*oh*ow) = (Og, Cg*kh*kw)^T @ (Og, n*oh*ow)
            grad_cols = weight_matrix.T @ _grad_out_matrix(grad_out[images, filters])
            grad_x[images, channels] = _fold_columns(grad_cols, block)  # (n, Cg, H, W)
    # END SOLUTION
    return grad_x


def grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``."""
    G, Og = geom.groups, geom.out_channels_per_group
    # Built transposed, (G, Cg*kh*kw, Og): the fast matmul orientation gives it that way round.
    grad_weight_transposed = np.zeros((G, geom.col_rows, Og), dtype=x.dtype)
    # BEGIN SOLUTION t06_conv_backward
    for g, channels, filters in geom.group_slices():
        for images in _image_blocks(geom, x.itemsize):
            cols = _columns(x[images, channels], _block_geometry(geom, images))  # (Cg*kh*kw, n*oh*ow)
            # (Cg*kh*kw, Og) += (Cg*kh*kw, n*oh*ow) @ (Og, n*oh*ow)^T
            grad_weight_transposed[g] += cols @ _grad_out_matrix(grad_out[images, filters]).T
    # END SOLUTION
    # (G, Cg*kh*kw, Og) -> (G, Og, Cg*kh*kw) -> (O, Cg, kh, kw)
    return grad_weight_transposed.transpose(0, 2, 1).reshape(geom.weight_shape)
