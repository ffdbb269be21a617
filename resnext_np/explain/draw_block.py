"""Drawings of the ``forms`` diagrams and the ``algorithms`` bar chart.

The diagrams are built from the converted blocks' own layer list (``FormsPicture.layers``): each
convolution's box carries its real weight shape, so a different ``--cardinality`` or
``--base-width`` redraws them with different numbers.
"""

from resnext_np.explain.block_data import FOLLOWED_BY_BN_RELU
from resnext_np.explain.plotting import ZERO_GREY, fit, group_colour, pyplot, save

__all__ = ["form_stages", "box_label", "draw_forms", "draw_algorithms"]

MAX_BRANCHES = 4  # branches drawn side by side; a wider block shows the first three and "... more"
_MERGE = {"a": "sum of the C branches", "b": "concatenate the C branches"}
_TITLES = {"a": "(a) split-transform-merge", "b": "(b) early concatenation", "c": "(c) grouped convolution"}


def form_stages(layers, form):
    """The layers of one form as rows to draw, top to bottom: a row is ``[(name, shape, groups)]``
    (one box) or one box per branch, or a string (a merge step). Shortcut layers are left out."""
    stages, branch_rows = [], {}
    for name, shape, groups in layers:
        if name.startswith("shortcut"):
            continue
        if name.startswith("branches."):
            _, index, layer = name.split(".", 2)
            if layer not in branch_rows:
                branch_rows[layer] = []
                stages.append(branch_rows[layer])
            branch_rows[layer].append((name, shape, groups))
        else:
            if branch_rows and form in _MERGE and _MERGE[form] not in stages:
                stages.append(_MERGE[form])
            stages.append([(name, shape, groups)])
    if form == "a":
        stages.append(_MERGE["a"])
    return stages


def box_label(name, shape, groups):
    out_channels, per_group, kernel_h, kernel_w = shape
    layer = name.split(".")[-1]
    label = f"{layer} {kernel_h}x{kernel_w}\n{per_group * groups}->{out_channels}"
    if groups > 1:
        label += f", groups={groups}"
    label += f"\nweight {shape}"
    return label + "\nthen BN, ReLU" if layer in FOLLOWED_BY_BN_RELU else label


def _draw_form(axis, stages, picture, form):
    columns = min(picture.config["cardinality"], MAX_BRANCHES)
    middle = columns / 2
    height = len(stages) + 2  # x on top, one row per stage, then the merge with the shortcut
    axis.set_xlim(0, columns)
    axis.set_ylim(0, height + 0.3)
    axis.axis("off")
    axis.set_title(_TITLES[form], fontsize=10)
    axis.text(middle, height, f"x {picture.input_shape}", ha="center", va="center", fontsize=8)
    for row, stage in enumerate(stages):
        y = height - 1 - row
        axis.annotate("", (middle, y + 0.35), (middle, y + 0.75), arrowprops={"arrowstyle": "->", "color": "0.4"})
        if isinstance(stage, str):
            axis.text(middle, y, stage, ha="center", va="center", fontsize=8, style="italic")
            continue
        boxes = stage if len(stage) <= MAX_BRANCHES else stage[: MAX_BRANCHES - 1]
        width = columns / len(stage) if len(stage) <= MAX_BRANCHES else 1
        for i, (name, shape, groups) in enumerate(boxes):
            colour = group_colour(i, 0.6) if len(stage) > 1 else (group_colour(0, 0.8) if groups > 1 else ZERO_GREY)
            axis.text(width * (i + 0.5), y, box_label(name, shape, groups), ha="center", va="center",
                      fontsize=6 if len(stage) > 2 else 7, bbox={"boxstyle": "round", "facecolor": colour})
        if len(boxes) < len(stage):
            axis.text(columns - 0.5, y, f"... {len(stage) - len(boxes)} more\nbranches like these",
                      ha="center", va="center", fontsize=7)
    shortcut = [name for name, _, _ in picture.layers[form] if name.startswith("shortcut")]
    merge = "BN, + projection shortcut, ReLU" if shortcut else "BN, + x (identity shortcut), ReLU"
    axis.annotate("", (middle, 1.35), (middle, 1.75), arrowprops={"arrowstyle": "->", "color": "0.4"})
    axis.text(middle, 1, merge, ha="center", va="center", fontsize=7)
    axis.text(middle, 0.4, f"y {picture.output_shape}", ha="center", va="center", fontsize=8)


def draw_forms(picture, folder):
    """forms.png: the three forms side by side, and the measured largest output difference."""
    plt = pyplot()
    stages = {form: form_stages(picture.layers[form], form) for form in ("a", "b", "c")}
    rows = max(len(s) for s in stages.values()) + 2
    columns = min(picture.config["cardinality"], MAX_BRANCHES)
    figure, axes = plt.subplots(1, 3, figsize=fit(4.5 + 2.6 * columns, 1.2 + 0.95 * rows),
                                gridspec_kw={"width_ratios": [columns, columns, 1.4]})
    for axis, form in zip(axes, ("a", "b", "c")):
        _draw_form(axis, stages[form], picture, form)
    config = ", ".join(f"{key}={value}" for key, value in picture.config.items())
    figure.suptitle(f"{config}\nconverted from one set of weights (resnext_np.convert); largest |output difference|: "
                    f"(a) vs (c) {picture.differences['a']:.2g}, (b) vs (c) {picture.differences['b']:.2g} (float64)",
                    fontsize=9)
    return [save(figure, folder, "forms.png")]


def draw_algorithms(picture, folder):
    """algorithms.png: the measured time of each algorithm that applies, auto's pick in colour."""
    plt = pyplot()
    names = list(picture.milliseconds)
    figure, axis = plt.subplots(figsize=(8, 1.8 + 0.45 * len(names) + 0.2 * len(picture.reasons)))
    colours = [group_colour(0) if name == picture.choice else ZERO_GREY for name in names]
    axis.barh(names, [picture.milliseconds[name] for name in names], color=colours)
    for i, name in enumerate(names):
        label = f" {picture.milliseconds[name]:.2f} ms" + ("  (auto)" if name == picture.choice else "")
        axis.text(picture.milliseconds[name], i, label, va="center", fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("forward + grad input + grad weight, ms (float32, best of the repeats, measured on this machine)")
    geom = picture.geom
    refused = "; ".join(f"{name} cannot: {reason}" for name, reason in picture.refused.items())
    axis.set_title(f"input {geom.input_shape}, weight {geom.weight_shape}, groups {geom.groups}, stride "
                   f"{geom.stride_h}, padding {geom.pad_h}\nauto picks {picture.choice}: "
                   + "\n".join(picture.reasons[1:])
                   + (f"\n{refused}" if refused else ""), fontsize=8)
    axis.margins(x=0.3)
    return [save(figure, folder, "algorithms.png")]
