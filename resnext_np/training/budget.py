"""Planning a run: how many optimiser steps fit in ``--time-budget`` minutes on this machine.

A schedule that decays the learning rate must know where training ends before it starts, so a
time budget is turned into a number of steps once, up front:

1. time the loop's own training steps (fresh augmented batches, the checks for non-finite values
   included; after one untimed step, which pays for compilation and first-touch page faults),
   one evaluation batch and one checkpoint write, on a throwaway run. The steps are timed for
   ``TIMING_SHARE`` of the budget (at least ``TIMED_STEPS`` of them): a shared machine's speed
   changes from second to second, and six steps of 0.1 s measured one such moment;
2. solve  setup + steps * step_seconds + epochs * evaluation_seconds + final_evaluation <= budget
   for the largest whole number of steps, leaving ``MARGIN`` of the budget for noise (the steps of
   the recipe's low-resolution epochs, timed apart, count at their own cost);
3. from then on the run is step-based: the plan is stored in the checkpoint, so ``--resume``
   continues the very same schedule (the budget is not re-measured on another machine or day).

If the machine turns slower than measured, the run still stops on time: the loop checks the clock
after every step and ends the run (saving a resumable checkpoint) once the budget is spent.

>>> plan = plan_for_budget(budget_seconds=60, spent_seconds=5, steps_per_epoch=10, step_seconds=0.5,
...                        evaluation_seconds=1.0, final_evaluation_seconds=2.0)
>>> plan.total_steps, plan.epochs
(80, 8)
"""

import math
import time
from statistics import median_high
from typing import NamedTuple

MARGIN = 0.08          # of the budget, kept free for timing noise
TIMED_STEPS = 6        # timed training steps at least (after one untimed)
# ...and more, until they add up to this share of the budget. Six steps of batch 32 (0.6 s) put
# the step at 0.111 and 0.124 s in the plans of two 5-minute runs that then took 0.091 and
# 0.105 s a step: a fifth of the budget's steps went unplanned (December 2026,
# docs/cpu_recipe.md). 1.5% of a 5-minute budget is 4.5 s, about 45 steps.
TIMING_SHARE = 0.015
MAX_TIMED_STEPS = 200


class Plan(NamedTuple):
    total_steps: int
    steps_per_epoch: int
    epochs: int               # the last one may be partial: total_steps need not be a multiple
    budget_seconds: float     # 0 when the run was planned in epochs
    step_seconds: float       # measured (0 when not measured)
    evaluation_seconds: float  # after each epoch: evaluating the test set and writing a checkpoint
    low_res_epochs: int = 0   # the first epochs, on smaller crops (recipe field low_res_epochs)
    low_res_step_seconds: float = 0.0  # a step of those epochs, measured (0 when not measured)

    def steps_in_epoch(self, epoch):
        """Steps of epoch ``epoch`` (0-based): all of them, except perhaps in the last."""
        return min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch)

    def seconds_after(self, steps_done):
        """The predicted time of the steps after the first ``steps_done``: a low-resolution step
        at its own measured time (the step's, where that was not measured), a full one at the step's."""
        low_res_left = max(0, min(self.low_res_epochs * self.steps_per_epoch, self.total_steps) - steps_done)
        full_left = max(0, self.total_steps - steps_done - low_res_left)
        return low_res_left * (self.low_res_step_seconds or self.step_seconds) + full_left * self.step_seconds

    def describe(self):
        whole, rest = divmod(self.total_steps, self.steps_per_epoch)
        epochs = f"{whole} epoch{'s' * (whole != 1)}" + (f" and {rest} step{'s' * (rest != 1)}" if rest else "")
        low_res = f", the first {self.low_res_epochs} at low resolution" if self.low_res_epochs else ""
        if not self.budget_seconds:
            return f"{self.total_steps} steps ({epochs} of {self.steps_per_epoch} steps{low_res})"
        low_res_step = f" ({self.low_res_step_seconds:.3f} s at low resolution)" if self.low_res_epochs else ""
        return (f"{self.total_steps} steps ({epochs} of {self.steps_per_epoch} steps{low_res}) in a budget of "
                f"{self.budget_seconds / 60:g} min: measured {self.step_seconds:.3f} s per step{low_res_step} and "
                f"{self.evaluation_seconds:.1f} s per evaluation")


