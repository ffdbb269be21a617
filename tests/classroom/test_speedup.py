"""Classroom task t15 (minigrad/classroom/speedup.py): the fast max pooling returns exactly what the
slow one does, and is many times faster, measured as a ratio against the slow one in the same run.

The ratio needed (SPEEDUP_REQUIRED) is far below what compiled loops reach (about 250x here on
a busy 2-core machine for the shape below), so load on the machine does not decide the grade; an
absolute time never does. Under NUMBA_DISABLE_JIT=1 nothing is compiled and the speed test skips.
"""

import os
import time

import numpy as np
import pytest

from minigrad.classroom.speedup import max_pool2d_fast, max_pool2d_slow, pooled_shape

T15 = pytest.mark.t15_numba_speedup
SPEEDUP_REQUIRED = 20.0

# (N, C, H, W), kernel_size, stride
CASES = {"2x2_stride_2": ((2, 3, 8, 8), 2, 2), "3x3_stride_2_uneven": ((2, 2, 9, 7), 3, 2),
         "3x3_stride_1": ((1, 2, 5, 6), 3, 1), "whole_image": ((2, 1, 4, 4), 4, 1)}


@T15
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CASES))
def test_fast_equals_slow(name, dtype):
    shape, kernel_size, stride = CASES[name]
    x = np.random.default_rng(len(name)).standard_normal(shape).astype(dtype)
    fast = max_pool2d_fast(x, kernel_size, stride)
    assert fast.dtype == dtype
    np.testing.assert_array_equal(fast, max_pool2d_slow(x, kernel_size, stride))


@T15
def test_by_hand():
    x = np.array([[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 1.0], [0.0, 2.0, 1.0, 1.0], [9.0, 1.0, 0.0, 7.0]])
    np.testing.assert_array_equal(max_pool2d_fast(x.reshape(1, 1, 4, 4), 2, 2), [[[[5.0, 8.0], [9.0, 7.0]]]])


@T15
@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="NUMBA_DISABLE_JIT=1: nothing is compiled")
def test_fast_is_many_times_faster_than_slow():
    x = np.random.default_rng(0).standard_normal((4, 8, 32, 32))
    max_pool2d_fast(x, 3, 2)  # compile (or load from the cache) before timing

    def best_time(function, repeats):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function(x, 3, 2)
            times.append(time.perf_counter() - start)
        return min(times)

    slow, fast = best_time(max_pool2d_slow, 3), best_time(max_pool2d_fast, 20)
    assert slow / fast >= SPEEDUP_REQUIRED, f"max_pool2d_fast is {slow / fast:.1f}x as fast as the slow one, " \
        f"{SPEEDUP_REQUIRED:g}x needed (best of repeats: {fast * 1e3:.2f} ms against {slow * 1e3:.1f} ms)"


def test_bad_input_is_a_value_error_quoting_the_numbers():
    with pytest.raises(ValueError, match=r"kernel_size=5 does not fit in the 4x4 image"):
        max_pool2d_fast(np.zeros((1, 1, 4, 4)), 5, 1)
    with pytest.raises(ValueError, match=r"stride must be a positive int, got 0"):
        pooled_shape((1, 1, 4, 4), 2, 0)
    with pytest.raises(ValueError, match=r"expects an \(N, C, H, W\) array, got shape \(4, 4\)"):
        max_pool2d_slow(np.zeros((4, 4)), 2, 2)
