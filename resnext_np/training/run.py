"""One run of ``python -m resnext_np.train``, from parsed arguments to the metric history.

``run(args)``: choose the folder (and the checkpoint to resume), load the data, plan the steps
(``measure_plan`` times real steps when there is a time budget), lock the folder, build the
``Trainer`` (``loop.py``) and fit.
"""

import contextlib
import math
import os
import tempfile
import time
from statistics import median_high

import minigrad as mg
from minigrad.data import DataLoader
from resnext_np.training import report, saving, scoring
from resnext_np.training.budget import (MAX_TIMED_STEPS, TIMED_STEPS, TIMING_SHARE, low_res_epoch_count,
                                        more_steps_to_time, plan_for_budget, plan_for_epochs, plan_from_dict, time_calls,
                                        timed_calls)
from resnext_np.training.checkpoint import CHECKPOINT_NAME
from resnext_np.training.errors import UsageError
from resnext_np.training.loaders import load_data, make_loaders, use_low_res
from resnext_np.training.loop import Trainer
from resnext_np.training.ranks import join_ranks
from resnext_np.training.run_folder import RunFolder, choose_folder_and_checkpoint


def measure_plan(args, loaders, class_names, started, clock=time.perf_counter, ranks=None):
    """Time real steps, an evaluation and a checkpoint write of a throwaway run, then plan the budget.

    The steps are the loop's own (``Trainer.step``: a fresh augmented batch, forward, backward,
    the non-finite checks, the optimiser and schedule step), so the plan counts what the run does;
    under mpiexec that includes the all-reduce, and the plan is the slowest rank's.
    """
    ranks = ranks or join_ranks()
    train_loader, test_loader = loaders
    # A loader of its own, so the run's loader (and its random state) is untouched.
    timing_loader = DataLoader(train_loader.dataset, batch_size=train_loader.batch_size, shuffle=True,
                               seed=train_loader.seed + 1, transform=train_loader.transform)
    # With the recipe's low-resolution epochs, their steps are timed too, in alternation with the full
    # ones (a step of each size in turn): the machine's speed drifts from second to second, and
    # timing the two sizes one after the other put their ratio at 0.61 in one plan and 0.83 in the next.
    low_res_modes = (False, True) if args.low_res_epochs else (False,)
    # Enough epochs that its schedule outlasts every step it may time.
    timed_steps = len(low_res_modes) * (MAX_TIMED_STEPS + 1)
    timing_plan = plan_for_epochs(math.ceil(timed_steps / len(timing_loader)), len(timing_loader))
    throwaway = Trainer(args, (timing_loader, test_loader), class_names, timing_plan,
                        clock=clock, ranks=ranks)
    batches = iter(timing_loader)

    def train_step():
        nonlocal batches
        batch = next(batches, None)
        if batch is None:
            batches = iter(timing_loader)
            batch = next(batches)
        throwaway.step(*batch, epoch=0, step=0)

    def timed_rounds(rounds):
        times = {low_res: [] for low_res in low_res_modes}
        for _ in range(rounds):
            for low_res in low_res_modes:
                use_low_res(timing_loader, low_res)  # applies from the next batch: the loader crops lazily
                times[low_res] += timed_calls(train_step, 1, clock)
        return times

    for low_res in low_res_modes:
        use_low_res(timing_loader, low_res)
        train_step()  # untimed: compilation, first-touch page faults (and a new size's first buffers)
    times = timed_rounds(TIMED_STEPS)
    # Every rank times the same number of steps (each step all-reduces): the slowest rank's first estimate decides.
    (first_estimate,) = ranks.slowest(median_high(times[False]))
    for low_res, more in timed_rounds(more_steps_to_time(first_estimate, args.time_budget * 60)).items():
        times[low_res] += more
    use_low_res(timing_loader, False)  # the run's loader shares the transform
    step_seconds = median_high(times[False])
    low_res_step_seconds = median_high(times[True]) if args.low_res_epochs else 0.0
    test_images = next(iter(test_loader))[0]

    def evaluate_batch():
        scoring.class_probabilities(throwaway.model.eval(), test_images)

    def save_checkpoint_like():
        with tempfile.TemporaryDirectory() as folder:
            mg.save(saving.snapshot(throwaway, 0, None, 0.0), os.path.join(folder, "timing.ckpt"))

    batch_seconds = time_calls(evaluate_batch, 2, clock)
    # After every epoch: an evaluation (the last batch may be smaller: a safe overestimate) and a checkpoint.
    evaluation_seconds = batch_seconds * len(test_loader) + time_calls(save_checkpoint_like, 1, clock)
    final_seconds = 2 * evaluation_seconds if args.flip_tta else 0.0
    spent, step_seconds, evaluation_seconds, final_seconds, low_res_step_seconds = ranks.slowest(
        clock() - started, step_seconds, evaluation_seconds, final_seconds, low_res_step_seconds)
    try:
        return plan_for_budget(args.time_budget * 60, spent, len(train_loader), step_seconds,
                               evaluation_seconds, final_seconds, low_res_share=args.low_res_epochs,
                               low_res_step_seconds=low_res_step_seconds)
    except ValueError as error:
        raise UsageError(str(error)) from None


def choose_plan(args, checkpoint, checkpoint_path, loaders, class_names, started, clock, ranks):
    """The resumed run's plan (``--epochs`` may grow it), a measured budget's, or ``--epochs``'."""
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
            plan = plan_for_epochs(args.epochs, steps_per_epoch, plan.low_res_epochs)
        return plan
    if args.time_budget is not None:
        timing = TIMING_SHARE * args.time_budget * 60 * (2 if args.low_res_epochs else 1)  # both sizes' steps
        print(f"planning {args.time_budget:g} min: timing training steps (about {timing:.1f} s) and an evaluation...")
        return measure_plan(args, loaders, class_names, started, clock, ranks)
    return plan_for_epochs(args.epochs, steps_per_epoch, low_res_epoch_count(args.low_res_epochs, args.epochs))


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
    plan = choose_plan(args, checkpoint, checkpoint_path, loaders, class_names, started, clock, ranks)
    if args.plan_only:
        print(f"plan: {plan.describe()}")
        return []
    with RunFolder(args.out) if ranks.is_main else contextlib.nullcontext() as folder:
        if folder and folder.removed_temporaries:
            print(f"removed {len(folder.removed_temporaries)} unfinished temporary file(s) left in {args.out} "
                  f"by an interrupted run: {', '.join(folder.removed_temporaries)}")
        trainer = Trainer(args, loaders, class_names, plan, clock=clock, ranks=ranks)
        if checkpoint is not None:
            saving.restore(trainer, checkpoint)
            if trainer.start_epoch >= plan.epochs and trainer.partial is None:
                print(f"{checkpoint_path} already finished {trainer.start_epoch} epochs; nothing to do")
                if trainer.history:
                    print(report.final_accuracy_line(trainer.history[-1], args))
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
