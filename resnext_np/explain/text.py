"""Terminal versions of the pictures: the same arrays as the PNGs, laid out in characters.

Every function takes a picture record from ``conv_data`` / ``block_data`` and returns a string;
nothing here computes a number the library did not (a sum is only written out term by term).
"""

from resnext_np.explain.block_data import FOLLOWED_BY_BN_RELU
from resnext_np.explain.conv_data import window_mask

__all__ = ["grid", "groups_text", "im2col_text", "step_text", "forms_text", "algorithms_text"]


def _number(value):
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def _factor(value):
    """A factor of a written-out product: negative ones in parentheses, ``8*(-1)``."""
    return _number(value) if value >= 0 else f"({_number(value)})"


def grid(array, marked=None):
    """A 2-D array as aligned columns; cells where ``marked`` is True are shown as ``[v]``."""
    cells = [[_number(value) for value in row] for row in array]
    width = max(len(cell) for row in cells for cell in row)
    lines = []
    for r, row in enumerate(cells):
        parts = []
        for c, cell in enumerate(row):
            inside = marked is not None and marked[r][c]
            parts.append(f"[{cell:>{width}}]" if inside else f" {cell:>{width}} ")
        lines.append("".join(parts).rstrip())
    return "\n".join(lines)


def groups_text(picture):
    geom = picture.geom
    taps = geom.kernel_h * geom.kernel_w
    owner = picture.group_of_entry()
    lines = [f"grouped weight {geom.weight_shape} = (O, C/G, kh, kw) with G={geom.groups}: "
             f"{picture.grouped_matrix.size} numbers, stored as a ({geom.out_channels}, {geom.col_rows}) matrix",
             f"the same layer as a dense weight ({geom.out_channels}, {geom.in_channels}, {geom.kernel_h}, "
             f"{geom.kernel_w}): a ({geom.out_channels}, {geom.in_channels * taps}) block-diagonal matrix, "
             f"{picture.dense_matrix.size} numbers, {int((owner < 0).sum())} of them forced to zero",
             "block columns: " + ", ".join(f"group {g}: {n}" for g, n in enumerate(picture.block_columns)),
             "", "block-diagonal matrix (rows: filters; '.' = a zero block; '|' = a block border):"]
    block = geom.col_rows
    for row, owner_row in zip(picture.dense_matrix, owner):
        cells = ["." if g < 0 else _number(v) for v, g in zip(row, owner_row)]
        pieces = [" ".join(f"{cell:>2}" for cell in cells[start : start + block])
                  for start in range(0, len(cells), block)]
        lines.append(" | ".join(pieces))
    return "\n".join(lines)


def im2col_text(picture, equations):
    geom, g = picture.geom, picture.group
    mask = window_mask(picture.padded.shape[1:], picture.top, picture.left, geom)
    lines = [f"group {g}: input channels {g * geom.in_channels_per_group}..{(g + 1) * geom.in_channels_per_group - 1}"
             f" of image 0, zero-padded by ({geom.pad_h}, {geom.pad_w}); [ ] = the receptive field of output "
             f"position {picture.position}"]
    for c, channel in enumerate(picture.padded):
        lines += [f"channel {g * geom.in_channels_per_group + c}:", grid(channel, mask)]
    lines += ["", f"cols = im2col(x): shape {geom.col_shape} = (G, Cg*kh*kw, N*oh*ow); the field is column "
              f"{picture.column_index} of group {g}'s row block:",
              "  " + " ".join(_number(v) for v in picture.column), "",
              "the products, per group g:"] + ["  " + line for line in equations]
    lines += [f"not computed yet: {message}" for message in picture.unfinished]
    lines += ["", f"patch counts = col2im(ones): how many receptive fields cover each pixel ({geom.in_h}x{geom.in_w}):",
              grid(picture.patch_counts)]
    return "\n".join(lines)


def step_text(padded, frame, geom, filter_index):
    mask = window_mask(padded.shape[1:], frame.top, frame.left, geom)
    lines = [f"output position {frame.position} of filter {filter_index}: the kernel covers rows "
             f"{frame.top}..{frame.top + geom.kernel_h - 1}, columns {frame.left}..{frame.left + geom.kernel_w - 1}"
             " of the padded input"]
    for c, channel in enumerate(padded):
        lines += [f"padded channel {c} of the group:", grid(channel, mask)]
    terms = " + ".join(f"{_number(x)}*{_factor(w)}" for x, w in frame.terms())
    lines.append(f"y[{filter_index}, {frame.position[0]}, {frame.position[1]}] = {terms} = {_number(frame.value)}")
    return "\n".join(lines)


def forms_text(picture):
    config = picture.config
    lines = [f"block: {', '.join(f'{key}={value}' for key, value in config.items())}; input {picture.input_shape}"
             f" -> output {picture.output_shape}"]
    titles = {"a": "(a) split-transform-merge: C branches, summed",
              "b": "(b) early concatenation: C branches up to the 3x3, one 1x1 on the concatenation",
              "c": "(c) grouped convolution"}
    for form in ("a", "b", "c"):
        lines += ["", titles[form]]
        for name, shape, groups in picture.layers[form]:
            after = "  then BN, ReLU" if name.split(".")[-1] in FOLLOWED_BY_BN_RELU else ""
            lines.append(f"  {name:<28} weight {str(shape):<18} groups={groups}{after}")
    lines += ["", "converted from form (c)'s weights with resnext_np.convert; largest |difference| of the outputs:",
              f"  (a) vs (c): {picture.differences['a']:.3g}    (b) vs (c): {picture.differences['b']:.3g}"]
    return "\n".join(lines)


def algorithms_text(picture):
    geom = picture.geom
    lines = [f"geometry: input {geom.input_shape}, weight {geom.weight_shape}, groups {geom.groups}, "
             f"stride ({geom.stride_h}, {geom.stride_w}), padding ({geom.pad_h}, {geom.pad_w})",
             f"auto picks: {picture.choice}"] + ["  " + step for step in picture.reasons]
    lines.append("forward + grad input + grad weight, float32, best of the repeats (measured now, on this machine):")
    for name, ms in picture.milliseconds.items():
        lines.append(f"  {name:<10} {ms:9.2f} ms{'   <- auto' if name == picture.choice else ''}")
    for name, reason in picture.refused.items():
        lines.append(f"  {name:<10} cannot: {reason}")
    return "\n".join(lines)
