"""Train a CIFAR ResNeXt on the CPU: ``python -m resnext_np.train``.

With no arguments it trains the smallest preset on the built-in synthetic image set (no network
needed). On CIFAR (``--dataset cifar10``) it runs the ``cpu`` recipe in a time budget (10 minutes
unless ``--time-budget`` or ``--epochs`` says otherwise): it times a few steps, prints its plan,
trains, and stops on time.

A new run goes to a fresh folder, ``runs/<dataset>-<model>`` or, if that holds a run already,
``runs/<dataset>-<model>-2``, ``-3``, ... (``--out`` chooses one); ``--resume`` continues the
latest. The folder is created only once there is something to write. It holds:

* ``checkpoint.ckpt`` model, optimiser, schedule, weight average, plan, loader and RNG state,
  arguments, metric history; written atomically after every epoch (and on Ctrl-C or SIGTERM), so
  ``--resume`` continues exactly where the run stopped: an interrupted run ends with the same
  weights and metrics as an uninterrupted one. Its format (``minigrad.save``) holds only data and
  a checksum: loading it cannot run code (see ``resnext_np/checkpoint.py``).
* ``metrics.jsonl``   one JSON line per epoch: train loss/accuracy, test loss/accuracy, lr, seconds.
* ``curves.png``      loss (log scale), accuracy and learning rate (needs matplotlib).

Recipes (``resnext_np/recipe.py``): ``cpu`` (default) and ``paper``; planning a budget:
``resnext_np/budget.py``; the loop: ``resnext_np/trainer.py``.

One run at a time per folder (``resnext_np/run_folder.py`` locks it). Training stops at the first
non-finite loss, gradient, weight or BatchNorm statistic and names the layer where it started
(``resnext_np/divergence.py``); the checkpoint on disk is then the last finite one.
"""

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time

import numpy as np

import minigrad as mg
from minigrad.data import (
    ArrayDataset,
    Compose,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToFloat,
)
from resnext_np import data as datasets
from resnext_np import scoring
from resnext_np import trainer as training_loop
from resnext_np.budget import (
    TIMED_STEPS,
    plan_for_budget,
    plan_for_epochs,
    plan_from_dict,
    time_calls,
)
from resnext_np.checkpoint import CHECKPOINT_NAME, CheckpointError
from resnext_np.metrics import METRICS_NAME, PLOT_NAME
from resnext_np.model import DEFAULT_PRESET, PRESETS
from resnext_np.ranks import MPINotInstalled, join_ranks, launched_world_size
from resnext_np.recipe import DEFAULT_RECIPE, RECIPES
from resnext_np.run_folder import RunFolder, RunFolderError, choose_folder_and_checkpoint
from resnext_np.trainer import TrainingDiverged, UsageError

__all__ = ["main", "run", "parse_args", "build_parser", "CHECKPOINT_NAME", "METRICS_NAME", "PLOT_NAME",
           "UsageError", "TrainingDiverged"]

DEFAULT_CIFAR_BUDGET_MINUTES = 10.0
DEFAULT_SYNTHETIC_EPOCHS = 12
# The quick start's data: the noisy synthetic textures (resnext_np/data/synthetic.py), small enough
# that 12 epochs take about a minute and a half on 2 cores, hard enough to take those 12 epochs.
SYNTHETIC_SET = {"n_train": 1000, "n_test": 1000, "difficulty": "noisy"}
# On these noisy textures the recipe's peak rate sent the test accuracy down to 0.18 in the middle
# of the run (BatchNorm's running statistics lag weights that move fast); a quarter of it rises steadily.
SYNTHETIC_LR_SCALE = 0.25
RECIPE_OPTIONS = ("batch_size", "momentum", "nesterov", "weight_decay", "decay_norms_and_biases", "schedule",
                  "warmup", "label_smoothing", "ema_decay", "flip_tta", "zero_init_residual")


# ----------------------------------------------------------------------------- arguments
def _recipe_default(field):
    values = ", ".join(f"{name}: {getattr(recipe, field)}" for name, recipe in RECIPES.items())
    return f"default: the recipe's ({values})"


