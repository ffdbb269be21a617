"""Train a CIFAR ResNeXt on the CPU: ``python -m resnext_np.train``.

With no arguments it trains the smallest preset on the built-in synthetic image set (no
network needed).  Everything a run produces goes into ``--out`` (default ``runs/<dataset>-<model>``):

* ``checkpoint.ckpt`` model, optimiser, scheduler, loader and RNG state, arguments, metric history;
  written atomically after every epoch (and on Ctrl-C or SIGTERM), so ``--resume`` continues exactly
  where the run stopped: an interrupted run ends with the same weights and metrics as an
  uninterrupted one. Its format (``minigrad.save``) holds only data and a checksum: loading it
  cannot run code (see ``resnext_np/checkpoint.py``).
* ``metrics.jsonl``   one JSON line per epoch: train loss/accuracy, test loss/accuracy, lr, seconds.
* ``curves.png``      loss and accuracy curves (needs matplotlib: ``pip install "minigrad-resnext[plot]"``).

The recipe follows the paper's CIFAR one, scaled to the number of epochs: SGD with Nesterov
momentum 0.9, learning rate 0.1 per 128 images in a batch, weight decay 5e-4, the learning rate
divided by 10 at 50% and 75% of training (or a cosine schedule), random-crop + flip augmentation.

One run at a time per folder (``resnext_np/run_folder.py`` locks it). Training stops at the first
non-finite loss, gradient, weight or BatchNorm statistic and names the layer where it started
(``resnext_np/divergence.py``); the checkpoint on disk is then the last finite one.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

import minigrad as mg
from minigrad.data import (ArrayDataset, Compose, DataLoader, Normalize, RandomCrop,
                           RandomHorizontalFlip, ToFloat)
from resnext_np import data as datasets
from resnext_np import divergence
from resnext_np.checkpoint import (CHECKPOINT_NAME, CheckpointError, existing_checkpoint, load_for_resume,
                                   save_checkpoint)
from resnext_np.metrics import METRICS_NAME, PLOT_NAME, plot_curves, write_metrics
from resnext_np.model import DEFAULT_PRESET, PRESETS, build_model
from resnext_np.run_folder import RunFolder, RunFolderError
from resnext_np.stop import StopFlag


class UsageError(Exception):
    """A mistake in the command line or the files it names: reported in one line, exit code 2."""


class TrainingDiverged(Exception):
    """A loss, gradient, weight or buffer became NaN or infinite: reported with the step and layer, exit code 3."""


# ----------------------------------------------------------------------------- arguments
def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m resnext_np.train",
        description="Train a CIFAR ResNeXt with minigrad on the CPU.",
    )
    parser.add_argument("--dataset", choices=["synthetic", "cifar10", "cifar100"], default="synthetic")
    parser.add_argument("--data-dir", default=None, help="folder holding the CIFAR archive or its extracted folder "
                        f"(default: ${datasets.DATA_DIR_ENV} or {datasets.default_data_dir()})")
    parser.add_argument("--download", action="store_true", help="download the CIFAR archive if it is missing")
    parser.add_argument("--model", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    parser.add_argument("--epochs", type=int, default=None, help="default: 4 on synthetic, 300 on CIFAR (the paper's)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=None, help="default: 0.1 * batch_size / 128")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--schedule", choices=["multistep", "cosine"], default="multistep")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output folder (default: runs/<dataset>-<model>)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for minigrad (minigrad.set_num_threads; default: every core)")
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--test-size", type=int, default=None, help="use only the first N test images")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (one line per epoch instead)")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 4 if args.dataset == "synthetic" else 300
    if args.lr is None:
        args.lr = 0.1 * args.batch_size / 128
    if args.out is None:
        args.out = os.path.join("runs", f"{args.dataset}-{args.model}")
    for name in ("epochs", "batch_size", "train_size", "test_size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(f"--lr must be a finite number > 0, got {args.lr}")
    if not (math.isfinite(args.momentum) and 0 <= args.momentum < 1):
        parser.error(f"--momentum must be a finite number in [0, 1), got {args.momentum}")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        parser.error(f"--weight-decay must be a finite number >= 0, got {args.weight_decay}")
    if args.nesterov and args.momentum == 0:
        parser.error("--nesterov needs --momentum > 0 (or pass --no-nesterov)")
    return args


# ---------------------------------------------------------------------------------- data
def load_data(args):
    """(train_images, train_labels, test_images, test_labels, class_names): uint8 NCHW + int64."""
    try:
        train, test = datasets.load_dataset(args.dataset, root=args.data_dir, download=args.download,
                                            progress=not args.no_progress)
    except (datasets.DatasetError, OSError) as error:
        raise UsageError(str(error)) from None
    train_images, train_labels = train.images[: args.train_size], train.labels[: args.train_size]
    test_images, test_labels = test.images[: args.test_size], test.labels[: args.test_size]
    return train_images, train_labels, test_images, test_labels, train.class_names


def make_loaders(args, train_images, train_labels, test_images, test_labels):
    """Per-channel statistics come from the training images, so every data set is handled alike."""
    scaled = train_images.astype(np.float64) / 255.0
    mean, std = scaled.mean(axis=(0, 2, 3)), scaled.std(axis=(0, 2, 3)) + 1e-8
    train_transform = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(0.5), ToFloat(), Normalize(mean, std)])
    test_transform = Compose([ToFloat(), Normalize(mean, std)])
    train_loader = DataLoader(ArrayDataset(train_images, train_labels), batch_size=args.batch_size,
                              shuffle=True, seed=args.seed, transform=train_transform)
    test_loader = DataLoader(ArrayDataset(test_images, test_labels), batch_size=256, transform=test_transform, seed=0)
    return train_loader, test_loader


# ----------------------------------------------------------------------- optimisation
def make_optimizer(args, model):
    optimizer = mg.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                             nesterov=args.nesterov, weight_decay=args.weight_decay)
    if args.schedule == "cosine":
        scheduler = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    else:
        milestones = sorted({max(1, round(args.epochs * 0.5)), max(1, round(args.epochs * 0.75))})
        scheduler = mg.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    return optimizer, scheduler


def evaluate(model, loader):
    """(mean loss, accuracy, per-class (correct, total)) over a loader, in eval mode, without grad."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    predictions, labels_seen = [], []
    with mg.no_grad():
        for images, labels in loader:
            logits = model(mg.tensor(images))
            total_loss += mg.functional.cross_entropy(logits, labels).item() * len(labels)
            predicted = logits.data.argmax(axis=1)
            correct += int((predicted == labels).sum())
            seen += len(labels)
            predictions.append(predicted)
            labels_seen.append(labels)
    return total_loss / seen, correct / seen, np.concatenate(predictions), np.concatenate(labels_seen)


