"""The training loop behind ``python -m resnext_np.train``: a fixed plan of steps, run to the end.

``Trainer(args, loaders, class_names, plan)`` owns the model, optimiser, schedule, weight average
and loaders of one run; ``fit()`` runs the plan's steps epoch by epoch, evaluating after each, and
returns the metric history. It is ``resnext_np/fit.py``'s loop with what a long run needs around
it, each beside the loop rather than inside it: progress bars and printed lines (``report.py``),
checkpoints (``saving.py``), where a NaN started (``divergence.py``), Ctrl-C (``stop.py``) and
the other ranks under mpiexec (``ranks.py``). What is trained (recipe, plan, folder, arguments)
is settled before, in ``run.py``.

A step is: with ``--mixup``, blend the images in pairs (``mixup.py``); forward, loss
(label-smoothed cross-entropy), backward, checks for non-finite values, ``optimizer.step()``,
``scheduler.step()`` (the schedule is per step), ``ema.update(model)`` (the weight average, in its
part of the run).
"""

import math
import time

import minigrad as mg
from minigrad.functions import loss as losses
from resnext_np.model import build_model
from resnext_np.training import divergence, mixup, report, saving, scoring
from resnext_np.training.budget import MARGIN
from resnext_np.training.errors import TrainingDiverged
from resnext_np.training.loaders import use_low_res
from resnext_np.training.metrics import plot_curves, write_metrics
from resnext_np.training.ranks import OneProcess
from resnext_np.training.recipe import WHITENING_IMAGES, initialise, make_optimizer
from resnext_np.training.stop import StopFlag


