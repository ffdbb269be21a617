"""The grouped 2-D convolution on the CPU: the table of contents.

Every algorithm computes exactly what :mod:`minigrad.kernels.reference` specifies, in the dtype of
its inputs, through the same three functions. Read them in this order (legend in
:mod:`minigrad.kernels.conv_geometry`):

1. :mod:`~minigrad.kernels.conv.im2col_matmul`: unfold every receptive field into a column, then
   one matrix product per group. The classic.
2. :mod:`~minigrad.kernels.conv.pointwise`: a 1x1 kernel needs no unfolding; its columns are its pixels.
   :mod:`~minigrad.kernels.conv.pointwise_prange` runs the same products from a Numba parallel
   loop, on the threads every other kernel uses: what trains a model wherever NumPy's BLAS allows.
3. :mod:`~minigrad.kernels.conv.shifted`: at stride 1, one matrix product per kernel tap on a
   shifted view of the padded input: im2col without the column matrix.
4. :mod:`~minigrad.kernels.conv.direct` (with :mod:`~minigrad.kernels.conv.phases` and
   :mod:`~minigrad.kernels.conv.direct_rows`): Numba loops over narrow groups, the ResNeXt case.

:func:`conv2d_backward` is what the ``Conv2d`` Function's backward calls: the two gradients, or
for a 1x1 kernel both at once. The matmul algorithms run one slice of the batch per Python thread
(:mod:`~minigrad.kernels.conv.batches`); the direct loops run one Numba task per (block of images,
group), and pointwise_prange one Numba task per slice of the batch. :func:`choose` picks an
algorithm; ``with minigrad.conv_algorithm(name):`` (:mod:`~minigrad.kernels.conv.selection`) forces one.
"""

from minigrad.kernels.conv import direct, im2col_matmul, pointwise, pointwise_prange, shifted
from minigrad.kernels.conv.batches import gradients_on_batch_slices, on_batch_slices, summed_over_batch_slices
from minigrad.kernels.conv.selection import conv_algorithm, requested_algorithm

__all__ = ["conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight", "conv2d_backward", "choose", "one_by_one",
           "algorithm_for", "conv_algorithm"]

ALGORITHMS = {"im2col": im2col_matmul, "pointwise": pointwise, "pointwise_prange": pointwise_prange, "shifted": shifted,
              "direct": direct}
# The algorithms that spread the batch over Numba's threads themselves; the others run on one
# slice of the batch per Python thread (batches.py).
ON_NUMBA_THREADS = ("direct", "pointwise_prange")

# Thresholds, measured on 2 cores (forward + both gradients, one BLAS thread per product):
# - Narrow groups: direct loops against the matmuls. At stride 1, 64 x 512ch x 8x8, groups 32
#   (16 channels per group): 32 against 45 ms (shifted); 64 x 1024ch x 8x8, groups 32 (32 per
#   group): 146 against 118 ms. At stride 2, 3x3: 128 x 64ch x 32x32, groups 4 (16 per group)
#   43 against 93 ms (im2col); 128 x 128ch x 16x16, groups 4 (32 per group) 35 against 42 ms;
#   dense 64 -> 128 channels at 32x32, batch 64: 77 against 62 ms.
# - Large images at stride 1: the direct loops won at every width tried on 16x16 and 32x32, up
#   to 256 channels (32 x 128ch x 32x32 dense: 201 against 220 ms; 32 x 512ch x 32x32 groups 8:
#   370 against 577 ms); at 8x8 dense 32 x 128ch: 31 against 23 ms.
NARROW_GROUP_CHANNELS = 16
NARROW_GROUP_CHANNELS_STRIDED = 32
LARGE_IMAGE_PIXELS = 16 * 16


def choose(geom):
    """The algorithm ``"auto"`` uses for ``geom``: ``"direct"``, ``"pointwise_prange"`` (or
    ``"pointwise"``), ``"shifted"`` or ``"im2col"``."""
    widest_group = max(geom.in_channels_per_group, geom.out_channels_per_group)
    is_1x1 = pointwise.cannot_compute(geom) is None
    if (geom.stride_h, geom.stride_w) != (1, 1):
        if is_1x1:
            return one_by_one(geom)
        return "direct" if widest_group <= NARROW_GROUP_CHANNELS_STRIDED else "im2col"
    if widest_group <= NARROW_GROUP_CHANNELS:
        return "direct"
    if is_1x1:
        return one_by_one(geom)
    return "direct" if geom.out_h * geom.out_w >= LARGE_IMAGE_PIXELS else "shifted"


