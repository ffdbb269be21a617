"""How much work an op does: floating-point operations and bytes moved, from the shapes alone.

FLOPs count every add, multiply, compare and transcendental as one (a multiply-add is two):

- ``Conv2d``: each output element is a dot product over the ``C/G * kH * kW`` inputs its filter
  sees, so forward is ``2 * N * O * oh * ow * C/G * kH * kW`` (taps that land on the zero padding
  included, as in every published FLOP count), plus ``N * O * oh * ow`` for a bias. Backward does
  the same multiply-adds once for dL/dx and once for dL/dw, each only if that gradient is needed,
  plus ``N * O * oh * ow`` for dL/db.
- ``MatMul``: ``(batch, n, k) @ (batch, k, m)`` is ``2 * batch * n * k * m``; backward once per
  needed gradient.
- ``BatchNorm``: what the kernels of ``minigrad/kernels/batchnorm_cpu.py`` compute per element
  and per channel: forward 8 per element (1 for the mean's sum, 3 for the variance's, 4 for
  ``y``) and 7 per channel; backward 12 per element (two passes recomputing ``xhat``) and 2 per channel.
  ``BatchNormReLU`` (the fused kernels of ``batchnorm_relu_cpu.py``) adds one compare per element
  each way: the clamp in forward, the mask in backward; ``BatchNormAddReLU`` one add more in forward.
  ``BatchNormEval`` (evaluation, ``batchnorm_eval_cpu.py``): 2 per element (``x * scale + shift``),
  plus 1 for a residual and 1 for the clamp; its NumPy backward is counted per gradient (the mask
  1, dx 1, dgamma 3, dbeta 1, the residual 0).
- pooling: ``kH * kW`` per output element (max: compares, average: adds); backward 1 per output
  element for max (one scatter), ``kH * kW`` for average.
- everything else: a fixed count per element of its largest array, in :data:`FLOPS_PER_ELEMENT`
  (a transcendental such as ``exp`` counts one).

Bytes follow one stated model, the least traffic an op could cause: forward reads each input
array once and writes its output once; backward reads ``grad_out`` and the arrays the op saved
for backward (``ctx.saved_tensors``) once and writes each gradient it returns once. An output
that is a view of an input (a reshape) moves nothing, and neither does a backward that only
passes ``grad_out`` on (an addition's). Caches make real traffic lower, re-reading makes it higher
(BatchNorm's forward reads ``x`` three times): the model is what to compare a kernel against.

>>> from minigrad.kernels import ConvGeometry
>>> geometry = ConvGeometry.from_shapes((2, 8, 6, 6), (8, 2, 3, 3), padding=1, groups=4)
>>> conv_flops(geometry)                  # 2 * (2*8*6*6 outputs) * (2*3*3 taps)
20736
"""

import numpy as np

__all__ = ["FLOPS_PER_ELEMENT", "conv_flops", "matmul_flops", "batchnorm_flops", "batchnorm_relu_flops", "forward_counts", "backward_counts"]

# op name -> (forward FLOPs, (backward FLOPs for input 0's gradient, for input 1's, ...)), per
# element of the op's largest array; a gradient not asked for (None) costs nothing.  The sums
# that undo broadcasting are not counted.  Views and copies (reshape, permute, indexing, padding,
# concatenation, casts) do no arithmetic and are not listed.
FLOPS_PER_ELEMENT = {
    "Add": (1, (0, 0)), "Sub": (1, (0, 1)), "Mul": (1, (1, 1)), "Div": (1, (1, 3)), "Pow": (1, (3, 3)),
    "Neg": (1, (1,)), "Sin": (1, (2,)), "Cos": (1, (3,)), "Exp": (1, (1,)), "Log": (1, (1,)),
    "Sqrt": (1, (2,)), "Sigmoid": (4, (3,)), "Tanh": (1, (3,)), "ReLU": (1, (1,)),
    "Sum": (1, (0,)), "Mean": (1, (1,)), "Max": (1, (1,)),
    "LogSoftmax": (5, (3,)), "Softmax": (5, (4,)), "CrossEntropy": (5, (3, 0)),
}


def conv_flops(geometry, with_bias=False):
    """Forward FLOPs of a convolution of this ``ConvGeometry`` (see the module docstring)."""
    outputs = geometry.batch * geometry.out_channels * geometry.out_h * geometry.out_w
    taps = geometry.in_channels_per_group * geometry.kernel_h * geometry.kernel_w
    return 2 * outputs * taps + (outputs if with_bias else 0)


def matmul_flops(a_shape, b_shape):
    """``2 * batch * n * k * m`` for ``a @ b`` with ``a`` ``(..., n, k)`` and ``b`` ``(..., k, m)``."""
    n, k = a_shape[-2:]
    m = b_shape[-1]
    batch = int(np.prod(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]), dtype=np.int64))
    return 2 * batch * n * k * m


