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
  a checksum: loading it cannot run code (see ``resnext_np/training/checkpoint.py``).
* ``metrics.jsonl``   one JSON line per epoch: train loss/accuracy, test loss/accuracy, lr, seconds.
* ``curves.png``      loss (log scale), accuracy and learning rate (needs matplotlib).

This module is the command line only: its options and exit statuses. The machinery is in
``resnext_np/training/`` (its ``__init__.py`` gives the reading order): recipes (``recipe.py``,
``cpu`` by default, and ``paper``), planning a budget (``budget.py``), the run (``run.py``) and
its loop (``loop.py``).

One run at a time per folder (``training/run_folder.py`` locks it). Training stops at the first
non-finite loss, gradient, weight or BatchNorm statistic and names the layer where it started
(``training/divergence.py``); the checkpoint on disk is then the last finite one.
"""

import argparse
import math
import os
import sys

import minigrad as mg
from resnext_np import data as datasets
from resnext_np.model import DEFAULT_PRESET, PRESETS
from resnext_np.training.checkpoint import CheckpointError
from resnext_np.training.errors import TrainingDiverged, UsageError
from resnext_np.training.ranks import MPINotInstalled, join_ranks, launched_world_size
from resnext_np.training.recipe import DEFAULT_RECIPE, RECIPES
from resnext_np.training.run import run
from resnext_np.training.run_folder import RunFolderError

__all__ = ["main", "run", "parse_args", "build_parser"]

DEFAULT_CIFAR_BUDGET_MINUTES = 10.0
DEFAULT_SYNTHETIC_EPOCHS = 12
# On these noisy textures the recipe's peak rate sent the test accuracy down to 0.18 in the middle
# of the run (BatchNorm's running statistics lag weights that move fast); a quarter of it rises steadily.
SYNTHETIC_LR_SCALE = 0.25
# The whitening stem was measured on photos. On these textures it lost 0.05 of the quick start's
# accuracy (0.875 against 0.926, 12 epochs): the patch covariance it whitens is mostly their noise's.
SYNTHETIC_WHITENING_STEM = False
# The low-resolution epochs were measured on photos only; the quick start keeps its measured recipe.
SYNTHETIC_LOW_RES_EPOCHS = 0.0
RECIPE_OPTIONS = ("batch_size", "momentum", "nesterov", "weight_decay", "decay_norms_and_biases", "schedule",
                  "warmup", "label_smoothing", "ema_decay", "average_last", "flip_tta", "zero_init_residual",
                  "whitening_stem", "cutout", "low_res_epochs", "low_res_size", "mixup")


# ----------------------------------------------------------------------------- arguments
def _recipe_default(field):
    values = ", ".join(f"{name}: {getattr(recipe, field)}" for name, recipe in RECIPES.items())
    return f"default: the recipe's ({values})"


def build_parser():
    recipes = "; ".join(f"{name}: {recipe.describe()}" for name, recipe in RECIPES.items())
    parser = argparse.ArgumentParser(
        prog="python -m resnext_np.train",
        description="Train a CIFAR ResNeXt with minigrad on the CPU.",
        epilog=f"Recipes ({DEFAULT_RECIPE} is the default; see resnext_np/training/recipe.py): {recipes}. "
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
    add("--average-last", type=float, default=None, metavar="FRACTION",
        help="report the plain average of the weights after each of this last fraction of the steps, 0 for none; "
        + _recipe_default("average_last"))
    add("--flip-tta", action=argparse.BooleanOptionalAction, default=None,
        help="also report accuracy with flip test-time augmentation; " + _recipe_default("flip_tta"))
    add("--zero-init-residual", action=argparse.BooleanOptionalAction, default=None,
        help="start each block's last BatchNorm weight at 0; " + _recipe_default("zero_init_residual"))
    add("--whitening-stem", action=argparse.BooleanOptionalAction, default=None,
        help="the first conv's filters whiten 3x3 patches of the training images and are never trained "
             "(minigrad.nn.PatchWhitening2d); " + _recipe_default("whitening_stem")
             + f", {SYNTHETIC_WHITENING_STEM} on synthetic")
    add("--cutout", type=int, default=None, metavar="PIXELS",
        help="blank a random square of this side in every training image (minigrad.data.Cutout), 0 for none; "
             + _recipe_default("cutout"))
    add("--low-res-epochs", type=float, default=None, metavar="FRACTION",
        help="train this first fraction of the epochs on random --low-res-size crops of the unpadded images "
             "(progressive resizing), 0 for none; " + _recipe_default("low_res_epochs")
             + f", {SYNTHETIC_LOW_RES_EPOCHS:g} on synthetic")
    add("--low-res-size", type=int, default=None, metavar="PIXELS",
        help="side of the low-resolution epochs' crops; " + _recipe_default("low_res_size"))
    add("--mixup", type=float, default=None, metavar="ALPHA",
        help="blend each training image with another of its batch, the weight drawn from Beta(ALPHA, ALPHA) "
             "(resnext_np/training/mixup.py), 0 for none; " + _recipe_default("mixup"))
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
    if args.ema_decay and args.average_last:
        parser.error(f"give --ema-decay ({args.ema_decay:g}) or --average-last ({args.average_last:g}), not both: "
                     f"each is an average of the weights (pass 0 to the other)")
    if args.ema_decay and args.average_last is None:  # a moving average asked for replaces the recipe's late average
        args.average_last = 0.0
    if args.whitening_stem is None and args.dataset == "synthetic":
        args.whitening_stem = SYNTHETIC_WHITENING_STEM
    if args.low_res_epochs is None and args.dataset == "synthetic":
        args.low_res_epochs = SYNTHETIC_LOW_RES_EPOCHS
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
        ("average_last", math.isfinite(args.average_last) and 0 <= args.average_last < 1, "in [0, 1)"),
        ("low_res_epochs", math.isfinite(args.low_res_epochs) and 0 <= args.low_res_epochs < 1, "in [0, 1)"),
        ("mixup", math.isfinite(args.mixup) and args.mixup >= 0, ">= 0"),
    ]
    for name, good, wanted in checks:
        if not good:
            parser.error(f"--{name.replace('_', '-')} must be a finite number {wanted}, got {getattr(args, name)}")
    if args.low_res_size < 1:
        parser.error(f"--low-res-size must be >= 1 pixel, got {args.low_res_size}")
    if args.cutout < 0:
        parser.error(f"--cutout must be >= 0 pixels, got {args.cutout}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.nesterov and args.momentum == 0:
        parser.error("--nesterov needs --momentum > 0 (or pass --no-nesterov)")
    return args


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