def build_parser():
    recipes = "; ".join(f"{name}: {recipe.describe()}" for name, recipe in RECIPES.items())
    parser = argparse.ArgumentParser(
        prog="python -m resnext_np.train",
        description="Train a CIFAR ResNeXt with minigrad on the CPU.",
        epilog=f"Recipes ({DEFAULT_RECIPE} is the default; see resnext_np/recipe.py): {recipes}. "
               "Each option below that says 'the recipe's' overrides one value of the recipe.",
    )
    add = parser.add_argument
    add("--dataset", choices=["synthetic", "cifar10", "cifar100"], default="synthetic", help="default: synthetic")
    add("--data-dir", default=None, help="folder holding the CIFAR archive or its extracted folder "
        f"(default: ${datasets.DATA_DIR_ENV} or {datasets.default_data_dir()})")
    add("--download", action="store_true", help="download the CIFAR archive if it is missing (default: no)")
    add("--model", choices=sorted(PRESETS), default=DEFAULT_PRESET, help=f"default: {DEFAULT_PRESET}")
    add("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE, help=f"default: {DEFAULT_RECIPE}")
    add("--time-budget", type=float, default=None, metavar="MINUTES",
        help="plan the run to finish within this many minutes of this machine's time, setup and evaluations "
             f"included (default: {DEFAULT_CIFAR_BUDGET_MINUTES:g} on CIFAR when --epochs is not given; none on synthetic)")
    add("--epochs", type=int, default=None,
        help=f"train this many epochs instead of a time budget (default: {DEFAULT_SYNTHETIC_EPOCHS} on synthetic)")
    add("--batch-size", type=int, default=None, help=_recipe_default("batch_size"))
    add("--lr", type=float, default=None, help="peak learning rate (default: the recipe's "
        + ", ".join(f"{n}: {r.lr:g}" for n, r in RECIPES.items()) + ", times batch size (x ranks under mpiexec) / the recipe's batch size, "
        f"times {SYNTHETIC_LR_SCALE:g} on synthetic)")
    add("--momentum", type=float, default=None, help=_recipe_default("momentum"))
    add("--nesterov", action=argparse.BooleanOptionalAction, default=None, help=_recipe_default("nesterov"))
    add("--weight-decay", type=float, default=None, help=_recipe_default("weight_decay"))
    add("--decay-norms-and-biases", action=argparse.BooleanOptionalAction, default=None,
        help="apply weight decay to BatchNorm weights and biases too; " + _recipe_default("decay_norms_and_biases"))
    add("--schedule", choices=["multistep", "cosine", "onecycle"], default=None, help=_recipe_default("schedule"))
    add("--warmup", type=float, default=None, help="fraction of the steps spent warming up (onecycle); "
        + _recipe_default("warmup"))
    add("--label-smoothing", type=float, default=None, help=_recipe_default("label_smoothing"))
    add("--ema-decay", type=float, default=None, help="decay of the moving average of the weights, 0 for none; "
        + _recipe_default("ema_decay"))
    add("--flip-tta", action=argparse.BooleanOptionalAction, default=None,
        help="also report accuracy with flip test-time augmentation; " + _recipe_default("flip_tta"))
    add("--zero-init-residual", action=argparse.BooleanOptionalAction, default=None,
        help="start each block's last BatchNorm weight at 0; " + _recipe_default("zero_init_residual"))
    add("--seed", type=int, default=0, help="default: 0")
    add("--out", default=None, help="output folder (default: a new runs/<dataset>-<model>[-N]; "
        "with --resume, the latest one)")
    add("--resume", action="store_true", help="continue the run in --out (default: the latest run's folder)")
    add("--threads", type=int, default=None,
        help=f"CPU threads for minigrad, per rank under mpiexec (default: every core, {mg.kernels.threads.MAX_THREADS} "
             "here; under mpiexec, the cores divided by the ranks on the machine)")
    add("--train-size", type=int, default=None, help="use only the first N training images (default: all)")
    add("--test-size", type=int, default=None, help="use only the first N test images (default: all)")
    add("--no-progress", action="store_true", help="no progress bars, one line per epoch (default: bars)")
    add("--plan-only", action="store_true", help="print the plan (how many steps and epochs the budget buys "
        "here) and exit without training or writing anything (default: train)")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    recipe = RECIPES[args.recipe]
    for name in RECIPE_OPTIONS:
        if getattr(args, name) is None:
            setattr(args, name, getattr(recipe, name))
    if args.lr is None:  # under mpiexec, a step learns from every rank's batch
        args.lr = recipe.lr * args.batch_size * launched_world_size(os.environ) / recipe.batch_size
        if args.dataset == "synthetic":
            args.lr *= SYNTHETIC_LR_SCALE
    if args.epochs is None and args.time_budget is None:
        if args.dataset == "synthetic":
            args.epochs = DEFAULT_SYNTHETIC_EPOCHS
        else:
            args.time_budget = DEFAULT_CIFAR_BUDGET_MINUTES
    if args.epochs is not None and args.time_budget is not None:
        parser.error(f"give --epochs ({args.epochs}) or --time-budget ({args.time_budget:g}), not both")
    for name in ("epochs", "batch_size", "train_size", "test_size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    checks = [
        ("time_budget", args.time_budget is None or (math.isfinite(args.time_budget) and args.time_budget > 0), "> 0"),
        ("lr", math.isfinite(args.lr) and args.lr > 0, "> 0"),
        ("momentum", math.isfinite(args.momentum) and 0 <= args.momentum < 1, "in [0, 1)"),
        ("weight_decay", math.isfinite(args.weight_decay) and args.weight_decay >= 0, ">= 0"),
        ("warmup", math.isfinite(args.warmup) and 0 <= args.warmup < 1, "in [0, 1)"),
        ("label_smoothing", math.isfinite(args.label_smoothing) and 0 <= args.label_smoothing < 1, "in [0, 1)"),
        ("ema_decay", math.isfinite(args.ema_decay) and 0 <= args.ema_decay < 1, "in [0, 1)"),
    ]
    for name, good, wanted in checks:
        if not good:
            parser.error(f"--{name.replace('_', '-')} must be a finite number {wanted}, got {getattr(args, name)}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.nesterov and args.momentum == 0:
        parser.error("--nesterov needs --momentum > 0 (or pass --no-nesterov)")
    return args


# ---------------------------------------------------------------------------------- data
def load_data(args):
    """(train_images, train_labels, test_images, test_labels, class_names): uint8 NCHW + int64."""
    try:
        train, test = datasets.load_dataset(args.dataset, root=args.data_dir, download=args.download,
                                            progress=not args.no_progress, download_hint="Pass --download",
                                            **SYNTHETIC_SET)
    except (datasets.DatasetError, OSError) as error:
        raise UsageError(str(error)) from None
    train_images, train_labels = train.images[: args.train_size], train.labels[: args.train_size]
    test_images, test_labels = test.images[: args.test_size], test.labels[: args.test_size]
    return train_images, train_labels, test_images, test_labels, train.class_names


def make_loaders(args, train_images, train_labels, test_images, test_labels, ranks=None):
    """Per-channel statistics come from the training images, so every data set is handled alike."""
    scaled = train_images.astype(np.float64) / 255.0
    mean, std = scaled.mean(axis=(0, 2, 3)), scaled.std(axis=(0, 2, 3)) + 1e-8
    train_transform = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(0.5), ToFloat(), Normalize(mean, std)])
    test_transform = Compose([ToFloat(), Normalize(mean, std)])
    train_loader = (ranks or join_ranks()).training_loader(ArrayDataset(train_images, train_labels), args.batch_size,
                                                           args.seed, train_transform)
    test_loader = DataLoader(ArrayDataset(test_images, test_labels), batch_size=256, transform=test_transform, seed=0)
    return train_loader, test_loader


