"""Ops with compiled kernels refuse dtypes they cannot compute; integer tensors take a float
partner's dtype; a gradient never arrives in another dtype than its tensor's."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad.autograd import Function

UNSUPPORTED = [np.uint8, np.int32, np.int64, np.float16, np.bool_]


def images(dtype, shape=(1, 2, 6, 6)):
    return mg.tensor(np.full(shape, 1, dtype=dtype))


@pytest.mark.parametrize("dtype", UNSUPPORTED, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", [
    lambda x: F.conv2d(x, mg.tensor(np.ones((2, 2, 3, 3), dtype=x.dtype))),
    lambda x: F.conv2d(x, mg.tensor(np.ones((2, 2, 3, 3), dtype=np.float32))),
    lambda x: F.batch_norm(x, None, None, training=True),
    lambda x: F.relu(x),
    lambda x: F.max_pool2d(x, 2),
    lambda x: F.avg_pool2d(x, 2),
], ids=["conv2d", "conv2d float weight", "batch_norm", "relu", "max_pool2d", "avg_pool2d"])
def test_ops_with_compiled_kernels_refuse_other_dtypes_by_name(op, dtype):
    with pytest.raises(TypeError, match=rf"supports float32 and float64, got input of dtype {np.dtype(dtype).name}"):
        op(images(dtype))


def test_an_integer_weight_is_named_too():
    with pytest.raises(TypeError, match="conv2d supports float32 and float64, got weight of dtype int64"):
        F.conv2d(images(np.float32), mg.tensor(np.ones((2, 2, 3, 3), dtype=np.int64)))


def test_uint8_convolution_no_longer_overflows_silently():
    # 200 * 2 summed over 2 channels * 3 * 3 taps is 7200; uint8 arithmetic gave 7200 % 256 = 32.
    x = mg.tensor(np.full((1, 2, 3, 3), 200, dtype=np.uint8))
    w = mg.tensor(np.full((1, 2, 3, 3), 2, dtype=np.uint8))
    with pytest.raises(TypeError):
        F.conv2d(x, w)
    exact = F.conv2d(mg.tensor(x.data, dtype=np.float32), mg.tensor(w.data, dtype=np.float32))
    assert exact.item() == 7200.0


@pytest.mark.parametrize("combine", [
    lambda ints, w: ints * w, lambda ints, w: w * ints, lambda ints, w: ints + w, lambda ints, w: w - ints,
    lambda ints, w: ints / w, lambda ints, w: ints @ w.reshape(3, 1),
], ids=["int*w", "w*int", "int+w", "w-int", "int/w", "int@w"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_integer_tensor_takes_its_float_partners_dtype(combine, dtype):
    ints = mg.tensor(np.array([1, 2, 3], dtype=np.int64))
    w = mg.tensor(np.array([0.5, 1.5, 2.5], dtype=dtype), requires_grad=True)
    out = combine(ints, w)
    out.sum().backward()
    assert out.dtype == dtype and w.grad.dtype == dtype


def test_an_op_returning_a_gradient_of_another_dtype_is_named():
    class Widening(Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad_out):
            return grad_out.astype(np.float64)

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Widening.backward returned a float64 gradient for input 0 of dtype float32"):
        Widening.apply(x).sum().backward()
