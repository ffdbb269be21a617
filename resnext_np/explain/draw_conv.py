"""Drawings of the convolution pictures: ``groups``, ``im2col`` and the ``step`` frames.

Each function takes a record from :mod:`resnext_np.explain.conv_data` and writes PNGs; it lays
out arrays the library computed and adds labels, nothing more.
"""

import numpy as np

from resnext_np.explain.plotting import draw_matrix, fit, pyplot, save
from resnext_np.explain.conv_data import window_mask

__all__ = ["draw_groups", "draw_im2col", "draw_step_frame"]

MAX_TERMS = 36  # products a step frame writes out (four lines)
MAX_CHANNELS = 4  # channels of a group a step frame draws


def draw_groups(picture, folder):
    """groups.png: the stored (O, Cg*kh*kw) weight, and the (O, C*kh*kw) block-diagonal weight it is."""
    plt = pyplot()
    geom = picture.geom
    owner = picture.group_of_entry()
    row_owner = np.repeat(np.arange(geom.groups), geom.out_channels_per_group)[:, None]
    width = picture.dense_matrix.shape[1]
    # One above the other (not side by side): a (O, C*kh*kw) matrix is already many times wider than tall.
    figure, (stored_axis, dense_axis) = plt.subplots(
        2, 1, figsize=fit(2.5 + 0.2 * width, 2 * (1.5 + 0.25 * geom.out_channels)))
    draw_matrix(stored_axis, picture.grouped_matrix, np.broadcast_to(row_owner, picture.grouped_matrix.shape),
                title=f"stored grouped weight {geom.weight_shape}\nas ({geom.out_channels}, {geom.col_rows}): "
                      f"{picture.grouped_matrix.size} numbers")
    draw_matrix(dense_axis, picture.dense_matrix, owner,
                title=f"the same layer as a dense weight ({geom.out_channels}, {geom.in_channels}, {geom.kernel_h}, "
                      f"{geom.kernel_w}) = ({geom.out_channels}, {width}): block-diagonal, grey blocks are zero")
    start = 0
    for g, columns in enumerate(picture.block_columns):
        dense_axis.text(start + columns / 2 - 0.5, geom.out_channels - 0.1, f"group {g}: {columns} columns",
                        ha="center", va="top", fontsize=8)
        start += columns
    stored_axis.set_ylabel("filter (output channel)")
    return [save(figure, folder, "groups.png")]


def _draw_padded(axis, padded_channel, geom, mask, group, title):
    """One zero-padded channel: image pixels in the group's colour, padding grey, the field framed."""
    owner = np.full(padded_channel.shape, group)
    owner[: geom.pad_h], owner[padded_channel.shape[0] - geom.pad_h :] = -1, -1
    owner[:, : geom.pad_w], owner[:, padded_channel.shape[1] - geom.pad_w :] = -1, -1
    draw_matrix(axis, padded_channel, owner, highlight=mask, title=title, fontsize=8, grey_numbers=True)


def draw_im2col(picture, equations, folder):
    """im2col_column.png, im2col_product.png and im2col_gradients.png for one receptive field.

    In a student copy, the product waits for task t05 and the gradient panels for t06; the column
    and the patch counts need only t04."""
    paths = [_draw_column(picture, folder)]
    if picture.output is not None:
        paths.append(_draw_product(picture, folder))
    paths.append(_draw_gradients(picture, folder))
    return paths


def _draw_column(picture, folder):
    """The receptive field in every channel of the group, and the column it becomes."""
    plt = pyplot()
    geom, g = picture.geom, picture.group
    mask = window_mask(picture.padded.shape[1:], picture.top, picture.left, geom)
    cols = picture.cols[g]  # group g's row block of the (G*Cg*kh*kw, N*oh*ow) column matrix
    channels = len(picture.padded)
    figure = plt.figure(figsize=fit(3 + 2.6 * channels + 0.24 * geom.col_cols, 1.2 + 0.22 * geom.col_rows))
    grid = figure.add_gridspec(1, channels + 1, width_ratios=[picture.padded.shape[2]] * channels + [geom.col_cols])
    for c in range(channels):
        _draw_padded(figure.add_subplot(grid[0, c]), picture.padded[c], geom, mask, g,
                     f"channel {g * geom.in_channels_per_group + c} (padded)")
    cols_axis = figure.add_subplot(grid[0, channels])
    draw_matrix(cols_axis, cols, np.full(cols.shape, g), highlight=_column(cols.shape, picture.column_index),
                fontsize=6, title=f"cols[{g}]: group {g}'s {cols.shape} block of im2col(x) {geom.col_shape};\n"
                                  f"the field of output {picture.position} is column {picture.column_index}")
    cols_axis.set_ylabel("row = (c*kh + i)*kw + j")
    cols_axis.set_xlabel("column = (n*oh + y)*ow + x")
    return save(figure, folder, "im2col_column.png")