# ------------------------------------------------------------------------- the loop
def _progress(iterable, total, description, enabled, leave, unit):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, leave=leave, unit=unit, dynamic_ncols=True)


def run(args):
    """Train (or resume) according to ``args``; returns the metric history (a list of dicts)."""
    if args.threads is not None:
        mg.set_num_threads(min(args.threads, mg.kernels.threads.MAX_THREADS))
    with RunFolder(args.out) as folder:
        if folder.removed_temporaries:
            print(f"removed {len(folder.removed_temporaries)} unfinished temporary file(s) left in {args.out} "
                  f"by an interrupted run: {', '.join(folder.removed_temporaries)}")
        return _train(args)


def _train(args):
    checkpoint_path = os.path.join(args.out, CHECKPOINT_NAME)
    found = existing_checkpoint(args.out)
    if not args.resume and found:
        raise UsageError(f"{found} already exists: pass --resume to continue it, or choose another --out")
    if args.resume and not found:
        raise UsageError(f"no checkpoint in {args.out}; run without --resume first (or give the right --out)")
    checkpoint = load_for_resume(checkpoint_path, vars(args)) if args.resume else None

    train_images, train_labels, test_images, test_labels, class_names = load_data(args)
    if args.batch_size > len(train_images):
        raise UsageError(f"--batch-size {args.batch_size} is larger than the {len(train_images)} training images; "
                         f"use --batch-size {len(train_images)} or less")
    mg.manual_seed(args.seed)
    model = build_model(args.model, num_classes=len(class_names))
    optimizer, scheduler = make_optimizer(args, model)
    train_loader, test_loader = make_loaders(args, train_images, train_labels, test_images, test_labels)
    history, start_epoch, partial, saved_at = [], 0, None, None  # saved_at: what the checkpoint on disk holds

    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        train_loader.load_state_dict(checkpoint["train_loader"])
        history, start_epoch, partial = checkpoint["history"], checkpoint["epoch"], checkpoint["partial_epoch"]
        saved_at = f"epoch {start_epoch + 1}, step {partial['batches_done']}" if partial else f"end of epoch {start_epoch}"
        if start_epoch >= args.epochs and partial is None:
            print(f"{checkpoint_path} already finished {start_epoch} epochs; nothing to do")
            return history
        print(f"resuming from {checkpoint_path}: epoch {start_epoch + 1}"
              + (f", after batch {partial['batches_done']}" if partial else ""))
        if checkpoint["args"]["epochs"] != args.epochs:
            print(f"--epochs is now {args.epochs} (was {checkpoint['args']['epochs']}); the learning-rate schedule "
                  f"stays the one planned for {checkpoint['args']['epochs']} epochs")

    def snapshot(epoch, partial_epoch):
        return {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "train_loader": train_loader.state_dict(), "epoch": epoch, "partial_epoch": partial_epoch,
            "history": history, "args": vars(args), "class_names": list(class_names),
        }

    def save(state):
        try:
            save_checkpoint(checkpoint_path, state)
        except CheckpointError as error:
            raise TrainingDiverged(str(error)) from None
        except OSError as error:
            kept = f"the previous checkpoint ({saved_at}) is kept" if saved_at else "no checkpoint was written"
            raise UsageError(f"could not write {checkpoint_path}: {error.strerror or error}; {kept}") from None

    def diverged(what, epoch, step, where):
        kept = (f"the last good checkpoint ({saved_at}) is kept in {checkpoint_path}" if saved_at
                else "no checkpoint was written")
        return TrainingDiverged(f"{what} at epoch {epoch + 1}, step {step + 1}" + (f"; it started in {where}" if where else "")
                                + f". Training stopped; {kept}. A smaller --lr (now {args.lr:g}) usually helps.")

    show_progress = not args.no_progress
    print(f"{args.model}: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{len(train_images)} training and {len(test_images)} test images of {args.dataset}, "
          f"batch {args.batch_size}, {args.epochs} epochs")
    with StopFlag() as stop:
        epochs = _progress(range(start_epoch, args.epochs), args.epochs - start_epoch, "epochs", show_progress, True, "epoch")
        for epoch in epochs:
            model.train()
            if partial is not None:
                # Replay the loader from the start of this epoch: the same permutation and augmentation.
                train_loader.load_state_dict({"seed": train_loader.seed, "epoch": epoch})
            sums = dict(partial["sums"]) if partial else {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
            skip = partial["batches_done"] if partial else 0
            partial = None
            started = time.perf_counter()
            batches = _progress(train_loader, len(train_loader), f"epoch {epoch + 1}", show_progress, False, "batch")
            for step, (images, labels) in enumerate(batches):
                if step < skip:
                    continue
                logits = model(mg.tensor(images))
                loss = mg.functional.cross_entropy(logits, labels)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    where = divergence.first_non_finite_output(model, images) or divergence.first_non_finite_state(model)
                    raise diverged(f"the loss became {loss_value}", epoch, step, where)
                optimizer.zero_grad()
                loss.backward()
                bad_gradient = divergence.first_non_finite_gradient(model)
                if bad_gradient:
                    raise diverged(f"the gradient of {bad_gradient} became non-finite", epoch, step, None)
                optimizer.step()
                bad_state = divergence.first_non_finite_state(model)
                if bad_state:
                    raise diverged(f"{bad_state} became non-finite", epoch, step, None)
                sums["loss"] += loss_value * len(labels)
                sums["correct"] += int((logits.data.argmax(axis=1) == labels).sum())
                sums["seen"] += len(labels)
                elapsed = sums["seconds"] + time.perf_counter() - started
                if show_progress:
                    batches.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}",
                                        acc=f"{sums['correct'] / sums['seen']:.3f}",
                                        img_s=f"{sums['seen'] / max(elapsed, 1e-9):.0f}")
                if stop.requested:
                    sums["seconds"] = elapsed
                    save(snapshot(epoch, {"batches_done": step + 1, "sums": sums}))
                    print(f"saved {checkpoint_path} at epoch {epoch + 1}, step {step + 1}; "
                          f"continue with the same command plus --resume")
                    raise KeyboardInterrupt(stop.signal_number)
            seconds = sums["seconds"] + time.perf_counter() - started
            learning_rate = optimizer.param_groups[0]["lr"]
            scheduler.step()
            test_loss, test_acc, _, _ = evaluate(model, test_loader)
            if not math.isfinite(test_loss):
                where = divergence.first_non_finite_output(model.eval(), next(iter(test_loader))[0])
                raise diverged(f"the test loss became {test_loss}", epoch, len(train_loader) - 1, where)
            history.append({
                "epoch": epoch + 1, "train_loss": sums["loss"] / sums["seen"], "train_acc": sums["correct"] / sums["seen"],
                "test_loss": test_loss, "test_acc": test_acc, "lr": learning_rate, "seconds": seconds,
                "images_per_second": sums["seen"] / max(seconds, 1e-9),
            })
            save(snapshot(epoch + 1, None))
            saved_at = f"end of epoch {epoch + 1}"
            _write_or_explain(write_metrics, args.out, history)
            row = history[-1]
            message = (f"epoch {row['epoch']}/{args.epochs}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
                       f"test loss {row['test_loss']:.4f} acc {row['test_acc']:.4f} | lr {row['lr']:.4g} | "
                       f"{row['seconds']:.1f}s, {row['images_per_second']:.0f} img/s")
            (epochs.write if show_progress else print)(message)
    note = _write_or_explain(plot_curves, args.out, history)
    print(note or f"curves: {os.path.join(args.out, PLOT_NAME)}")
    print(f"metrics: {os.path.join(args.out, METRICS_NAME)}; checkpoint: {checkpoint_path}")
    print(f"final test accuracy: {history[-1]['test_acc']:.4f}")
    return history


def _write_or_explain(write, out_dir, history):
    try:
        return write(out_dir, history)
    except OSError as error:
        raise UsageError(f"could not write to {out_dir}: {error.strerror or error}") from None


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except (UsageError, RunFolderError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as interrupt:
        print("interrupted", file=sys.stderr)
        return 128 + (interrupt.args[0] if interrupt.args and isinstance(interrupt.args[0], int) else 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
