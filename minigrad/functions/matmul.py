"""Matrix product with NumPy's ``@`` semantics, batched over leading axes.

For 2-D operands ``Y = A @ B`` the chain rule gives ``dA = dY @ B^T`` and ``dB = A^T @ dY``
(check the shapes: (n, m) = (n, p) @ (p, m)).  Leading batch axes broadcast like any elementwise
op, so each gradient is summed back to its operand's shape with ``unbroadcast``.  A 1-D operand
is treated as a one-row (left) or one-column (right) matrix and the extra axis is removed after.
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.functions.broadcast import broadcast_shape, unbroadcast
from minigrad.functions.elementwise import lift
from minigrad.functions.shape_ops import reshape
from minigrad.tensor import Tensor


class MatMul(Function):
    """Y = A @ B (both at least 2-D) ;  dA = dY @ B^T ;  dB = A^T @ dY   (summed over broadcast batch axes)"""

    @staticmethod
    def forward(ctx, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul shape mismatch: {a.shape} @ {b.shape} (inner sizes {a.shape[-1]} and {b.shape[-2]} differ)"
            )
        broadcast_shape(a.shape[:-2], b.shape[:-2])
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad_out):
        a, b = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = unbroadcast(grad_out @ np.swapaxes(b, -1, -2), a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = unbroadcast(np.swapaxes(a, -1, -2) @ grad_out, b.shape)
        return grad_a, grad_b


def matmul(a, b):
    """``a @ b`` for tensors of at least one dimension (NumPy's rules for 1-D operands)."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    b = lift(b, a)
    a = lift(a, b)  # an integer tensor ``a`` takes ``b``'s float dtype
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
    # Checked here, not only in MatMul.forward, so the message quotes the shapes the caller passed.
    inner_a, inner_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape} (inner sizes {inner_a} and {inner_b} differ)")
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    if a_vector:
        a = reshape(a, (1,) + a.shape)
    if b_vector:
        b = reshape(b, b.shape + (1,))
    out = MatMul.apply(a, b)
    if a_vector:
        out = reshape(out, out.shape[:-2] + out.shape[-1:])
    if b_vector:
        out = reshape(out, out.shape[:-1])
    return out
