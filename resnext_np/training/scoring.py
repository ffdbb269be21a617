"""Scoring a model on a test set: accuracy, loss, flip test-time augmentation, confusion matrix.

Flip test-time augmentation (TTA): a model trained with random horizontal flips has seen every
image both ways round, so averaging its class probabilities over the image and its mirror is a
second opinion for the price of one more forward pass:

    p(class | x) = (softmax(f(x)) + softmax(f(flip(x)))) / 2
"""

import numpy as np

import minigrad as mg


def class_probabilities(model, images, flip_tta=False):
    """Softmax outputs of ``model`` (in its current mode) for a float batch, without gradients."""
    with mg.no_grad():
        probabilities = mg.functional.softmax(model(mg.tensor(images)), dim=1).data
        if flip_tta:
            mirrored = np.ascontiguousarray(images[..., ::-1])
            probabilities = (probabilities + mg.functional.softmax(model(mg.tensor(mirrored)), dim=1).data) / 2
    return probabilities


def score(model, loader, flip_tta=False):
    """(mean loss, accuracy, predictions, labels) over a loader, in eval mode.

    ``resnext_np/fit.py``'s ``evaluate`` is the taught version of this (loss and accuracy only);
    this one also averages flipped images and returns what a confusion matrix needs.

    The loss is the cross-entropy of the (averaged) probabilities: -mean log p(label).
    """
    model.eval()
    total_loss, predictions, labels_seen = 0.0, [], []
    for images, labels in loader:
        probabilities = class_probabilities(model, images, flip_tta)
        picked = probabilities[np.arange(len(labels)), labels]
        total_loss += float(-np.log(np.maximum(picked, np.finfo(probabilities.dtype).tiny)).sum())
        predictions.append(probabilities.argmax(axis=1))
        labels_seen.append(labels)
    predictions, labels = np.concatenate(predictions), np.concatenate(labels_seen)
    return total_loss / len(labels), float((predictions == labels).mean()), predictions, labels


def confusion_matrix(predictions, labels, num_classes):
    """counts[true, predicted]

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def per_class_table(predictions, labels, class_names):
    """Rows of (class name, correct, total, accuracy, most frequent wrong guess or '-')."""
    counts = confusion_matrix(predictions, labels, len(class_names))
    rows = []
    for index, name in enumerate(class_names):
        total, correct = int(counts[index].sum()), int(counts[index, index])
        wrong = counts[index].copy()
        wrong[index] = 0
        confused = class_names[int(wrong.argmax())] if wrong.any() else "-"
        rows.append((name, correct, total, correct / total if total else float("nan"), confused))
    return rows


def plot_confusion(path, counts, class_names, title):
    """Write the confusion matrix as a PNG (rows: true class; each row normalised to 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(7, 6))
    image = axis.imshow(counts / totals, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, [str(n) for n in class_names], rotation=45, ha="right")
    axis.set_yticks(ticks, [str(n) for n in class_names])
    for row in range(len(class_names)):
        for col in range(len(class_names)):
            if counts[row, col]:
                share = counts[row, col] / totals[row, 0]
                axis.text(col, row, str(counts[row, col]), ha="center", va="center", fontsize=7,
                          color="white" if share > 0.5 else "black")
    axis.set(xlabel="predicted class", ylabel="true class", title=title)
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of the true class")
    figure.tight_layout()
    mg.serialization.write_atomically(path, lambda stream: figure.savefig(stream, format="png", dpi=100))
    plt.close(figure)
