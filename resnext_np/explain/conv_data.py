"""The numbers behind the convolution pictures, every one computed by the library.

Nothing here convolves, unfolds or folds by itself: the column matrix is ``minigrad``'s ``im2col``,
the patch counts are its ``col2im`` of ones, the outputs and gradients are its convolution kernels
(under ``conv_algorithm("im2col")``, the algorithm the pictures explain), and the block-diagonal
weight is assembled from the pieces that ``resnext_np.convert`` cuts a grouped weight into. The
drawing code (``draw_conv``, ``text``) only lays these arrays out; ``tests/resnext_np/test_explain.py``
checks each one against the library again.

Inputs and weights are small integers stored as float64, so every sum a picture writes out is exact.
Legend as in :mod:`minigrad.kernels.conv_geometry` (G groups, Cg = C/G, Og = O/G, ...).
"""

from dataclasses import dataclass

import numpy as np

from minigrad import conv_algorithm
from minigrad.kernels import ConvGeometry, conv
from minigrad.kernels.im2col import col2im, im2col
from resnext_np.convert import from_grouped_state

__all__ = ["Layer", "make_layer", "GroupsPicture", "groups_picture", "Im2colPicture", "im2col_picture",
           "StepFrame", "step_frames", "window_mask", "shape_equations"]


@dataclass(frozen=True)
class Layer:
    """One grouped convolution with concrete arrays: ``x`` (N, C, H, W), ``weight`` (O, Cg, kh, kw)."""

    geom: ConvGeometry
    x: np.ndarray
    weight: np.ndarray


def make_layer(channels, out_channels, groups, kernel, image, stride=1, padding=0, batch=1, seed=0):
    """A layer of small random integers. The geometry is validated first, by the library, so a bad
    argument gets exactly the library's ``ValueError`` (``in_channels=6 is not divisible by groups=4``)."""
    per_group = channels // groups if isinstance(groups, int) and groups >= 1 else channels
    geom = ConvGeometry.from_shapes((batch, channels, image, image), (out_channels, per_group, kernel, kernel),
                                    stride=stride, padding=padding, groups=groups)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 10, size=geom.input_shape).astype(np.float64)  # pixels 0..9
    weight = rng.integers(-2, 3, size=geom.weight_shape).astype(np.float64)  # taps -2..2
    return Layer(geom, x, weight)


def window_mask(shape, top, left, geom):
    """(rows, cols) bools of a padded channel: True on the taps of the receptive field at (top, left)."""
    mask = np.zeros(shape, dtype=bool)
    mask[top : top + (geom.kernel_h - 1) * geom.dilation_h + 1 : geom.dilation_h,
         left : left + (geom.kernel_w - 1) * geom.dilation_w + 1 : geom.dilation_w] = True
    return mask


def _check_choice(name, value, count, what):
    if not 0 <= value < count:
        raise ValueError(f"{name}={value} is out of range: there are {count} {what} (0..{count - 1})")


# --------------------------------------------------------------------------------------- groups
@dataclass(frozen=True)
class GroupsPicture:
    """The grouped weight as stored, and as the block-diagonal dense weight it is.

    ``grouped_matrix`` (O, Cg*kh*kw): the stored weight, one row per filter (how im2col's products use it).
    ``dense_weight`` (O, C, kh, kw): the ungrouped convolution that computes the same thing; filter
    block g sees only channel block g, every other entry is zero. ``dense_matrix`` is it as (O, C*kh*kw).
    ``block_columns[g]``: the columns of block g, Cg*kh*kw for every g.
    """

    geom: ConvGeometry
    grouped_matrix: np.ndarray
    dense_weight: np.ndarray
    dense_matrix: np.ndarray
    block_columns: tuple

    def group_of_entry(self):
        """(O, C*kh*kw) ints: the group an entry of ``dense_matrix`` belongs to, -1 in the zero blocks."""
        geom, taps = self.geom, self.geom.kernel_h * self.geom.kernel_w
        owner = np.full(self.dense_matrix.shape, -1)
        for g, in_slice, out_slice in geom.group_slices():
            owner[out_slice, in_slice.start * taps : in_slice.stop * taps] = g
        return owner


