"""The grouped convolution and its two gradients on the GPU: im2col + a grouped matrix product.

The same three entry points, arguments and results as :mod:`minigrad.kernels.conv`, and the
same algorithm, each step a kernel from this package::

    G groups   N batch   Cg = C/G, Og = O/G channels per group   K = Cg*kh*kw   P = N*oh*ow

    forward       columns = im2col(x)                                   (G, K, P)
                  (G, Og, P) = (G, Og, K) @ (G, K, P)                   weight @ columns
                  y = columns_to_images(...)                            (N, O, oh, ow)
    grad input    (G, K, P) = (G, Og, K).T @ (G, Og, P)                 weight.T @ grad_out columns
                  grad_x = col2im(...)                                  (N, C, H, W)
    grad weight   (G, Og, K) = (G, Og, P) @ (G, K, P).T                 grad_out columns @ columns.T

Two layers of functions:

* ``conv2d_forward(x, weight, geom)`` and friends take and return **NumPy** arrays: they copy the
  inputs to the GPU, run the kernels, and copy the result back. This is what the autograd
  ``Conv2d`` Function calls when the device is "cuda" (see :mod:`minigrad.backend`). Simple, at
  the price of two copies over PCIe per call.
* ``conv2d_forward_on_device(...)`` and friends take and return numba **device arrays** and
  never copy; the benchmark times these.
"""

from minigrad.kernels.cuda.device import arrays_to_device
from minigrad.kernels.cuda.im2col import col2im_on_device, im2col_on_device
from minigrad.kernels.cuda.layout import columns_to_images_on_device, images_to_columns_on_device
from minigrad.kernels.cuda.matmul import grouped_matmul_on_device

__all__ = [
    "conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight", "conv2d_backward",
    "conv2d_forward_on_device", "conv2d_grad_input_on_device", "conv2d_grad_weight_on_device",
]


def _weight_matrix(weight, geom):
    """``(O, Cg, kh, kw) -> (G, Og, Cg*kh*kw)``: a free view, rows in the same order as im2col's."""
    return weight.reshape(geom.groups, geom.out_channels_per_group, geom.col_rows)


def conv2d_forward_on_device(x, weight, geom):
    """Device arrays ``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``."""
    columns = im2col_on_device(x, geom)  # (G, K, P)
    # (G, Og, P) = (G, Og, K) @ (G, K, P)
    output_columns = grouped_matmul_on_device(_weight_matrix(weight, geom), columns)
    return columns_to_images_on_device(output_columns, geom.batch, geom.out_h, geom.out_w)


def conv2d_grad_input_on_device(grad_out, weight, geom):
    """Device arrays ``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``."""
    grad_out_columns = images_to_columns_on_device(grad_out, geom.groups)  # (G, Og, P)
    # (G, K, P) = (G, Og, K).T @ (G, Og, P)
    grad_columns = grouped_matmul_on_device(_weight_matrix(weight, geom), grad_out_columns, left_transposed=True)
    return col2im_on_device(grad_columns, geom)


def conv2d_grad_weight_on_device(x, grad_out, geom):
    """Device arrays ``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``."""
    columns = im2col_on_device(x, geom)  # (G, K, P)
    grad_out_columns = images_to_columns_on_device(grad_out, geom.groups)  # (G, Og, P)
    # (G, Og, K) = (G, Og, P) @ (G, K, P).T
    grad_weight_matrix = grouped_matmul_on_device(grad_out_columns, columns, right_transposed=True)
    return grad_weight_matrix.reshape(geom.weight_shape)


def conv2d_forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)`` on the GPU: NumPy in, NumPy out."""
    x, weight = arrays_to_device(x=(x, geom.input_shape), weight=(weight, geom.weight_shape))
    return conv2d_forward_on_device(x, weight, geom).copy_to_host()


def conv2d_grad_input(grad_out, weight, geom):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)`` on the GPU: NumPy in, NumPy out."""
    grad_out, weight = arrays_to_device(
        grad_out=(grad_out, geom.output_shape), weight=(weight, geom.weight_shape)
    )
    return conv2d_grad_input_on_device(grad_out, weight, geom).copy_to_host()


def conv2d_grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)`` on the GPU: NumPy in, NumPy out."""
    x, grad_out = arrays_to_device(x=(x, geom.input_shape), grad_out=(grad_out, geom.output_shape))
    return conv2d_grad_weight_on_device(x, grad_out, geom).copy_to_host()


def conv2d_backward(x, grad_out, weight, geom, input_grad=True, weight_grad=True):
    """``(dL/dx, dL/dw)``, each ``None`` when not asked for: the two functions above, one after the
    other (what ``Conv2d.backward`` calls, as :func:`minigrad.kernels.conv.conv2d_backward`)."""
    return (conv2d_grad_input(grad_out, weight, geom) if input_grad else None,
            conv2d_grad_weight(x, grad_out, geom) if weight_grad else None)