def low_res_epoch_count(low_res_share, epochs):
    """How many of a run's ``epochs`` (its first ones) train on low-resolution crops."""
    return round(low_res_share * epochs)


def plan_for_epochs(epochs, steps_per_epoch, low_res_epochs=0):
    return Plan(epochs * steps_per_epoch, steps_per_epoch, epochs, 0.0, 0.0, 0.0, low_res_epochs)


def plan_for_budget(budget_seconds, spent_seconds, steps_per_epoch, step_seconds, evaluation_seconds,
                    final_evaluation_seconds, margin=MARGIN, low_res_share=0.0, low_res_step_seconds=0.0):
    """The largest plan whose predicted time fits in ``budget_seconds`` (``spent_seconds`` already used).

    An evaluation runs after every epoch, and ``final_evaluation_seconds`` more at the end (flip
    test-time augmentation doubles it). The first ``low_res_share`` of the epochs take
    ``low_res_step_seconds`` a step. Raises ValueError when not even one epoch's worth of
    steps fits: the message quotes the measured times.
    """
    if low_res_share and not low_res_step_seconds > 0:
        raise ValueError(f"low-resolution epochs ({low_res_share:g} of them) need their step's time, got {low_res_step_seconds!r}")
    available = budget_seconds * (1 - margin) - spent_seconds - final_evaluation_seconds
    steps = 0
    for epochs in range(1, 100_000):
        # Steps that fit if the run lasts ``epochs`` epochs (each followed by an evaluation): the
        # low-resolution ones first, then full ones in the time they leave.
        left = available - epochs * evaluation_seconds
        low_res_steps = low_res_epoch_count(low_res_share, epochs) * steps_per_epoch
        if low_res_steps and low_res_steps * low_res_step_seconds > left:
            fit = math.floor(left / low_res_step_seconds)
        else:
            fit = low_res_steps + math.floor((left - low_res_steps * low_res_step_seconds) / step_seconds)
        fit = min(fit, epochs * steps_per_epoch)
        if fit <= (epochs - 1) * steps_per_epoch:
            break
        steps = fit
    if steps < 1:
        raise ValueError(f"a budget of {budget_seconds / 60:g} min fits no training step: {spent_seconds:.1f} s went "
                         f"to setup and timing, a step takes {step_seconds:.2f} s and an evaluation "
                         f"{evaluation_seconds:.1f} s; give a larger --time-budget")
    epochs = math.ceil(steps / steps_per_epoch)
    low_res_epochs = low_res_epoch_count(low_res_share, epochs)
    return Plan(steps, steps_per_epoch, epochs, float(budget_seconds), float(step_seconds), float(evaluation_seconds),
                low_res_epochs, float(low_res_step_seconds) if low_res_epochs else 0.0)


def timed_calls(call, repeats, clock=time.perf_counter):
    """The seconds each of ``repeats`` calls of ``call()`` took."""
    seconds = []
    for _ in range(repeats):
        started = clock()
        call()
        seconds.append(clock() - started)
    return seconds


def time_calls(call, repeats, clock=time.perf_counter):
    """Median seconds of ``call()`` over ``repeats`` calls, after one untimed call."""
    call()
    return median_high(timed_calls(call, repeats, clock))


def more_steps_to_time(step_seconds, budget_seconds, timed=TIMED_STEPS):
    """How many steps to time after the first ``timed`` (of ``step_seconds`` each), so that all
    of them add up to ``TIMING_SHARE`` of the budget (at most ``MAX_TIMED_STEPS`` in all).

    >>> more_steps_to_time(0.1, 300)  # 5 minutes: 45 steps of 0.1 s in all
    39
    """
    wanted = math.ceil(TIMING_SHARE * budget_seconds / step_seconds) if step_seconds > 0 else MAX_TIMED_STEPS
    return max(0, min(wanted, MAX_TIMED_STEPS) - timed)


def plan_from_dict(values):
    return Plan(**values)
