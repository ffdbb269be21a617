"""The 1x1 products on Numba's threads (minigrad/kernels/conv/pointwise_prange.py) and the BLAS
function they call (minigrad/kernels/blas.py). Against the reference and PyTorch they run with
every algorithm in test_conv.py; here: the same bits as the pointwise chapter, the thread split,
and what happens where there is no BLAS that Numba code can call."""

import numpy as np
import pytest
from conv_cases import make_case

import minigrad
from minigrad.kernels import blas, conv
from minigrad.kernels.conv import pointwise, pointwise_prange
from minigrad.kernels.conv.selection import conv_algorithm

pytestmark = pytest.mark.kernels

FOUND = blas.gemm(np.float64) is not None
needs_blas = pytest.mark.skipif(not FOUND, reason="NumPy's BLAS cannot be called from Numba here")

# (batch, in channels, H, W, out channels, groups, kernel, stride, padding, dilation)
ONE_BY_ONE_CASES = [(5, 8, 6, 7, 8, 2, (1, 1), 1, 0, 1), (3, 12, 7, 7, 16, 1, (1, 1), 2, 0, 1),
                    (1, 6, 4, 4, 9, 3, (1, 1), (2, 1), 0, 1), (4, 32, 8, 8, 64, 1, (1, 1), 1, 0, 1)]


def all_four(algorithm, x, weight, grad_out, geom):
    with conv_algorithm(algorithm):
        return (conv.conv2d_forward(x, weight, geom), *conv.conv2d_backward(x, grad_out, weight, geom),
                conv.conv2d_grad_input(grad_out, weight, geom), conv.conv2d_grad_weight(x, grad_out, geom))


@needs_blas
@pytest.mark.parametrize("case", ONE_BY_ONE_CASES, ids=["groups 2", "stride 2", "stride (2, 1), 1 image", "32 -> 64 channels"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_same_bits_as_the_pointwise_chapter(case, dtype, threads):
    """The same products in the same BLAS, only called from other threads: equal to the bit, for
    forward, both gradients at once and each alone; with two threads and one image, one task."""
    x, weight, grad_out, geom = make_case(case, dtype)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        fast, chapter = all_four("pointwise_prange", x, weight, grad_out, geom), all_four("pointwise", x, weight, grad_out, geom)
    finally:
        minigrad.set_num_threads(before)
    for got, expected in zip(fast, chapter):
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@needs_blas
def test_each_task_sums_its_own_images_weight_gradients():
    """Seven images on two tasks (4 + 3): the weight gradient is the sum over all seven, the
    same as seven single-image gradients added up."""
    x, weight, grad_out, geom = make_case((7, 6, 5, 5, 4, 1, (1, 1), 1, 0, 1))
    total = sum(pointwise_prange.grad_weight(x[n : n + 1], grad_out[n : n + 1], make_case((1, 6, 5, 5, 4, 1, (1, 1), 1, 0, 1))[3])
                for n in range(7))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    try:
        np.testing.assert_allclose(pointwise_prange.grad_weight(x, grad_out, geom), total, rtol=1e-13, atol=1e-13)
    finally:
        minigrad.set_num_threads(before)


def test_float16_goes_to_the_pointwise_chapter():
    """BLAS has no float16 product: those arrays get the pointwise chapter's results, in float16."""
    x, weight, grad_out, geom = make_case(ONE_BY_ONE_CASES[1], np.float16)
    assert blas.gemm(np.float16) is None
    for got, expected in zip(all_four("pointwise_prange", x, weight, grad_out, geom) if FOUND else (),
                             all_four("pointwise", x, weight, grad_out, geom)):
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, expected)


def test_without_a_blas_numba_can_call_auto_takes_the_pointwise_chapter(monkeypatch):
    """Where NumPy's BLAS is not an OpenBLAS that Numba code can call (MKL, Accelerate), this
    algorithm says so, and ``choose`` gives 1x1 convolutions to the pointwise chapter."""
    monkeypatch.setattr(blas, "gemm", lambda dtype: None)
    x, weight, grad_out, geom = make_case(ONE_BY_ONE_CASES[3])  # 32 -> 64 channels: wide enough for a product
    assert pointwise_prange.cannot_compute(geom) == ("it needs NumPy's BLAS to be an OpenBLAS that Numba code can call "
                                                    "(minigrad.kernels.blas), and it is not")
    assert conv.choose(geom) == "pointwise"
    with pytest.raises(ValueError, match="'pointwise_prange' cannot compute this convolution: it needs NumPy's BLAS"):
        with conv_algorithm("pointwise_prange"):
            conv.conv2d_forward(x, weight, geom)
    with conv_algorithm("pointwise"):
        np.testing.assert_array_equal(conv.conv2d_forward(x, weight, geom), pointwise.forward(x, weight, geom))


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blas_gemm_transposes_and_adds_as_asked(dtype):
    """The function found computes C = alpha op(A) op(B) + beta C on row-major arrays, as NumPy
    computes it: op() = transpose, and beta = 1 adds to what C holds."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)  # C (3, 5) = A^T @ B^T
    c = rng.standard_normal((3, 5)).astype(dtype)
    expected = 2.0 * (a.T @ b.T) + c
    blas.gemm(dtype)(blas.ROW_MAJOR, blas.TRANSPOSE, blas.TRANSPOSE, 3, 5, 4, 2.0, a.ctypes, 3, b.ctypes, 4, 1.0, c.ctypes, 5)
    np.testing.assert_allclose(c, expected, rtol=10 * np.finfo(dtype).eps, atol=10 * np.finfo(dtype).eps)


def test_blas_gemm_is_found_in_the_openblas_of_numpys_wheels():
    """NumPy's wheels bundle OpenBLAS built with 64-bit integers ("scipy_openblas64_"): there the
    function must be found (the fast path must not quietly fall away); nothing for other dtypes."""
    from threadpoolctl import threadpool_info

    wheel_openblas = [info for info in threadpool_info()
                      if info.get("internal_api") == "openblas" and "scipy_openblas64" in info.get("filepath", "")]
    if not wheel_openblas:
        pytest.skip("NumPy here is not linked to the OpenBLAS of its wheels")
    assert blas.gemm(np.float32) is not None and blas.gemm(np.float64) is not None
    assert blas.gemm(np.float16) is None and blas.gemm(np.int64) is None
