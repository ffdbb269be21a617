"""2-D convolution as a differentiable op.

Groups, in a picture: with ``groups=G`` the layer is G ordinary convolutions side by side.  The
C input channels are cut into G slices of C/G channels, the O filters into G slices of O/G
filters; filter slice g sees only channel slice g, and the G outputs are concatenated along the
channel axis.  Hence the weight shape ``(O, C/G, kH, kW)``: each filter spans only its group's
channels.  ``groups=1`` is the ordinary convolution, ``groups=C`` the depthwise one.  A ResNeXt
block's "C parallel branches" are exactly the G groups of one such layer.

The math (``xp`` = input zero-padded by ``padding``; o, c counted inside their group g)::

    forward      y[n, g*Og+o, p, q] = b[g*Og+o] + sum_{c,i,j} w[g*Og+o, c, i, j] * xp[n, g*Cg+c, p*sh+i*dh, q*sw+j*dw]
    grad input   dxp[n, g*Cg+c, p*sh+i*dh, q*sw+j*dw] += sum_o w[g*Og+o, c, i, j] * dy[n, g*Og+o, p, q]
                 (dx = dxp with the padding cut off)
    grad weight  dw[g*Og+o, c, i, j] = sum_{n,p,q} xp[n, g*Cg+c, p*sh+i*dh, q*sw+j*dw] * dy[n, g*Og+o, p, q]
    grad bias    db[o] = sum_{n,p,q} dy[n, o, p, q]

The arrays are computed by the kernels of the active backend (``minigrad.backend``): the Numba
CPU kernels (:mod:`minigrad.kernels.conv`) by default, the numba.cuda ones after
``minigrad.use_device("cuda")``.  Both take the same ``ConvGeometry`` record.  Both the backend
and the CPU algorithm asked for (``minigrad.conv_algorithm``, default ``"auto"``) are pinned in
``ctx`` at forward time, so backward computes with the same ones.  The input and weight are kept
for backward; the im2col column buffer is not (it is as large as the input times kH*kW, and
rebuilding it is cheaper than holding it through the whole forward pass of a network).
"""

from minigrad import backend
from minigrad.autograd import Function, array_hint
from minigrad.functions.dtypes import require_float
from minigrad.kernels.conv.selection import conv_algorithm, requested_algorithm
from minigrad.kernels.conv_geometry import ConvGeometry
from minigrad.tensor import Tensor


class Conv2d(Function):
    """y = conv(x, w) + b ;  dx = conv_transpose(dy, w) ;  dw = correlate(x, dy) ;  db = sum(dy)  (see module docstring)"""

    @staticmethod
    def forward(ctx, x, weight, *bias, stride=1, padding=0, dilation=1, groups=1):
        geometry = ConvGeometry.from_shapes(x.shape, weight.shape, stride, padding, dilation, groups)
        require_float("conv2d", input=x, weight=weight, bias=bias[0] if bias else None)
        if x.dtype != weight.dtype or (bias and bias[0].dtype != x.dtype):
            raise ValueError(
                f"conv2d: input dtype {x.dtype} and weight dtype {weight.dtype}"
                + (f" and bias dtype {bias[0].dtype}" if bias else "")
                + " differ; convert them to one dtype"
            )
        if bias and bias[0].shape != (geometry.out_channels,):
            raise ValueError(f"conv2d: bias must have shape ({geometry.out_channels},), got {bias[0].shape}")
        kernels = backend.conv_kernels()
        y = kernels.conv2d_forward(x, weight, geometry)
        if bias:
            y += bias[0].reshape(1, -1, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.kernels, ctx.algorithm, ctx.has_bias = geometry, kernels, requested_algorithm(), bool(bias)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        geometry, kernels = ctx.geometry, ctx.kernels
        # BEGIN SOLUTION t06_conv_backward
        with conv_algorithm(ctx.algorithm):  # dL/dx and dL/dw, each None unless asked for
            grad_input, grad_weight = kernels.conv2d_backward(x, grad_out, weight, geometry, *ctx.needs_input_grad[:2])
        if not ctx.has_bias:
            return grad_input, grad_weight
        grad_bias = grad_out.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None
        return grad_input, grad_weight, grad_bias
        # END SOLUTION


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution with PyTorch's arguments and meaning (``torch.nn.functional.conv2d``).

    Args:
        x: input of shape (N, C_in, H, W).
        weight: filters of shape (C_out, C_in / groups, kH, kW).
        bias: optional (C_out,) tensor.
        stride, padding, dilation: an int or an (h, w) pair.
        groups: split channels into this many independent convolutions (see module docstring).

    Returns:
        (N, C_out, H_out, W_out) with H_out = (H + 2*padding - dilation*(kH - 1) - 1) // stride + 1.

    >>> import minigrad as mg
    >>> x = mg.ones(1, 4, 5, 5)
    >>> w = mg.ones(6, 2, 3, 3)            # groups=2: each filter sees 2 of the 4 channels
    >>> y = conv2d(x, w, padding=1, groups=2)
    >>> y.shape, float(y.data[0, 0, 2, 2])  # an interior pixel sums 2 channels * 9 taps
    ((1, 6, 5, 5), 18.0)
    """
    for name, value in (("input", x), ("weight", weight)):
        if not isinstance(value, Tensor):
            raise TypeError(f"conv2d: {name} must be a Tensor, got {type(value).__name__}{array_hint(value)}")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups)
