"""FLOP and byte counts of recorded ops against values worked out by hand from the shapes."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.profiler import Peaks, profile

# Peaks given explicitly: these tests check counts, not the probe (tests/profiler/test_peaks.py).
PEAKS = Peaks(100.0, 50.0, 10.0, 2, "test blas", "test machine", "2026-01-01")


def recorded(function, *inputs):
    """The forward and backward events of one op applied to ``inputs`` (backward of the sum)."""
    with profile(peaks=PEAKS) as prof:
        function(*inputs).sum().backward()
    forward = [e for e in prof.events if e.phase == "forward" and e.op not in ("Sum",)]
    backward = [e for e in prof.events if e.phase == "backward" and e.op not in ("Sum",)]
    assert len(forward) == 1 and len(backward) == 1, prof.events
    return forward[0], backward[0]


def randn(*shape, requires_grad=True):
    return mg.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32), requires_grad=requires_grad)


def test_grouped_conv_flops_and_bytes():
    x, w = randn(2, 8, 6, 6), randn(8, 2, 3, 3)
    forward, backward = recorded(lambda a, b: mg.functional.conv2d(a, b, padding=1, groups=4), x, w)
    # outputs 2*8*6*6 = 576, each a dot product over 2 channels * 3*3 taps = 18: 2 * 576 * 18
    assert forward.flops == 20736
    # float32: x 2*8*6*6*4 = 2304 bytes, w 8*2*9*4 = 576, y 2304
    assert forward.bytes == 2304 + 576 + 2304
    assert backward.flops == 2 * 20736  # dL/dx and dL/dw each repeat the multiply-adds
    # reads dy 2304, saved x 2304 and w 576; writes dx 2304 and dw 576
    assert backward.bytes == 2304 + 2304 + 576 + 2304 + 576
    assert forward.op == backward.op == "Conv2d"


def test_strided_conv_flops():
    x, w = randn(1, 4, 7, 7), randn(6, 4, 3, 3)
    forward, backward = recorded(lambda a, b: mg.functional.conv2d(a, b, stride=2), x, w)
    # out = (7 - 3) // 2 + 1 = 3: 1*6*3*3 = 54 outputs, 4*3*3 = 36 taps each
    assert forward.flops == 2 * 54 * 36 == 3888
    assert backward.flops == 2 * 3888


def test_dilated_conv_with_bias_and_input_without_grad():
    x, w, b = randn(1, 2, 9, 9, requires_grad=False), randn(4, 1, 3, 3), randn(4)
    forward, backward = recorded(lambda a, c, d: mg.functional.conv2d(a, c, d, dilation=2, groups=2), x, w, b)
    # out = 9 - 2*(3-1) - 1 + 1 = 5: 1*4*5*5 = 100 outputs, 1*3*3 = 9 taps; bias adds 100
    assert forward.flops == 2 * 100 * 9 + 100 == 1900
    # x needs no gradient: only dL/dw (1800) and dL/db (100)
    assert backward.flops == 1800 + 100


def test_matmul_flops():
    forward, backward = recorded(lambda a, b: a @ b, randn(3, 4), randn(4, 5))
    assert forward.flops == 2 * 3 * 4 * 5 == 120
    assert backward.flops == 240
    assert forward.bytes == (12 + 20 + 15) * 4
    batched, _ = recorded(lambda a, b: a @ b, randn(2, 3, 4), randn(4, 5))
    assert batched.flops == 240


def test_batchnorm_flops():
    x = randn(4, 3, 2, 2)
    layer = mg.nn.BatchNorm2d(3)
    forward, backward = recorded(layer, x)
    # 48 elements, 3 channels: forward 8 per element + 7 per channel, backward 12 + 2
    assert forward.flops == 8 * 48 + 7 * 3 == 405
    assert backward.flops == 12 * 48 + 2 * 3 == 582
    assert forward.op == "BatchNorm"


def test_batchnorm_in_eval_flops():
    x, residual = randn(4, 3, 2, 2), randn(4, 3, 2, 2)
    layer = mg.nn.BatchNormAddReLU2d(3).eval()
    forward, backward = recorded(layer, x, residual)
    # 48 elements: forward x * scale + shift, + residual, clamp = 4 each; backward the mask 1,
    # dx 1, dgamma 3, dbeta 1, the residual's 0
    assert forward.op == "BatchNormEval"
    assert (forward.flops, backward.flops) == (4 * 48, 6 * 48)
    plain_forward, plain_backward = recorded(mg.nn.BatchNorm2d(3).eval(), randn(4, 3, 2, 2))
    assert (plain_forward.flops, plain_backward.flops) == (2 * 48, 5 * 48)


def test_elementwise_counts_and_views():
    a, b = randn(5, 6), randn(5, 6, requires_grad=False)
    forward, backward = recorded(lambda p, q: p * q, a, b)
    assert (forward.flops, backward.flops) == (30, 30)  # only dL/da = dy * b is asked for
    assert forward.bytes == 3 * 30 * 4
    relu_forward, relu_backward = recorded(mg.functional.relu, a)
    assert (relu_forward.flops, relu_backward.flops) == (30, 30)
    reshape_forward, _ = recorded(lambda p: p.reshape(30), a)
    assert (reshape_forward.flops, reshape_forward.bytes) == (0, 0)  # a view moves nothing


@pytest.mark.parametrize("algorithm", ["im2col", "shifted", "direct"])
def test_conv_algorithm_is_the_one_that_ran(algorithm):
    x, w = randn(2, 4, 8, 8), randn(4, 2, 3, 3)
    with mg.conv_algorithm(algorithm):
        forward, backward = recorded(lambda a, b: mg.functional.conv2d(a, b, padding=1, groups=2), x, w)
    assert forward.algorithm == backward.algorithm == algorithm


def test_auto_conv_algorithm_is_the_one_chosen():
    from minigrad.kernels import ConvGeometry, conv

    x, w = randn(2, 32, 8, 8), randn(64, 32, 1, 1)  # wider than 16 channels: not "direct"
    forward, _ = recorded(mg.functional.conv2d, x, w)
    assert forward.algorithm == conv.choose(ConvGeometry.from_shapes(x.shape, w.shape)) == conv.one_by_one(ConvGeometry.from_shapes(x.shape, w.shape))
    assert forward.algorithm in ("pointwise", "pointwise_prange")
