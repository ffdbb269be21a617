"""Elementwise ops.  Each docstring states the forward and the local derivatives.

Binary ops broadcast like NumPy; their backward sums each gradient back to its input's shape
with ``unbroadcast`` (see ``broadcast.py``).
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.functions.broadcast import broadcast_shape, unbroadcast
from minigrad.tensor import Tensor


def lift(value, like):
    """Make ``value`` a Tensor; a plain number or array takes the dtype of the tensor ``like``.

    Two Tensors of different float dtypes are refused rather than silently promoted.  An integer
    (or bool) Tensor meeting a float one takes the float dtype, like a Python number (and as
    PyTorch does): int64 * float32 is float32, so no float64 gradient reaches a float32 parameter.
    """
    if isinstance(value, Tensor):
        if value.dtype != like.dtype and value.dtype.kind == "f" and like.dtype.kind == "f":
            raise TypeError(
                f"dtype mismatch: {like.dtype} and {value.dtype}; convert one explicitly "
                f"(minigrad never mixes float32 and float64 silently)"
            )
        if value.dtype.kind != "f" and like.dtype.kind == "f":
            return Tensor(value.data.astype(like.dtype))  # an integer tensor never requires grad
        return value
    dtype = like.dtype if like.dtype.kind == "f" else None
    return Tensor(np.asarray(value, dtype=dtype))


def _lift_pair(a, b):
    if isinstance(a, Tensor):
        b = lift(b, a)
        return lift(a, b), b  # an integer tensor ``a`` takes ``b``'s float dtype
    b_tensor = b if isinstance(b, Tensor) else Tensor(b)
    return lift(a, b_tensor), b_tensor


class Add(Function):
    """y = a + b ;  da = dy ;  db = dy   (each summed over its broadcast axes)"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        broadcast_shape(a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, grad_out):
        # BEGIN SOLUTION t01_elementwise_backward
        return unbroadcast(grad_out, ctx.a_shape), unbroadcast(grad_out, ctx.b_shape)
        # END SOLUTION


class Sub(Function):
    """y = a - b ;  da = dy ;  db = -dy"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        broadcast_shape(a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, grad_out):
        # BEGIN SOLUTION t01_elementwise_backward
        return unbroadcast(grad_out, ctx.a_shape), unbroadcast(-grad_out, ctx.b_shape)
        # END SOLUTION


class Mul(Function):
    """y = a * b ;  da = dy * b ;  db = dy * a"""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape(a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_out):
        a, b = ctx.saved_tensors
        # BEGIN SOLUTION t01_elementwise_backward
        grad_a = unbroadcast(grad_out * b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(grad_out * a, b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
        # END SOLUTION


class Div(Function):
    """y = a / b ;  da = dy / b ;  db = -dy * a / b^2"""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape(a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad_out):
        a, b = ctx.saved_tensors
        # BEGIN SOLUTION t01_elementwise_backward
        grad_a = unbroadcast(grad_out / b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(-grad_out * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
        # END SOLUTION


class Pow(Function):
    """y = a ** b ;  da = dy * b * a^(b-1) ;  db = dy * y * log(a)   (db defined for a > 0)"""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape(a.shape, b.shape)
        y = a**b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        a, b, y = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = unbroadcast(grad_out * b * a ** (b - 1), a.shape)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), np.nan)
            grad_b = unbroadcast(grad_out * y * log_a, b.shape)
        return grad_a, grad_b


class Neg(Function):
    """y = -x ;  dx = -dy"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad_out):
        return -grad_out


class Sin(Function):
    """y = sin(x) ;  dx = dy * cos(x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * np.cos(x)


class Cos(Function):
    """y = cos(x) ;  dx = -dy * sin(x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return -grad_out * np.sin(x)


class Exp(Function):
    """y = e^x ;  dx = dy * y"""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        # BEGIN SOLUTION t01_elementwise_backward
        return grad_out * y
        # END SOLUTION


class Log(Function):
    """y = ln x ;  dx = dy / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        # BEGIN SOLUTION t01_elementwise_backward
        return grad_out / x
        # END SOLUTION


class Sqrt(Function):
    """y = sqrt(x) ;  dx = dy / (2 y)"""

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out / (2 * y)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x) ;  dx = dy * y * (1 - y)"""

    @staticmethod
    def forward(ctx, x):
        # Two branches so that e^-x never overflows: for x < 0 use e^x / (1 + e^x).
        exp_neg_abs = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out * y * (1 - y)


class Tanh(Function):
    """y = tanh x ;  dx = dy * (1 - y^2)"""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out * (1 - y * y)


# ------------------------------------------------------------ functional API
def add(a, b):
    return Add.apply(*_lift_pair(a, b))


def sub(a, b):
    return Sub.apply(*_lift_pair(a, b))


def mul(a, b):
    return Mul.apply(*_lift_pair(a, b))


def div(a, b):
    return Div.apply(*_lift_pair(a, b))


def pow(a, b):  # noqa: A001 - mirrors torch.pow
    return Pow.apply(*_lift_pair(a, b))


def neg(x):
    return Neg.apply(x)


def exp(x):
    return Exp.apply(x)


def sin(x):
    return Sin.apply(x)


def cos(x):
    return Cos.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)