class Trainer:
    def __init__(self, args, loaders, class_names, plan, clock=time.perf_counter, ranks=None):
        self.args, self.plan, self.clock = args, plan, clock
        self.ranks = ranks or OneProcess()  # several under mpiexec: ranks.py
        self.train_loader, self.test_loader = loaders
        self.class_names = list(class_names)
        mg.manual_seed(args.seed)
        model = build_model(args.model, num_classes=len(class_names), whitening_stem=args.whitening_stem,
                            training_sizes=(args.low_res_size,) if args.low_res_epochs else ())
        whitening_images = None
        if args.whitening_stem:  # normalised by the test loader's transform, not augmented: as the network sees them
            whitening_images = self.test_loader.transform(self.train_loader.dataset.images[:WHITENING_IMAGES], None)
        self.model = initialise(model, args, whitening_images)
        self.parallel = self.ranks.wrap(self.model)  # DistributedDataParallel, or None in one process
        # The schedule is fixed by the plan the run started with (it is in the checkpoint).
        self.optimizer, self.scheduler = make_optimizer(args, self.model, plan.total_steps)
        self.schedule_steps = plan.total_steps
        # The weights the run reports: an average of them (updated from step average_from on), or the last ones.
        self.ema, self.average_from = None, 0
        if args.ema_decay:
            self.ema = mg.optim.ExponentialMovingAverage(self.model, args.ema_decay)
        elif args.average_last:
            self.ema = mg.optim.WeightAverage(self.model)
            self.average_from = plan.total_steps - max(1, round(plan.total_steps * args.average_last))
        self.history, self.start_epoch, self.partial = [], 0, None
        self.spent_seconds = 0.0  # of the time budget, before this process started training
        self.checkpoints = saving.Checkpoints(args.out, self.ranks.is_main)

    def diverged(self, what, epoch, step, where):
        return TrainingDiverged(f"{what} at epoch {epoch + 1}, step {step + 1}" + (f"; it started in {where}" if where else "")
                                + f". Training stopped; {self.checkpoints.kept()}. "
                                f"A smaller --lr (now {self.args.lr:g}) usually helps.")

    # ------------------------------------------------------------------ one step
    def step(self, images, labels, epoch, step):
        model, optimizer, args = self.model, self.optimizer, self.args
        partner, lam = None, 1.0
        if args.mixup:  # blend each image with another of the batch (mixup.py)
            draws = mixup.step_generator(args.seed, self.ranks.rank, epoch, step)  # the same again on --resume
            images, partner, lam = mixup.mix(images, args.mixup, draws)
        logits = (self.parallel or model)(mg.tensor(images))
        loss = mixup.mixed_cross_entropy(logits, labels, partner, lam, label_smoothing=args.label_smoothing)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            where = divergence.first_non_finite_output(model, images) or divergence.first_non_finite_state(model)
            raise self.diverged(f"the loss became {loss_value}", epoch, step, where)
        optimizer.zero_grad()
        loss.backward()
        if self.parallel is not None:
            self.parallel.average_gradients()  # every rank now holds the gradient of the job's whole batch
        bad_gradient = divergence.first_non_finite_gradient(model)
        if bad_gradient:
            raise self.diverged(f"the gradient of {bad_gradient} became non-finite", epoch, step, None)
        optimizer.step()
        # The step after the schedule's last would set a rate that is never used (past a one-cycle's
        # end, a negative one); steps added by a grown --epochs keep the final rate.
        if self.scheduler.last_epoch < self.schedule_steps - 1:
            self.scheduler.step()
        bad_state = divergence.first_non_finite_state(model)
        if bad_state:
            raise self.diverged(f"{bad_state} became non-finite", epoch, step, None)
        if self.ema is not None and epoch * self.plan.steps_per_epoch + step >= self.average_from:
            self.ema.update(model)
        return plain_cross_entropy(logits, labels), int((logits.data.argmax(axis=1) == labels).sum())

    def test_scores(self, flip_tta=False):
        """(loss, accuracy, predictions, labels) on the test set, of the weights the run reports:
        the average once it holds any (``scoring.score`` does the counting)."""
        if self.ema is None or self.ema.updates == 0:
            return scoring.score(self.model, self.test_loader, flip_tta)
        with self.ema.swapped_into(self.model):
            return scoring.score(self.model, self.test_loader, flip_tta)

    # ------------------------------------------------------------------ the loop
    def time_allowance(self):
        """Seconds this process may train before it stops on time; None without a budget.

        A fresh run gets what planning left of the budget. A resumed run gets the rest of the
        budget or, if more, the time the plan predicts for its remaining steps and evaluations:
        resuming a run that ran out of time finishes its plan instead of stopping at once.
        """
        plan = self.plan
        if not plan.budget_seconds:
            return None
        left = plan.budget_seconds - self.spent_seconds
        if self.partial is None and not self.history:
            return left
        done = self.start_epoch * plan.steps_per_epoch + (self.partial["batches_done"] if self.partial else 0)
        predicted = plan.seconds_after(done) + (plan.epochs - self.start_epoch) * plan.evaluation_seconds
        return max(left, predicted * (1 + 2 * MARGIN))

    def fit(self):
        allowance, started, out_of_time = self.time_allowance(), self.clock(), False
        if self.ranks.is_main and not self.args.no_progress and not report.kernels_cached():
            print("the first step compiles minigrad's Numba kernels (about 13 s on 2 cores; they are cached for later runs)")
        progress = report.Progress(shown=not self.args.no_progress)
        with progress, StopFlag(write=progress.write if progress.shown else None) as stop:
            for epoch in progress.epochs(self.start_epoch, self.plan.epochs):
                # A Ctrl-C during the last epoch's evaluation stops here, on its checkpoint, before another step.
                if epoch > self.start_epoch and self.ranks.any_rank(stop.requested)[0]:
                    progress.write(f"saved {self.checkpoints.path} at the end of epoch {epoch}; "
                                   f"continue with the same command plus --resume")
                    raise KeyboardInterrupt(stop.signal_number)
                self.model.train()
                use_low_res(self.train_loader, epoch < self.plan.low_res_epochs)  # the recipe's first epochs: smaller crops
                sums, skip = self._start_epoch(epoch)
                epoch_started = self.clock()
                steps = self.plan.steps_in_epoch(epoch)
                for step, (images, labels) in enumerate(progress.batches(self.train_loader, epoch, steps)):
                    if step >= steps:
                        break
                    if step < skip:  # a resumed epoch replays its loader up to where it stopped
                        continue
                    loss_value, correct = self.step(images, labels, epoch, step)
                    loss_sum, correct, seen = self.ranks.sum_counts(loss_value * len(labels), correct, len(labels))
                    sums["loss"] += loss_sum
                    sums["correct"] += correct
                    sums["seen"] += seen
                    elapsed = sums["seconds"] + self.clock() - epoch_started
                    progress.show_batch(sums, elapsed)
                    now = self.clock()
                    out_of_time = allowance is not None and now - started > allowance and step + 1 < steps
                    stop_requested, out_of_time = self.ranks.any_rank(stop.requested, out_of_time)  # all stop together
                    if stop_requested or out_of_time:
                        sums["seconds"] = elapsed
                        self._stop_in_epoch(epoch, step, sums, self.spent_seconds + now - started, stop_requested,
                                            stop.signal_number, progress)
                        break
                if out_of_time:
                    break
                self._end_epoch(epoch, sums, self.clock() - epoch_started, progress, started)
        return self._finish(not out_of_time, self.spent_seconds + self.clock() - started)

    def _start_epoch(self, epoch):
        """The epoch's running sums and how many of its batches are already done (a resumed epoch)."""
        partial, self.partial = self.partial, None
        if partial is not None:
            # Replay the loader from the start of this epoch: the same permutation and augmentation.
            self.train_loader.load_state_dict({"seed": self.train_loader.seed, "epoch": epoch})
        sums = dict(partial["sums"]) if partial else {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        sums.setdefault("lr_start", self.optimizer.param_groups[0]["lr"])
        return sums, partial["batches_done"] if partial else 0

    def _stop_in_epoch(self, epoch, step, sums, spent, stop_requested, signal_number, progress):
        """Save a checkpoint in the middle of an epoch; raise KeyboardInterrupt for a signal."""
        where = f"epoch {epoch + 1}, step {step + 1}"
        self.checkpoints.save(saving.snapshot(self, epoch, {"batches_done": step + 1, "sums": sums}, spent), where)
        if stop_requested:
            progress.write(f"saved {self.checkpoints.path} at {where}; continue with the same command plus --resume")
            raise KeyboardInterrupt(signal_number)
        progress.write(f"the time budget of {self.plan.budget_seconds / 60:g} min ran out at {where} of the plan "
                       f"(this machine ran slower than measured); saved {self.checkpoints.path}, "
                       f"which --resume continues")

    def _end_epoch(self, epoch, sums, seconds_now, progress, started):
        if not self.ranks.is_main:  # rank 0 evaluates and reports; the others go on to the next epoch
            return
        seconds = sums["seconds"] + seconds_now
        learning_rate = self.optimizer.param_groups[0]["lr"]  # the rate of the epoch's last step
        test_loss, test_acc, _, _ = self.test_scores()
        if not math.isfinite(test_loss):
            where = divergence.first_non_finite_output(self.model.eval(), next(iter(self.test_loader))[0])
            raise self.diverged(f"the test loss became {test_loss}", epoch, len(self.train_loader) - 1, where)
        self.history.append({
            "epoch": epoch + 1, "train_loss": sums["loss"] / sums["seen"], "train_acc": sums["correct"] / sums["seen"],
            "test_loss": test_loss, "test_acc": test_acc, "lr_start": sums["lr_start"], "lr": learning_rate,
            "seconds": seconds,
            "images_per_second": sums["seen"] / max(seconds, 1e-9),
        })
        self.checkpoints.save(saving.snapshot(self, epoch + 1, None, self.spent_seconds + self.clock() - started),
                              f"end of epoch {epoch + 1}")
        report.write_or_explain(write_metrics, self.args.out, self.history)
        progress.write(report.epoch_line(self.history[-1], self.plan.epochs))

    def _finish(self, completed, spent_seconds):
        """Final evaluation (with flip TTA if the recipe uses it), curves, and the closing lines."""
        args = self.args
        if not self.ranks.is_main:
            return self.history
        if not completed:
            _, accuracy, _, _ = self.test_scores(flip_tta=args.flip_tta)
            print(f"test accuracy after the last step run: {accuracy:.4f} ({report.weights_name(args)}"
                  + (", flip test-time augmentation" if args.flip_tta else "") + ")")
        if not self.history:
            return self.history
        title = report.run_title(args, self.plan)
        if not completed:
            report.write_or_explain(plot_curves, args.out, self.history, title)
            return self.history
        final = self.history[-1]
        if args.flip_tta and "test_acc_flip_tta" not in final:
            _, final["test_acc_flip_tta"], _, _ = self.test_scores(flip_tta=True)
            report.write_or_explain(write_metrics, args.out, self.history)
            self.checkpoints.save(saving.snapshot(self, final["epoch"], None, spent_seconds), f"end of epoch {final['epoch']}")
        note = report.write_or_explain(plot_curves, args.out, self.history, title)
        for line in report.closing_lines(args, note, self.checkpoints.path) + [report.final_accuracy_line(final, args)]:
            print(line)
        return self.history


def plain_cross_entropy(logits, labels):
    """The loss reported for training: cross-entropy without label smoothing (which puts a floor
    under the loss optimised), so that it compares with the test loss."""
    with mg.no_grad():
        return losses.cross_entropy(logits, labels).item()