def one_by_one(geom):
    """A 1x1 convolution's algorithm: its products on Numba's threads (``"pointwise_prange"``)
    where NumPy's BLAS can be called from them, else on Python's (``"pointwise"``)."""
    return "pointwise_prange" if pointwise_prange.cannot_compute(geom) is None else "pointwise"


def algorithm_for(geom):
    """The algorithm that computes ``geom`` here: the one :func:`conv_algorithm` asks for, or
    :func:`choose`'s under ``"auto"``. A ``ValueError`` if the one asked for cannot."""
    name = requested_algorithm()
    if name == "auto":
        return choose(geom)
    reason = ALGORITHMS[name].cannot_compute(geom)
    if reason is not None:
        able = [other for other, module in ALGORITHMS.items() if module.cannot_compute(geom) is None]
        raise ValueError(f"conv algorithm {name!r} cannot compute this convolution: {reason}. Algorithms that can: {', '.join(able)}")
    return name


def conv2d_forward(x, weight, geom):
    """``(N, C, H, W), (O, Cg, kh, kw) -> (N, O, oh, ow)``, in the dtype of ``x``."""
    _check_shapes(geom, x=(x, geom.input_shape), weight=(weight, geom.weight_shape))
    name = algorithm_for(geom)
    if name in ON_NUMBA_THREADS:
        return ALGORITHMS[name].forward(x, weight, geom)
    return on_batch_slices(ALGORITHMS[name].forward, x, weight, geom, geom.output_shape)


def conv2d_grad_input(grad_out, weight, geom):
    """``(N, O, oh, ow), (O, Cg, kh, kw) -> (N, C, H, W)``: dL/dx, in the dtype of ``grad_out``."""
    _check_shapes(geom, grad_out=(grad_out, geom.output_shape), weight=(weight, geom.weight_shape))
    name = algorithm_for(geom)
    if name in ON_NUMBA_THREADS:
        return ALGORITHMS[name].grad_input(grad_out, weight, geom)
    return on_batch_slices(ALGORITHMS[name].grad_input, grad_out, weight, geom, geom.input_shape)


def conv2d_grad_weight(x, grad_out, geom):
    """``(N, C, H, W), (N, O, oh, ow) -> (O, Cg, kh, kw)``: dL/dw, in the dtype of ``x``."""
    _check_shapes(geom, x=(x, geom.input_shape), grad_out=(grad_out, geom.output_shape))
    name = algorithm_for(geom)
    if name in ON_NUMBA_THREADS:
        return ALGORITHMS[name].grad_weight(x, grad_out, geom)
    return summed_over_batch_slices(ALGORITHMS[name].grad_weight, x, grad_out, geom)


def conv2d_backward(x, grad_out, weight, geom, input_grad=True, weight_grad=True):
    """``(dL/dx, dL/dw)``, each ``None`` when not asked for: what ``Conv2d.backward`` calls.

    :func:`conv2d_grad_input` and :func:`conv2d_grad_weight`, except that for a 1x1 kernel both
    are computed in one pass over each thread's images (:func:`pointwise.gradients`, which says
    what that saves, and :func:`pointwise_prange.gradients`)."""
    name = algorithm_for(geom) if input_grad and weight_grad else None
    if name in ("pointwise", "pointwise_prange"):
        _check_shapes(geom, x=(x, geom.input_shape), grad_out=(grad_out, geom.output_shape), weight=(weight, geom.weight_shape))
        if name == "pointwise_prange":
            return pointwise_prange.gradients(x, grad_out, weight, geom)
        return gradients_on_batch_slices(pointwise.gradients, x, grad_out, weight, geom)
    return (conv2d_grad_input(grad_out, weight, geom) if input_grad else None,
            conv2d_grad_weight(x, grad_out, geom) if weight_grad else None)


def _check_shapes(geom, **arrays):
    for name, (array, expected) in arrays.items():
        if array.shape != expected:
            raise ValueError(f"{name} has shape {array.shape}, but the geometry expects {expected}")