def groups_picture(layer):
    """Cut the grouped weight into its G branch weights with the project's converter
    (``from_grouped_state``, the one that turns form (c) into form (b)), and put branch g's
    (Og, Cg, kh, kw) weight at filter block g, channel block g of a zero (O, C, kh, kw) weight.

    >>> picture = groups_picture(make_layer(channels=4, out_channels=4, groups=2, kernel=3, image=4))
    >>> picture.grouped_matrix.shape, picture.dense_matrix.shape, picture.block_columns
    ((4, 18), (4, 36), (18, 18))
    >>> picture.group_of_entry()[:, ::9]        # every 9th column: filters 0-1 see channels 0-1 only
    array([[ 0,  0, -1, -1],
           [ 0,  0, -1, -1],
           [-1, -1,  1,  1],
           [-1, -1,  1,  1]])
    """
    geom = layer.geom
    branches = from_grouped_state({"conv_conv.weight": layer.weight}, "b", geom.groups)
    dense = np.zeros((geom.out_channels, geom.in_channels, geom.kernel_h, geom.kernel_w), dtype=layer.weight.dtype)
    for g, in_slice, out_slice in geom.group_slices():
        dense[out_slice, in_slice] = branches[f"branches.{g}.conv_conv.weight"]
    return GroupsPicture(
        geom=geom,
        grouped_matrix=layer.weight.reshape(geom.out_channels, geom.col_rows),
        dense_weight=dense,
        dense_matrix=dense.reshape(geom.out_channels, -1),
        block_columns=(geom.col_rows,) * geom.groups,
    )


# --------------------------------------------------------------------------------------- im2col
@dataclass(frozen=True)
class Im2colPicture:
    """One receptive field, the column it becomes, the product, and both gradients, for group ``group``.

    ``padded`` (Cg, H+2ph, W+2pw): the group's channels of image 0, zero-padded, for display only.
    ``top``, ``left``: the receptive field's corner in ``padded``; ``column_index`` its column in
    ``cols`` (G, Cg*kh*kw, N*oh*ow), ``im2col``'s output; ``column`` = ``cols[group, :, column_index]``.
    ``output`` (G, Og, N*oh*ow): the library's forward output laid out as ``W_g @ cols_g`` gives it.
    ``grad_out`` (N, O, oh, ow), ``grad_input`` (N, C, H, W), ``grad_weight`` (O, Cg, kh, kw): the
    library's two gradients for that incoming gradient. ``patch_counts`` (H, W): ``col2im`` of ones on
    one channel of the group: how many receptive fields cover each pixel. In a student copy, the
    arrays of a task not yet done are None and ``unfinished`` holds its stub's message.
    """

    geom: ConvGeometry
    group: int
    position: tuple
    padded: np.ndarray
    top: int
    left: int
    cols: np.ndarray
    column_index: int
    column: np.ndarray
    weight_matrix: np.ndarray
    output: np.ndarray
    grad_out: np.ndarray
    grad_input: np.ndarray
    grad_weight: np.ndarray
    patch_counts: np.ndarray
    unfinished: tuple = ()


def _padded_group(layer, group):
    geom = layer.geom
    channels = layer.x[0, group * geom.in_channels_per_group : (group + 1) * geom.in_channels_per_group]
    return np.pad(channels, ((0, 0), (geom.pad_h, geom.pad_h), (geom.pad_w, geom.pad_w)))


def im2col_picture(layer, group=0, position=(0, 0), seed=1):
    """Everything the ``im2col`` pictures draw, for receptive field ``position`` = (row, col) of image 0.

    >>> layer = make_layer(channels=2, out_channels=2, groups=1, kernel=3, image=4)
    >>> picture = im2col_picture(layer, position=(0, 1))
    >>> picture.cols.shape, picture.column_index     # no padding: 2x2 output positions, (0, 1) is the 2nd
    ((1, 18, 4), 1)
    >>> picture.patch_counts                          # col2im of ones: the middle pixels lie in all 4 fields
    array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]])
    """
    geom = layer.geom
    _check_choice("group", group, geom.groups, "groups")
    _check_choice("position row", position[0], geom.out_h, "output rows")
    _check_choice("position column", position[1], geom.out_w, "output columns")
    cols = im2col(layer.x, geom)
    column_index = position[0] * geom.out_w + position[1]  # (n*oh + y)*ow + x with n = 0
    grad_out = np.random.default_rng(seed).integers(-2, 3, size=geom.output_shape).astype(np.float64)
    unfinished = []
    with conv_algorithm("im2col"):
        output = _unless_unfinished(unfinished, conv.conv2d_forward, layer.x, layer.weight, geom)
        grad_input = _unless_unfinished(unfinished, conv.conv2d_grad_input, grad_out, layer.weight, geom)
        grad_weight = _unless_unfinished(unfinished, conv.conv2d_grad_weight, layer.x, grad_out, geom)
    # (N, O, oh, ow) -> (G, Og, N*oh*ow): output pixel (n, y, x) is column (n*oh + y)*ow + x, as in cols.
    output_matrix = None if output is None else output.transpose(1, 0, 2, 3).reshape(
        geom.groups, geom.out_channels_per_group, geom.col_cols)
    counts = col2im(np.ones(geom.col_shape), geom)
    return Im2colPicture(
        geom=geom, group=group, position=tuple(position), padded=_padded_group(layer, group),
        top=position[0] * geom.stride_h, left=position[1] * geom.stride_w,
        cols=cols, column_index=column_index, column=cols[group, :, column_index],
        weight_matrix=layer.weight.reshape(geom.groups, geom.out_channels_per_group, geom.col_rows),
        output=output_matrix, grad_out=grad_out, grad_input=grad_input, grad_weight=grad_weight,
        patch_counts=counts[0, group * geom.in_channels_per_group], unfinished=tuple(dict.fromkeys(unfinished)),
    )


