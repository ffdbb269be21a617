"""The tiled grouped matrix product against ``np.einsum``, on sizes that are no multiple of the tile."""

import numpy as np
import pytest

from minigrad.kernels.cuda.matmul import TILE, grouped_matmul

from cuda_cases import needs_cuda

pytestmark = [pytest.mark.cudasim, needs_cuda]


@pytest.mark.parametrize("left_transposed", [False, True])
@pytest.mark.parametrize("right_transposed", [False, True])
def test_grouped_matmul_matches_einsum(left_transposed, right_transposed):
    groups, rows, inner, cols = 2, TILE + 1, 2 * TILE + 3, TILE + 2
    rng = np.random.default_rng(0)
    left = rng.standard_normal((groups, rows, inner))
    right = rng.standard_normal((groups, inner, cols))
    stored_left = left.transpose(0, 2, 1).copy() if left_transposed else left
    stored_right = right.transpose(0, 2, 1).copy() if right_transposed else right

    product = grouped_matmul(stored_left, stored_right, left_transposed, right_transposed)
    np.testing.assert_allclose(product, np.einsum("grk,gkc->grc", left, right), rtol=1e-12, atol=1e-12)


def test_grouped_matmul_float32_stays_float32():
    left = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    right = np.ones((1, 3, 2), dtype=np.float32)
    product = grouped_matmul(left, right)
    assert product.dtype == np.float32
    np.testing.assert_array_equal(product[0], [[3, 3], [12, 12]])