# ----------------------------------------------------------------------------- planning
def measure_plan(args, loaders, class_names, started, clock=time.perf_counter, ranks=None):
    """Time real steps, an evaluation and a checkpoint write of a throwaway run, then plan the budget.

    The steps are the loop's own (``Trainer.step``: a fresh augmented batch, forward, backward,
    the non-finite checks, the optimiser and schedule step), so the plan counts what the run does;
    under mpiexec that includes the all-reduce, and the plan is the slowest rank's.
    """
    train_loader, test_loader = loaders
    # A loader of its own, so the run's loader (and its random state) is untouched.
    timing_loader = DataLoader(train_loader.dataset, batch_size=train_loader.batch_size, shuffle=True,
                               seed=train_loader.seed + 1, transform=train_loader.transform)
    throwaway = training_loop.Trainer(args, (timing_loader, test_loader), class_names,
                                      plan_for_epochs(1, len(timing_loader)), clock=clock, ranks=ranks)
    batches = iter(timing_loader)

    def train_step():
        nonlocal batches
        batch = next(batches, None)
        if batch is None:
            batches = iter(timing_loader)
            batch = next(batches)
        throwaway.step(*batch, epoch=0, step=0)

    step_seconds = time_calls(train_step, TIMED_STEPS, clock)
    test_images = next(iter(test_loader))[0]

    def evaluate_batch():
        scoring.class_probabilities(throwaway.model.eval(), test_images)

    def save_checkpoint_like():
        with tempfile.TemporaryDirectory() as folder:
            mg.save(throwaway.snapshot(0, None, 0.0), os.path.join(folder, "timing.ckpt"))

    batch_seconds = time_calls(evaluate_batch, 2, clock)
    # After every epoch: an evaluation (the last batch may be smaller: a safe overestimate) and a checkpoint.
    evaluation_seconds = batch_seconds * len(test_loader) + time_calls(save_checkpoint_like, 1, clock)
    final_seconds = 2 * evaluation_seconds if args.flip_tta else 0.0
    spent, step_seconds, evaluation_seconds, final_seconds = (ranks or join_ranks()).slowest(
        clock() - started, step_seconds, evaluation_seconds, final_seconds)
    try:
        return plan_for_budget(args.time_budget * 60, spent, len(train_loader), step_seconds,
                               evaluation_seconds, final_seconds)
    except ValueError as error:
        raise UsageError(str(error)) from None


