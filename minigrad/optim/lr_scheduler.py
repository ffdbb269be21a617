"""Learning-rate schedules.  Call ``scheduler.step()`` after ``optimizer.step()``: once per epoch
for ``MultiStepLR`` and ``CosineAnnealingLR``, once per batch for ``OneCycleLR`` (as in PyTorch).

Every schedule is a closed form of its counter ``last_epoch`` (epochs or steps), so resuming
from a ``state_dict`` gives exactly the learning rates of an uninterrupted run.
"""

import bisect
import math


class LRScheduler:
    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self):
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base_lr, self.last_epoch)

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma^(number of milestones <= epoch)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        if milestones != sorted(milestones):
            raise ValueError(f"milestones must be increasing, got {milestones}")
        self.milestones, self.gamma = milestones, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):  # noqa: N803 - PyTorch's name
        if T_max < 1:
            raise ValueError(f"T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class OneCycleLR(LRScheduler):
    """Warm up, then anneal, over ``total_steps`` optimiser steps (Smith & Topin 2017; PyTorch's rule).

    lr rises from ``max_lr / div_factor`` to ``max_lr`` during the first ``pct_start`` of the
    steps, then falls to ``max_lr / div_factor / final_div_factor``, both along a half cosine
    (``anneal_strategy="cos"``) or a straight line (``"linear"``)::

        phase 1: steps 0 .. pct_start * total_steps - 1        initial_lr -> max_lr
        phase 2: steps ..  total_steps - 1                     max_lr     -> min_lr

    The warm-up lets BatchNorm statistics and momentum settle before the large steps; the long
    decay is where most of the accuracy is won in a short run.  Unlike PyTorch's default, the
    momentum is not cycled (``cycle_momentum`` must be False).
    """

    def __init__(self, optimizer, max_lr, total_steps, pct_start=0.3, anneal_strategy="cos",
                 div_factor=25.0, final_div_factor=1e4, cycle_momentum=False, last_epoch=-1):
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be an int >= 1, got {total_steps!r}")
        if not 0.0 <= pct_start <= 1.0:
            raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        if cycle_momentum:
            raise ValueError("OneCycleLR here does not cycle momentum; pass cycle_momentum=False")
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(optimizer.param_groups)
        if len(max_lrs) != len(optimizer.param_groups):
            raise ValueError(f"max_lr has {len(max_lrs)} values for {len(optimizer.param_groups)} parameter groups")
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        self.warmup_end = float(pct_start * total_steps) - 1  # the step at which lr == max_lr
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, fraction):
        if self.anneal_strategy == "linear":
            return start + (end - start) * fraction
        return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)

    def step(self):
        # The constructor's call sets step 0; one call after each of the total_steps optimiser
        # steps is allowed (the last sets a learning rate that is never used), as in PyTorch.
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"OneCycleLR was stepped {self.last_epoch + 1} times after construction, more "
                             f"than its total_steps={self.total_steps}")
        self.last_epoch += 1
        step = self.last_epoch
        for group in self.optimizer.param_groups:
            if step <= self.warmup_end:
                # a warm-up of one step (pct_start * total_steps == 1) starts at the peak; PyTorch divides by zero here
                fraction = step / self.warmup_end if self.warmup_end > 0 else 1.0
                group["lr"] = self._anneal(group["initial_lr"], group["max_lr"], fraction)
            else:
                span = self.total_steps - 1 - self.warmup_end
                fraction = (step - self.warmup_end) / span if span > 0 else 1.0
                group["lr"] = self._anneal(group["max_lr"], group["min_lr"], fraction)
