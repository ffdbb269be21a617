"""The run's metric files: ``metrics.jsonl`` (one strict JSON line per epoch) and ``curves.png``."""

import json
import math
import os

import minigrad as mg

METRICS_NAME = "metrics.jsonl"
PLOT_NAME = "curves.png"


def json_line(row):
    """One line of strict JSON: a value that is not a finite number (NaN, inf) is written as null."""
    clean = {key: (None if isinstance(value, float) and not math.isfinite(value) else value) for key, value in row.items()}
    return json.dumps(clean, allow_nan=False) + "\n"


def write_metrics(out_dir, history):
    lines = "".join(json_line(row) for row in history)
    mg.serialization.write_atomically(os.path.join(out_dir, METRICS_NAME), lambda stream: stream.write(lines.encode()))


def plot_curves(out_dir, history, title=None):
    """Write curves.png: loss (log scale), accuracy, and the learning rate, by epoch.

    Returns a note for the user when matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
    except ImportError:
        return 'matplotlib is not installed, so no curves.png (pip install "minigrad-resnext[plot]")'
    epochs = [row["epoch"] for row in history]

    def series(key):
        return [row[key] if row.get(key) is not None else float("nan") for row in history]

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    loss_axis.plot(epochs, series("train_loss"), "o-", label="train", clip_on=False)
    loss_axis.plot(epochs, series("test_loss"), "o-", label="test", clip_on=False)
    loss_axis.set_yscale("log")
    # Labels at 1, 2 and 5 times a power of ten, written 0.5 and 2 (not 5x10^-1); the other ticks
    # unlabelled, so that no two labels collide ("9" beside "10").
    loss_axis.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    loss_axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    loss_axis.yaxis.set_minor_formatter(NullFormatter())
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy (log scale)", title="loss")
    accuracy_axis.plot(epochs, series("train_acc"), "o-", label="train", clip_on=False)
    accuracy_axis.plot(epochs, series("test_acc"), "o-", label="test", clip_on=False)
    tta = [row.get("test_acc_flip_tta") for row in history]
    if tta[-1] is not None:
        accuracy_axis.plot([epochs[-1]], [tta[-1]], "*", markersize=11, label="test, flip TTA", clip_on=False)
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    rate_axis = accuracy_axis.twinx()
    # The rate at each epoch's first and last step, drawn across the epoch: the warm-up shows.
    rate_x, rate_y = [], []
    for row in history:
        rate_x += [row["epoch"] - 1, row["epoch"]]
        rate_y += [row.get("lr_start", row["lr"]), row["lr"]]
    rate_axis.plot(rate_x, rate_y, "--", color="grey", label="learning rate")
    rate_axis.set_ylabel("learning rate", color="grey")
    rate_axis.set_ylim(bottom=0)
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlim(min(epochs) - 1.1, max(epochs) + 0.3)
        axis.grid(alpha=0.3)
    loss_axis.legend()
    lines = accuracy_axis.get_legend_handles_labels()
    rate_lines = rate_axis.get_legend_handles_labels()
    # Below the plot: inside, it covered the learning rate as it decays to zero at the right.
    accuracy_axis.legend(lines[0] + rate_lines[0], lines[1] + rate_lines[1], loc="upper center", fontsize=8,
                         bbox_to_anchor=(0.5, -0.16), ncol=4, frameon=False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    mg.serialization.write_atomically(os.path.join(out_dir, PLOT_NAME),
                                      lambda stream: figure.savefig(stream, format="png", dpi=100))
    plt.close(figure)
    return None
