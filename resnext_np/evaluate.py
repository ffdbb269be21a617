"""Evaluate a training checkpoint: ``python -m resnext_np.evaluate runs/synthetic-.../checkpoint.ckpt``.

Rebuilds the model the checkpoint was trained with, loads the weights the run reported (the moving
average of the weights when its recipe kept one), and prints the test accuracy (and, when the recipe
used flip test-time augmentation, the accuracy with it), a per-class table (accuracy and the class
each one is most often mistaken for), and writes the confusion matrix as ``confusion.png`` next to
the checkpoint. Reading a checkpoint cannot run code, and a corrupt one is refused (see
``resnext_np/training/checkpoint.py``); a file that is not a training checkpoint is a one-line error.
"""

import argparse
import os
import sys

import minigrad as mg
from resnext_np.model import PRESETS, build_model
from resnext_np.training import report, scoring
from resnext_np.training.checkpoint import CHECKPOINT_NAME, OPTIONS_ADDED_LATER, CheckpointError, load_checkpoint
from resnext_np.training.errors import UsageError
from resnext_np.training.loaders import load_data, make_loaders

CONFUSION_NAME = "confusion.png"
per_class_table = scoring.per_class_table


def _checked(checkpoint, path):
    """The checkpoint's arguments, or CheckpointError if they cannot rebuild the run's model and data."""
    args = checkpoint.get("args")
    if not isinstance(args, dict) or not {"model", "dataset", "batch_size"} <= set(args):
        raise CheckpointError(f"{path} is not a training checkpoint of this version (its arguments lack model/dataset)")
    if args["model"] not in PRESETS:
        raise CheckpointError(f"{path} names model {args['model']!r}, which is not a preset here")
    return argparse.Namespace(**{"flip_tta": False, "ema_decay": 0.0, **OPTIONS_ADDED_LATER, **args})


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m resnext_np.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="checkpoint.ckpt written by python -m resnext_np.train")
    parser.add_argument("--data-dir", default=None, help="where the data set lives (default: as in training)")
    parser.add_argument("--test-size", type=int, default=None, help="use only the first N test images (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for minigrad (default: every core)")
    parser.add_argument("--no-plot", action="store_true", help=f"do not write {CONFUSION_NAME} (default: write it)")
    options = parser.parse_args(argv)
    for name in ("threads", "test_size"):
        value = getattr(options, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if options.threads is not None:
        mg.set_num_threads(min(options.threads, mg.kernels.threads.MAX_THREADS))
    try:
        if os.path.isdir(options.checkpoint):
            raise CheckpointError(f"{options.checkpoint} is a folder; give the checkpoint file in it "
                                  f"({os.path.join(options.checkpoint, CHECKPOINT_NAME)})")
        checkpoint = load_checkpoint(options.checkpoint)
        args = _checked(checkpoint, options.checkpoint)
        args.download = False
        if options.data_dir is not None:
            args.data_dir = options.data_dir
        args.test_size = options.test_size
        train_images, train_labels, test_images, test_labels, class_names = load_data(args)
        model = build_model(args.model, num_classes=len(class_names), whitening_stem=args.whitening_stem)
        weights = checkpoint.get("ema") or None
        if weights and not weights["updates"]:  # a weight average that had not started yet
            weights = None
        model.load_state_dict(weights["average"] if weights else checkpoint["model"])
    except (CheckpointError, UsageError, RuntimeError, TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _, test_loader = make_loaders(args, train_images, train_labels, test_images, test_labels)
    loss, accuracy, predictions, labels = scoring.score(model, test_loader)
    which = report.weights_name(args) if weights else "weights"
    print(f"{args.model} on {args.dataset} after {checkpoint['epoch']} epochs ({which}): "
          f"test accuracy {accuracy:.4f} ({int((predictions == labels).sum())}/{len(labels)}), loss {loss:.4f}")
    if args.flip_tta:
        _, tta_accuracy, tta_predictions, _ = scoring.score(model, test_loader, flip_tta=True)
        print(f"with flip test-time augmentation (the recipe's): test accuracy {tta_accuracy:.4f} "
              f"({int((tta_predictions == labels).sum())}/{len(labels)})")
        predictions = tta_predictions
    width = max(len(str(name)) for name in class_names)
    if args.flip_tta:
        print("per class, with flip test-time augmentation:")
    print(f"{'class':<{width}}  correct  total  accuracy  most confused with")
    for name, correct, total, class_accuracy, confused in per_class_table(predictions, labels, class_names):
        print(f"{name:<{width}}  {correct:>7}  {total:>5}  {class_accuracy:>8.4f}  {confused}")
    if not options.no_plot:
        path = os.path.join(os.path.dirname(os.path.abspath(options.checkpoint)), CONFUSION_NAME)
        try:
            counts = scoring.confusion_matrix(predictions, labels, len(class_names))
            tta = ", with flip TTA" if args.flip_tta else ""
            scoring.plot_confusion(path, counts, class_names, f"{args.model} on {args.dataset}: confusion matrix{tta}")
            print(f"confusion matrix: {path}")
        except ImportError:
            print(f'matplotlib is not installed, so no {CONFUSION_NAME} (pip install "minigrad-resnext[plot]")')
        except OSError as error:
            print(f"error: could not write {path}: {error.strerror or error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
