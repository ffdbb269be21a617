"""Evaluate a training checkpoint: ``python -m resnext_np.evaluate runs/synthetic-.../checkpoint.ckpt``.

Rebuilds the model the checkpoint was trained with, loads its weights, and prints the test
accuracy and a per-class table (accuracy and the class each one is most often mistaken for).
Reading a checkpoint cannot run code, and a corrupt one is refused (see ``resnext_np/checkpoint.py``).
"""

import argparse
import sys

import numpy as np

import minigrad as mg
from resnext_np import train as training
from resnext_np.checkpoint import CheckpointError, load_checkpoint
from resnext_np.model import build_model


def per_class_table(predictions, labels, class_names):
    """Rows of (class name, correct, total, accuracy, most frequent wrong guess or '-')."""
    rows = []
    for index, name in enumerate(class_names):
        mine = labels == index
        total = int(mine.sum())
        correct = int((predictions[mine] == index).sum())
        wrong = predictions[mine & (predictions != index)]
        confused = class_names[int(np.bincount(wrong, minlength=len(class_names)).argmax())] if wrong.size else "-"
        rows.append((name, correct, total, correct / total if total else float("nan"), confused))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m resnext_np.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="checkpoint.ckpt written by python -m resnext_np.train")
    parser.add_argument("--data-dir", default=None, help="where the data set lives (default: as in training)")
    parser.add_argument("--test-size", type=int, default=None, help="use only the first N test images")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for minigrad (minigrad.set_num_threads; default: every core)")
    options = parser.parse_args(argv)
    if options.threads is not None:
        if options.threads < 1:
            parser.error(f"--threads must be >= 1, got {options.threads}")
        mg.set_num_threads(min(options.threads, mg.kernels.threads.MAX_THREADS))
    try:
        checkpoint = load_checkpoint(options.checkpoint)
        args = argparse.Namespace(**checkpoint["args"])
        args.download = False
        if options.data_dir is not None:
            args.data_dir = options.data_dir
        args.test_size = options.test_size
        train_images, train_labels, test_images, test_labels, class_names = training.load_data(args)
    except (CheckpointError, training.UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model = build_model(args.model, num_classes=len(class_names))
    model.load_state_dict(checkpoint["model"])
    _, test_loader = training.make_loaders(args, train_images, train_labels, test_images, test_labels)
    loss, accuracy, predictions, labels = training.evaluate(model, test_loader)
    print(f"{args.model} on {args.dataset} after {checkpoint['epoch']} epochs: "
          f"test accuracy {accuracy:.4f} ({int((predictions == labels).sum())}/{len(labels)}), loss {loss:.4f}")
    width = max(len(str(name)) for name in class_names)
    print(f"{'class':<{width}}  correct  total  accuracy  most confused with")
    for name, correct, total, class_accuracy, confused in per_class_table(predictions, labels, class_names):
        print(f"{name:<{width}}  {correct:>7}  {total:>5}  {class_accuracy:>8.4f}  {confused}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
