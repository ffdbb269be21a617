"""NumPy's own BLAS, callable from Numba code.

``np.matmul`` hands a matrix product to BLAS, the library NumPy was built with (its wheels bundle
OpenBLAS). Numba compiles Python loops but not a call to ``np.matmul`` on NumPy's BLAS, so to run
products inside a ``prange`` task (:mod:`minigrad.kernels.conv.pointwise_prange`) this module
finds BLAS's C function for a product, ``cblas_sgemm`` (float32) or ``cblas_dgemm`` (float64)::

    C = alpha * op(A) @ op(B) + beta * C        op(M) = M or M^T, matrices stored row-major

and returns it as a ``ctypes`` function. Passed as an argument to an ``@njit`` function, it is
called from the compiled code directly: no interpreter, no GIL, any thread.

Which file: threadpoolctl lists the BLAS libraries loaded in the process (the one NumPy loaded
among them) with their paths; ``ctypes`` opens that file and looks the function up by name.
The OpenBLAS in NumPy's wheels ("scipy-openblas") takes 64-bit integers and marks its names so:
prefix ``scipy_``, suffix ``64_`` (``scipy_cblas_sgemm64_``); an OpenBLAS built the same way
without the prefix has ``cblas_sgemm64_``. Other libraries (MKL, Accelerate, an OpenBLAS with
32-bit integers) are not used: :func:`gemm` returns None and the callers keep NumPy's products.
A function found is checked on a small product against ``np.matmul`` before it is used.

minigrad runs every BLAS product on one thread (:func:`minigrad.kernels.threads.take_charge_of_the_cores`),
so each ``prange`` task's products stay on that task's thread.
"""

import ctypes
import functools

import numpy as np

__all__ = ["gemm", "ROW_MAJOR", "NO_TRANSPOSE", "TRANSPOSE"]

# The CBLAS enum values gemm takes for its layout and its two op()s.
ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE = 101, 111, 112

# (prefix, suffix) of the 64-bit-integer OpenBLAS names tried, in order.
_NAMES = (("scipy_", "64_"), ("", "64_"))
_REALS = {"s": (np.float32, ctypes.c_float), "d": (np.float64, ctypes.c_double)}
_LETTERS = {np.dtype(real): letter for letter, (real, _) in _REALS.items()}  # float32 -> "s", float64 -> "d"


def gemm(dtype):
    """The ctypes function ``cblas_?gemm`` of NumPy's BLAS for ``dtype`` (float32 or float64), or
    None where there is none that Numba code can call (another dtype, another BLAS).

    Its arguments, in order: layout, op(A), op(B) (the enum values of this module), M, N, K,
    alpha, A, lda, B, ldb, beta, C, ldc; A, B and C are pointers (``array.ctypes``)."""
    letter = _LETTERS.get(np.dtype(dtype))
    return None if letter is None else _gemm_functions().get(letter)


@functools.cache
def _gemm_functions():
    """``{"s": cblas_sgemm, "d": cblas_dgemm}`` from the first OpenBLAS loaded that has both under
    a name of :data:`_NAMES` and computes a small product right; ``{}`` if none does."""
    from threadpoolctl import threadpool_info

    for library in threadpool_info():
        if library.get("user_api") != "blas" or library.get("internal_api") != "openblas":
            continue
        try:
            shared_object = ctypes.CDLL(library["filepath"])
        except OSError:
            continue
        for prefix, suffix in _NAMES:
            functions = {}
            for letter, (_, real) in _REALS.items():
                function = getattr(shared_object, f"{prefix}cblas_{letter}gemm{suffix}", None)
                if function is None:
                    break
                size = ctypes.c_int64  # the "64_" names take 64-bit sizes
                function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, size, size, size, real,
                                     ctypes.c_void_p, size, ctypes.c_void_p, size, real, ctypes.c_void_p, size]
                function.restype = None
                functions[letter] = function
            if len(functions) == len(_REALS) and all(_multiplies_right(f, _REALS[letter][0]) for letter, f in functions.items()):
                return functions
    return {}


def _multiplies_right(function, dtype):
    """Whether ``function`` computes a 2x3 @ 3x2 product as ``np.matmul`` does (A transposed, to
    check the op() argument too)."""
    a_transposed = np.arange(6, dtype=dtype).reshape(3, 2)  # A = its transpose, 2x3
    b = np.arange(6, dtype=dtype).reshape(3, 2) - 2
    c = np.full((2, 2), np.nan, dtype=dtype)
    function(ROW_MAJOR, TRANSPOSE, NO_TRANSPOSE, 2, 2, 3, 1.0, a_transposed.ctypes, 2, b.ctypes, 2, 0.0, c.ctypes, 2)
    return np.array_equal(c, a_transposed.T @ b)