def _draw_product(picture, folder):
    """The forward product of group g, with its shape equation."""
    plt = pyplot()
    g = picture.group
    weight, cols, output = picture.weight_matrix[g], picture.cols[g], picture.output[g]
    size = fit(4 + 0.22 * (weight.shape[1] + 2 * cols.shape[1]), 1.5 + 0.16 * cols.shape[0])
    figure, axes = plt.subplots(1, 3, figsize=size,
                                gridspec_kw={"width_ratios": [weight.shape[1], cols.shape[1], output.shape[1]]})
    draw_matrix(axes[0], weight, np.full(weight.shape, g), title=f"W_g {weight.shape}", fontsize=6)
    draw_matrix(axes[1], cols, np.full(cols.shape, g), highlight=_column(cols.shape, picture.column_index),
                title=f"@   cols_g {cols.shape}", fontsize=5)
    draw_matrix(axes[2], output, np.full(output.shape, g), highlight=_column(output.shape, picture.column_index),
                title=f"=   Y_g {output.shape}", fontsize=5)
    figure.suptitle(f"group {g}:  Y_g = W_g @ cols_g    {output.shape} = {weight.shape} @ {cols.shape}\n"
                    f"(Y_g is the library's conv2d output; column {picture.column_index}, output pixel "
                    f"{picture.position}, is W_g @ the framed column)", fontsize=10, y=1.12)
    return save(figure, folder, "im2col_product.png")


def _draw_gradients(picture, folder):
    """col2im adds overlapping patches back, so a pixel sums as many column entries as receptive
    fields cover it: the patch counts, next to dx and dW."""
    plt = pyplot()
    geom, g = picture.geom, picture.group
    first_channel, first_filter = g * geom.in_channels_per_group, g * geom.out_channels_per_group
    Og, taps, pixels = geom.out_channels_per_group, geom.col_rows, geom.col_cols
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    draw_matrix(axes[0], picture.patch_counts, np.full(picture.patch_counts.shape, g),
                title="patch counts = col2im(ones)\n(receptive fields covering each pixel)", fontsize=9)
    titles = (f"dx, channel {first_channel}: col2im(W_g^T @ dY_g) adds\nthe overlapping patches back; "
              f"({taps}, {pixels}) = ({taps}, {Og}) @ ({Og}, {pixels})",
              f"dW_g = dY_g @ cols_g^T, filter {first_filter}\n"
              f"({Og}, {taps}) = ({Og}, {pixels}) @ ({pixels}, {taps}); channels stacked")
    if picture.grad_input is None or picture.grad_weight is None:
        for axis, title in zip(axes[1:], titles):
            axis.axis("off")
            axis.set_title(title + "\n\nnot computed yet:\n" + "\n".join(picture.unfinished), fontsize=8)
    else:
        draw_matrix(axes[1], picture.grad_input[0, first_channel], np.full(picture.patch_counts.shape, g),
                    title=titles[0], fontsize=8)
        # (Cg, kh, kw) -> (Cg*kh, kw): the filter's channels one above the other
        filter_taps = picture.grad_weight[first_filter].reshape(-1, geom.kernel_w)
        draw_matrix(axes[2], filter_taps, np.full(filter_taps.shape, g), fontsize=9, title=titles[1])
    return save(figure, folder, "im2col_gradients.png")


def _column(shape, index):
    """A (rows, cols) mask selecting one column."""
    mask = np.zeros(shape, dtype=bool)
    mask[:, index] = True
    return mask


def draw_step_frame(padded, frame, geom, group, filter_index, folder, index):
    """step_NN.png: the kernel at one position over the padded channels, and the sum it computes.
    A group of more than ``MAX_CHANNELS`` channels shows its first ones (the sum still covers all)."""
    plt = pyplot()
    mask = window_mask(padded.shape[1:], frame.top, frame.left, geom)
    channels = min(len(padded), MAX_CHANNELS)
    figure, axes = plt.subplots(1, 2 * channels, figsize=fit(4.8 * channels, 4.2), squeeze=False,
                                gridspec_kw={"width_ratios": [padded.shape[2], geom.kernel_w] * channels})
    axes = axes[0]
    for c in range(channels):
        _draw_padded(axes[2 * c], padded[c], geom, mask, group, f"padded channel {c} of group {group}")
        draw_matrix(axes[2 * c + 1], frame.weights[c], np.full(frame.weights[c].shape, group), fontsize=9,
                    title=f"filter {filter_index},\nchannel {c}")
    if channels < len(padded):
        figure.suptitle(f"channels 0..{channels - 1} of the group's {len(padded)} shown", fontsize=9)
    terms = [f"{x:g}*{w:g}" if w >= 0 else f"{x:g}*({w:g})" for x, w in frame.terms()]
    if len(terms) > MAX_TERMS:  # the terminal version writes every term
        terms = terms[: MAX_TERMS - 9] + [f"... ({len(terms)} products in all)"]
    lines = [" + ".join(terms[start : start + 9]) for start in range(0, len(terms), 9)]
    figure.text(0.5, 0.02, f"y[{filter_index}, {frame.position[0]}, {frame.position[1]}] = " + "\n  + ".join(lines)
                + f"  =  {frame.value:g}", ha="center", va="bottom", fontsize=9, family="monospace")
    figure.subplots_adjust(bottom=0.12 + 0.05 * len(lines))
    return save(figure, folder, f"step_{index:02d}.png")