def _unless_unfinished(unfinished, kernel, *arrays):
    """``kernel(*arrays)``, or None in a student copy where it is still a stub: the column pictures
    need only task t04, so they are drawn while t05 and t06 are being written (``unfinished``
    collects the stubs' messages, which name the task)."""
    try:
        return kernel(*arrays)
    except NotImplementedError as error:
        unfinished.append(str(error))
        return None


def shape_equations(geom):
    """The three products of the im2col algorithm, with this layer's sizes (per group g)."""
    taps, pixels, Og = geom.col_rows, geom.col_cols, geom.out_channels_per_group
    return [
        f"forward      Y_g = W_g @ cols_g          ({Og}, {pixels}) = ({Og}, {taps}) @ ({taps}, {pixels})",
        f"grad input   dcols_g = W_g^T @ dY_g      ({taps}, {pixels}) = ({taps}, {Og}) @ ({Og}, {pixels}),"
        f"  then dx = col2im(dcols)  {geom.input_shape}",
        f"grad weight  dW_g = dY_g @ cols_g^T      ({Og}, {taps}) = ({Og}, {pixels}) @ ({pixels}, {taps})",
    ]


# ----------------------------------------------------------------------------------------- step
@dataclass(frozen=True)
class StepFrame:
    """The kernel at one output position of one filter: ``value = sum(window * weights)``.

    ``window`` (Cg, kh, kw) is that position's column of ``im2col``, folded back to the kernel's
    shape; ``weights`` (Cg, kh, kw) is the filter; ``value`` is the library's forward output there.
    """

    position: tuple
    top: int
    left: int
    window: np.ndarray
    weights: np.ndarray
    value: float

    def terms(self):
        """The products ``window * weights``, in the order im2col lays the taps out (c, i, j)."""
        return list(zip(self.window.ravel(), self.weights.ravel()))


def step_frames(layer, group=0, filter_in_group=0, positions=4):
    """The first ``positions`` output positions (row by row) of filter ``filter_in_group`` of group ``group``.

    Returns ``(padded, frames)``: the group's zero-padded channels of image 0 and one StepFrame each.
    """
    geom = layer.geom
    _check_choice("group", group, geom.groups, "groups")
    _check_choice("filter", filter_in_group, geom.out_channels_per_group, "filters in a group")
    if not 1 <= positions <= geom.out_h * geom.out_w:
        raise ValueError(f"positions={positions} must be between 1 and the {geom.out_h * geom.out_w} output "
                         f"positions ({geom.out_h}x{geom.out_w})")
    cols = im2col(layer.x, geom)
    with conv_algorithm("im2col"):
        output = conv.conv2d_forward(layer.x, layer.weight, geom)
    filter_index = group * geom.out_channels_per_group + filter_in_group
    kernel_shape = (geom.in_channels_per_group, geom.kernel_h, geom.kernel_w)
    frames = []
    for index in range(positions):
        row, col = divmod(index, geom.out_w)
        frames.append(StepFrame(
            position=(row, col), top=row * geom.stride_h, left=col * geom.stride_w,
            window=cols[group, :, index].reshape(kernel_shape), weights=layer.weight[filter_index],
            value=float(output[0, filter_index, row, col]),
        ))
    return _padded_group(layer, group), frames
