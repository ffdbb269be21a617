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


def plot_curves(out_dir, history):
    """Write curves.png; returns a note for the user when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return 'matplotlib is not installed, so no curves.png (pip install "minigrad-resnext[plot]")'
    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, [row["train_loss"] for row in history], "o-", label="train")
    loss_axis.plot(epochs, [row["test_loss"] for row in history], "o-", label="test")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    accuracy_axis.plot(epochs, [row["train_acc"] for row in history], "o-", label="train")
    accuracy_axis.plot(epochs, [row["test_acc"] for row in history], "o-", label="test")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    for axis in (loss_axis, accuracy_axis):
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    mg.serialization.write_atomically(os.path.join(out_dir, PLOT_NAME),
                                      lambda stream: figure.savefig(stream, format="png", dpi=100))
    plt.close(figure)
    return None