# ------------------------------------------------------------------------------- the run
def run(args, clock=time.perf_counter, ranks=None):
    """Train (or resume) according to ``args``; returns the metric history (a list of dicts)."""
    started = clock()
    ranks = ranks or join_ranks()
    ranks.start(args)  # threads; under mpiexec, the first line says so
    # Rank 0 decides what depends on the files (the folder, the checkpoint to resume) and sends it.
    checkpoint = choose_folder_and_checkpoint(args) if ranks.is_main else None
    args.out = ranks.from_main(args.out)
    checkpoint_path = os.path.join(args.out, CHECKPOINT_NAME)
    checkpoint = ranks.checkpoint_from_main(checkpoint, checkpoint_path)

    with ranks.main_first():  # rank 0 may download the data set first
        train_images, train_labels, test_images, test_labels, class_names = load_data(args)
    if args.batch_size > len(train_images):
        raise UsageError(f"--batch-size {args.batch_size} is larger than the {len(train_images)} training images; "
                         f"use --batch-size {len(train_images)} or less")
    loaders = make_loaders(args, train_images, train_labels, test_images, test_labels, ranks)
    steps_per_epoch = len(loaders[0])
    if checkpoint is not None and "plan" not in checkpoint:
        raise UsageError(f"{checkpoint_path} was written before runs were planned in steps (it has no plan); "
                         f"finish it with the version that started it, or start a new run")
    if checkpoint is not None:
        plan = plan_from_dict(checkpoint["plan"])
        if args.epochs is not None and args.epochs != plan.epochs:
            if plan.budget_seconds:
                raise UsageError(f"this run was planned by --time-budget ({plan.describe()}); --epochs cannot change it")
            print(f"--epochs is now {args.epochs} (was {plan.epochs}); the learning-rate schedule stays the one "
                  f"planned for {plan.epochs} epochs, and the extra steps run at its final rate")
            plan = plan_for_epochs(args.epochs, steps_per_epoch)
    elif args.time_budget is not None:
        print(f"planning {args.time_budget:g} min: timing {TIMED_STEPS + 1} training steps and an evaluation...")
        plan = measure_plan(args, loaders, class_names, started, clock, ranks)
    else:
        plan = plan_for_epochs(args.epochs, steps_per_epoch)

    if args.plan_only:
        print(f"plan: {plan.describe()}")
        return []
    with RunFolder(args.out) if ranks.is_main else contextlib.nullcontext() as folder:
        if folder and folder.removed_temporaries:
            print(f"removed {len(folder.removed_temporaries)} unfinished temporary file(s) left in {args.out} "
                  f"by an interrupted run: {', '.join(folder.removed_temporaries)}")
        trainer = training_loop.Trainer(args, loaders, class_names, plan, clock=clock, ranks=ranks)
        if checkpoint is not None:
            trainer.restore(checkpoint)
            if trainer.start_epoch >= plan.epochs and trainer.partial is None:
                print(f"{checkpoint_path} already finished {trainer.start_epoch} epochs; nothing to do")
                return trainer.history
            print(f"resuming from {checkpoint_path}: epoch {trainer.start_epoch + 1}"
                  + (f", after batch {trainer.partial['batches_done']}" if trainer.partial else ""))
        else:
            trainer.spent_seconds = clock() - started
        parameters = sum(p.numel() for p in trainer.model.parameters())
        print(f"{args.model}: {parameters:,} parameters, {len(train_images)} training and {len(test_images)} test "
              f"images of {args.dataset}, batch {args.batch_size}, recipe {args.recipe}; writing to {args.out}")
        print(f"plan: {plan.describe()}")
        return trainer.fit()


def main(argv=None):
    args = parse_args(argv)
    ranks, status, stopped_together = None, 0, False
    try:
        ranks = join_ranks()
        run(args, ranks=ranks)
    except (UsageError, RunFolderError, CheckpointError, MPINotInstalled) as error:
        print(f"error: {error}", file=sys.stderr)
        status = 2
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        status = 3
    except KeyboardInterrupt as interrupt:
        print("interrupted", file=sys.stderr)
        status = 128 + (interrupt.args[0] if interrupt.args and isinstance(interrupt.args[0], int) else 2)
        stopped_together = bool(interrupt.args)  # raised by the loop, on every rank after the same step
    if status and ranks is not None and not stopped_together:
        ranks.abort(status)  # under mpiexec, the other ranks would otherwise wait for this one forever
    return status


if __name__ == "__main__":
    sys.exit(main())
