"""Max and average pooling over (kH, kW) windows of an (N, C, H, W) input.

Both read the input through the same strided windows as a convolution (one view per window tap
``(i, j)``, see ``_tap_view``), so overlapping windows (stride < kernel) need no special case:
backward adds each window's gradient into the input pixels it read, and a pixel in two windows
receives both contributions.

Output size along one axis: ``out = (in + 2*pad - k) // stride + 1`` (no dilation, floor mode).
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.functions import reduction
from minigrad.functions.dtypes import require_float
from minigrad.kernels.conv_geometry import as_pair


def _pool_geometry(x_shape, kernel_size, stride, padding, name):
    if len(x_shape) != 4:
        raise ValueError(f"{name} expects a 4-D input (N, C, H, W), got shape {tuple(x_shape)}")
    kernel_h, kernel_w = as_pair(kernel_size, "kernel_size")
    stride_h, stride_w = as_pair(kernel_size if stride is None else stride, "stride")
    pad_h, pad_w = as_pair(padding, "padding")
    if min(kernel_h, kernel_w, stride_h, stride_w) < 1:
        raise ValueError(f"{name}: kernel_size and stride must be >= 1, got kernel ({kernel_h}, {kernel_w}), stride ({stride_h}, {stride_w})")
    if pad_h < 0 or pad_w < 0 or pad_h > kernel_h // 2 or pad_w > kernel_w // 2:
        raise ValueError(f"{name}: padding must be between 0 and half the kernel size, got padding ({pad_h}, {pad_w}) for kernel ({kernel_h}, {kernel_w})")
    out_h = (x_shape[2] + 2 * pad_h - kernel_h) // stride_h + 1
    out_w = (x_shape[3] + 2 * pad_w - kernel_w) // stride_w + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"{name}: kernel ({kernel_h}, {kernel_w}) is larger than the padded input ({x_shape[2] + 2 * pad_h}, {x_shape[3] + 2 * pad_w})")
    return (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w), (out_h, out_w)


def _tap_view(padded, i, j, stride, out_size):
    """The (N, C, oh, ow) view of ``padded`` holding, for every window, its tap (i, j)."""
    return padded[:, :, i : i + stride[0] * (out_size[0] - 1) + 1 : stride[0],
                  j : j + stride[1] * (out_size[1] - 1) + 1 : stride[1]]


def _pad_spatial(x, padding, value):
    pad_h, pad_w = padding
    return np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)), constant_values=value)


def _add_back_through_windows(shapes, tap_gradient, dtype):
    """The input gradient of a pooling: for every tap (i, j), add ``tap_gradient(i, j)`` (shaped like
    the output) into the input pixels that tap read, then cut the padding away. Overlapping
    windows simply add up."""
    x_shape, kernel, stride, padding, out_size = shapes
    grad_padded = np.zeros(x_shape[:2] + (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]), dtype=dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            _tap_view(grad_padded, i, j, stride, out_size)[...] += tap_gradient(i, j)
    return grad_padded[:, :, padding[0]: padding[0] + x_shape[2], padding[1]: padding[1] + x_shape[3]].copy()


class MaxPool2d(Function):
    """y = max over each window ;  dx = dy routed to the window's (first) maximum, added up over windows"""

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None, padding=0):
        require_float("max_pool2d", input=x)
        kernel, stride, padding, out_size = _pool_geometry(x.shape, kernel_size, stride, padding, "max_pool2d")
        padded = _pad_spatial(x, padding, -np.inf)
        best = np.full(x.shape[:2] + out_size, -np.inf, dtype=x.dtype)
        best_tap = np.zeros(best.shape, dtype=np.int64)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                tap = _tap_view(padded, i, j, stride, out_size)
                # strict: the first maximum in row-major order wins; a NaN always wins, so that it
                # reaches the output instead of being hidden by its window (both as PyTorch)
                better = (tap > best) | np.isnan(tap)
                best = np.where(better, tap, best)
                best_tap[better] = i * kernel[1] + j
        ctx.save_for_backward(best_tap)
        ctx.shapes = (x.shape, kernel, stride, padding, out_size)
        return best

    @staticmethod
    def backward(ctx, grad_out):
        (best_tap,) = ctx.saved_tensors
        kernel_w = ctx.shapes[1][1]
        return _add_back_through_windows(
            ctx.shapes, lambda i, j: np.where(best_tap == i * kernel_w + j, grad_out, 0), grad_out.dtype
        )


class AvgPool2d(Function):
    """y = mean over each window (padding counts as zeros, PyTorch's count_include_pad=True) ;
    dx = dy / (kH*kW) spread over the window, added up over windows"""

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None, padding=0):
        require_float("avg_pool2d", input=x)  # an integer total would overflow
        kernel, stride, padding, out_size = _pool_geometry(x.shape, kernel_size, stride, padding, "avg_pool2d")
        padded = _pad_spatial(x, padding, 0)
        total = np.zeros(x.shape[:2] + out_size, dtype=x.dtype)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                total += _tap_view(padded, i, j, stride, out_size)
        ctx.shapes = (x.shape, kernel, stride, padding, out_size)
        return total / np.asarray(kernel[0] * kernel[1], dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        kernel = ctx.shapes[1]
        share = grad_out / np.asarray(kernel[0] * kernel[1], dtype=grad_out.dtype)
        return _add_back_through_windows(ctx.shapes, lambda i, j: share, grad_out.dtype)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over (kH, kW) windows; ``stride`` defaults to ``kernel_size`` (PyTorch's F.max_pool2d)."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over (kH, kW) windows; ``stride`` defaults to ``kernel_size`` (PyTorch's F.avg_pool2d)."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size.  Output size 1 is the global average pool
    (a mean over H and W); other sizes must divide the input size (then it is avg_pool2d)."""
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d expects a 4-D input (N, C, H, W), got shape {x.shape}")
    out_h, out_w = as_pair(output_size, "output_size")
    if (out_h, out_w) == (1, 1):
        return reduction.mean(x, axis=(2, 3), keepdims=True)
    height, width = x.shape[2:]
    if out_h < 1 or out_w < 1 or height % out_h or width % out_w:
        raise ValueError(
            f"adaptive_avg_pool2d supports output sizes that divide the input size; got output "
            f"({out_h}, {out_w}) for input ({height}, {width})"
        )
    kernel = (height // out_h, width // out_w)
    return avg_pool2d(x, kernel, kernel)
