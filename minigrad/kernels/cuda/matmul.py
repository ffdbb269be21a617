"""A grouped matrix product on the GPU, tiled through shared memory.

``product[g] = op(left[g]) @ op(right[g])`` for every group ``g``, where ``op`` transposes the
operand when its flag says so. These are the three products of the convolution::

    forward      (G, Og, P) = (G, Og, K)   @ (G, K, P)      weight  @ columns
    grad input   (G, K, P)  = (G, Og, K).T @ (G, Og, P)     weight.T @ grad_out columns
    grad weight  (G, Og, K) = (G, Og, P)   @ (G, K, P).T    grad_out columns @ columns.T

with ``K = Cg*kh*kw`` and ``P = N*oh*ow``.

Thread mapping: the grid is ``(column tiles, row tiles, groups)`` and each block of
``TILE x TILE`` threads owns one ``TILE x TILE`` tile of ``product[g]``; thread ``(ty, tx)``
computes ``product[g, row, col]`` with ``row = blockIdx.y*TILE + ty``, ``col = blockIdx.x*TILE + tx``.

Why tiles: the dot product for one output element reads a whole row of ``left`` and a whole
column of ``right``. The threads of one block need the same rows and columns, so they walk the
inner dimension ``TILE`` at a time: each thread copies one element of each operand into fast
shared memory, the block waits (``syncthreads``), and every thread then does ``TILE``
multiply-adds from shared memory. Each global element is read by one thread instead of ``TILE``.
"""

import numpy as np
from numba import cuda

from minigrad.kernels.cuda.device import (
    make_simulator_shared_arrays_thread_safe,
    simulator_enabled,
)

# 16 x 16 = 256 threads per block on a GPU. The simulator runs each thread as a Python thread,
# so there a 4 x 4 tile keeps the tests quick (and still crosses many tile edges).
TILE = 4 if simulator_enabled() else 16
# Shared-memory tiles get one spare column: a transposed load writes a tile column, and with rows
# of TILE + 1 elements those TILE addresses fall in different memory banks instead of queueing on
# one. (A separate constant because a shared array's shape must be a compile-time literal.)
TILE_ROW_LENGTH = TILE + 1

if simulator_enabled():
    # The simulator can hand the first block's threads separate "shared" tiles (a race in numba,
    # explained in the function); this kernel is the package's only user of shared memory.
    make_simulator_shared_arrays_thread_safe()


@cuda.jit
def grouped_matmul_kernel(left, right, product, left_transposed, right_transposed):
    """``product[g] = op(left)[g] @ op(right)[g]``; see the module docstring for the mapping."""
    group = cuda.blockIdx.z
    ty = cuda.threadIdx.y
    tx = cuda.threadIdx.x
    tile_row = cuda.blockIdx.y * TILE
    tile_col = cuda.blockIdx.x * TILE
    rows = product.shape[1]
    cols = product.shape[2]
    inner = left.shape[1] if left_transposed else left.shape[2]

    # left_tile[r, k] = op(left)[g, tile_row + r, k0 + k];  right_tile[k, c] = op(right)[g, k0 + k, tile_col + c]
    left_tile = cuda.shared.array((TILE, TILE_ROW_LENGTH), dtype=product.dtype)
    right_tile = cuda.shared.array((TILE, TILE_ROW_LENGTH), dtype=product.dtype)
    total = cuda.local.array(1, dtype=product.dtype)  # a running sum in the product's dtype
    total[0] = 0

    for k0 in range(0, inner, TILE):
        # Load one element of each tile per thread. Neighbouring threads (consecutive tx) should
        # read neighbouring addresses (a "coalesced" load), so for a transposed operand the
        # roles of tx and ty swap: tx then walks along the stored rows of the transposed array.
        if left_transposed:  # left is stored (G, inner, rows)
            r, k = tx, ty
        else:  # left is stored (G, rows, inner)
            r, k = ty, tx
        if tile_row + r < rows and k0 + k < inner:
            if left_transposed:
                left_tile[r, k] = left[group, k0 + k, tile_row + r]
            else:
                left_tile[r, k] = left[group, tile_row + r, k0 + k]
        else:
            left_tile[r, k] = 0  # past the edge: contributes nothing to the sum
        if right_transposed:  # right is stored (G, cols, inner)
            k, c = tx, ty
        else:  # right is stored (G, inner, cols)
            k, c = ty, tx
        if k0 + k < inner and tile_col + c < cols:
            if right_transposed:
                right_tile[k, c] = right[group, tile_col + c, k0 + k]
            else:
                right_tile[k, c] = right[group, k0 + k, tile_col + c]
        else:
            right_tile[k, c] = 0
        cuda.syncthreads()  # the whole tile is loaded before anyone reads it
        for k in range(TILE):
            total[0] += left_tile[ty, k] * right_tile[k, tx]
        cuda.syncthreads()  # everyone is done reading before the next tile overwrites it

    if tile_row + ty < rows and tile_col + tx < cols:
        product[group, tile_row + ty, tile_col + tx] = total[0]


def grouped_matmul_on_device(left, right, left_transposed=False, right_transposed=False):
    """``op(left) @ op(right)`` for device arrays of shape ``(G, ., .)``; returns a new device array."""
    groups = left.shape[0]
    rows = left.shape[2] if left_transposed else left.shape[1]
    inner = left.shape[1] if left_transposed else left.shape[2]
    right_inner = right.shape[2] if right_transposed else right.shape[1]
    cols = right.shape[1] if right_transposed else right.shape[2]
    assert right.shape[0] == groups and right_inner == inner, (left.shape, right.shape)
    assert left.dtype == right.dtype, (left.dtype, right.dtype)
    product = cuda.device_array((groups, rows, cols), dtype=left.dtype)
    blocks = ((cols + TILE - 1) // TILE, (rows + TILE - 1) // TILE, groups)
    grouped_matmul_kernel[blocks, (TILE, TILE)](left, right, product, left_transposed, right_transposed)
    return product


def grouped_matmul(left, right, left_transposed=False, right_transposed=False):
    """NumPy in, NumPy out version of :func:`grouped_matmul_on_device` (for tests and learners)."""
    left_on_device = cuda.to_device(np.ascontiguousarray(left))
    right_on_device = cuda.to_device(np.ascontiguousarray(right))
    return grouped_matmul_on_device(left_on_device, right_on_device, left_transposed, right_transposed).copy_to_host()