def batchnorm_flops(x_shape, phase):
    """The arithmetic of ``batchnorm_cpu``'s kernels for an ``(N, C, ...)`` input."""
    elements, channels = int(np.prod(x_shape, dtype=np.int64)), x_shape[1]
    return 8 * elements + 7 * channels if phase == "forward" else 12 * elements + 2 * channels


def batchnorm_relu_flops(x_shape, phase, added=False):
    """``batchnorm_flops`` plus the ReLU's compare per element (the fused kernels), and in forward
    the residual's add per element when one is ``added`` (BatchNormAddReLU)."""
    elements = int(np.prod(x_shape, dtype=np.int64))
    return batchnorm_flops(x_shape, phase) + elements * (2 if added else 1)


def _pool_flops(op_name, output_elements, kernel_size, phase):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if op_name == "MaxPool2d" and phase == "backward":
        return output_elements
    return output_elements * kh * kw


def _largest(arrays):
    return max((int(np.size(array)) for array in arrays), default=0)


def forward_counts(op_name, ctx, input_arrays, output, attrs):
    """``(flops, bytes)`` of one forward call (``attrs`` are the keyword attributes it was given)."""
    if any(np.may_share_memory(output, array) for array in input_arrays):
        moved = 0  # a view: nothing is read or written
    else:
        moved = sum(array.nbytes for array in input_arrays) + output.nbytes
    if op_name == "Conv2d":
        flops = conv_flops(ctx.geometry, with_bias=ctx.has_bias)
    elif op_name == "MatMul":
        flops = matmul_flops(input_arrays[0].shape, input_arrays[1].shape)
    elif op_name == "BatchNorm":
        flops = batchnorm_flops(input_arrays[0].shape, "forward")
    elif op_name in ("BatchNormReLU", "BatchNormAddReLU"):
        flops = batchnorm_relu_flops(input_arrays[0].shape, "forward", added=op_name == "BatchNormAddReLU")
    elif op_name == "BatchNormEval":
        flops = output.size * (2 + int(attrs.get("relu", False)) + int(len(input_arrays) == 4))
    elif op_name in ("MaxPool2d", "AvgPool2d"):
        flops = _pool_flops(op_name, output.size, attrs.get("kernel_size", 2), "forward")
    else:
        flops = FLOPS_PER_ELEMENT.get(op_name, (0, ()))[0] * _largest(list(input_arrays) + [output])
    return flops, moved


def backward_counts(op_name, ctx, input_shapes, grad_out, input_grads, attrs):
    """``(flops, bytes)`` of one backward call, given what it read and returned (module docstring)."""
    saved = [array for array in ctx.saved_tensors if isinstance(array, np.ndarray)]
    written = [g for g in input_grads if isinstance(g, np.ndarray) and not np.may_share_memory(g, grad_out)]
    computed = written or saved  # an op that only passes grad_out on (an addition's) reads nothing
    moved = (grad_out.nbytes if computed else 0) + sum(array.nbytes for array in saved) + sum(g.nbytes for g in written)
    needed = ctx.needs_input_grad
    if op_name == "Conv2d":
        products = conv_flops(ctx.geometry)
        outputs = grad_out.size
        flops = products * (int(needed[0]) + int(needed[1])) + (outputs if ctx.has_bias and needed[2] else 0)
    elif op_name == "MatMul":
        flops = matmul_flops(*input_shapes) * (int(needed[0]) + int(needed[1]))
    elif op_name == "BatchNorm":
        flops = batchnorm_flops(input_shapes[0], "backward")
    elif op_name in ("BatchNormReLU", "BatchNormAddReLU"):
        flops = batchnorm_relu_flops(input_shapes[0], "backward")
    elif op_name == "BatchNormEval":
        per_gradient = (1, 3, 1, 0)  # dx = dy * scale; dgamma = sum dy * xhat; dbeta = sum dy; d residual = dy
        computed = [cost for cost, grad in zip(per_gradient, input_grads) if grad is not None]
        flops = grad_out.size * (int(attrs.get("relu", False)) + sum(computed))
    elif op_name in ("MaxPool2d", "AvgPool2d"):
        flops = _pool_flops(op_name, grad_out.size, attrs.get("kernel_size", 2), "backward")
    else:
        largest = max([grad_out.size] + [int(np.prod(shape, dtype=np.int64)) for shape in input_shapes])
        per_gradient = FLOPS_PER_ELEMENT.get(op_name, (0, ()))[1]
        flops = largest * sum(cost for cost, grad in zip(per_gradient, input_grads) if grad is not None)
    return flops, moved
