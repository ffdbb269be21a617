"""The training loop behind ``python -m resnext_np.train``: a fixed plan of steps, run to the end.

``Trainer(args, data, plan)`` owns the model, optimiser, schedule, weight average and loaders of
one run; ``fit()`` runs the plan's steps epoch by epoch (evaluating after each), saving a
checkpoint after every epoch and when asked to stop, and returns the metric history.  Everything
that decides *what* is trained (recipe, plan, folder, arguments) is settled before, in train.py.

A step is: forward, loss (label-smoothed cross-entropy), backward, checks for non-finite values,
``optimizer.step()``, ``scheduler.step()`` (the schedule is per step), ``ema.update(model)``.
"""

import math
import os
import time

import minigrad as mg
from minigrad.functions import loss as losses
from resnext_np import divergence, scoring
from resnext_np.budget import MARGIN
from resnext_np.checkpoint import CHECKPOINT_NAME, CheckpointError, save_checkpoint
from resnext_np.metrics import METRICS_NAME, PLOT_NAME, plot_curves, write_metrics
from resnext_np.model import build_model
from resnext_np.ranks import OneProcess
from resnext_np.recipe import initialise, make_optimizer
from resnext_np.stop import StopFlag


class UsageError(Exception):
    """A mistake in the command line or the files it names: reported in one line, exit code 2."""


class TrainingDiverged(Exception):
    """A loss, gradient, weight or buffer became NaN or infinite: reported with the step and layer, exit code 3."""


def progress(iterable, total, description, enabled, leave, unit):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, leave=leave, unit=unit, dynamic_ncols=True)


def write_line(message):
    """Print without garbling progress bars (tqdm's own write when tqdm is installed)."""
    try:
        from tqdm import tqdm
    except ImportError:
        print(message, flush=True)
    else:
        tqdm.write(message)


class Trainer:
    def __init__(self, args, loaders, class_names, plan, clock=time.perf_counter, ranks=None):
        self.args, self.plan, self.clock = args, plan, clock
        self.ranks = ranks or OneProcess()  # several under mpiexec: resnext_np/ranks.py
        self.train_loader, self.test_loader = loaders
        self.class_names = list(class_names)
        mg.manual_seed(args.seed)
        self.model = initialise(build_model(args.model, num_classes=len(class_names)), args)
        self.parallel = self.ranks.wrap(self.model)  # DistributedDataParallel, or None in one process
        # The schedule is fixed by the plan the run started with (it is in the checkpoint).
        self.optimizer, self.scheduler = make_optimizer(args, self.model, plan.total_steps)
        self.schedule_steps = plan.total_steps
        self.ema = mg.optim.ExponentialMovingAverage(self.model, args.ema_decay) if args.ema_decay else None
        self.history, self.start_epoch, self.partial, self.saved_at = [], 0, None, None
        self.spent_seconds = 0.0  # of the time budget, before this process started training
        self.checkpoint_path = os.path.join(args.out, CHECKPOINT_NAME)

    # ------------------------------------------------------------------ checkpoints
    def restore(self, checkpoint):
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        # Every rank resumes the saved epoch; its augmentation seed is its own (the same as saved on rank 0).
        self.train_loader.load_state_dict(dict(checkpoint["train_loader"], seed=self.train_loader.seed))
        if self.ema is not None:
            self.ema.load_state_dict(checkpoint["ema"])
        self.schedule_steps = checkpoint["schedule_steps"]
        self.history, self.start_epoch = checkpoint["history"], checkpoint["epoch"]
        self.partial, self.spent_seconds = checkpoint["partial_epoch"], checkpoint["spent_seconds"]
        self.saved_at = (f"epoch {self.start_epoch + 1}, step {self.partial['batches_done']}" if self.partial
                         else f"end of epoch {self.start_epoch}")

    def snapshot(self, epoch, partial_epoch, spent_seconds):
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "train_loader": self.train_loader.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "plan": self.plan._asdict(), "schedule_steps": self.schedule_steps, "spent_seconds": spent_seconds,
            "epoch": epoch, "partial_epoch": partial_epoch, "history": self.history,
            "args": vars(self.args), "class_names": self.class_names,
        }

    def save(self, state):
        if not self.ranks.is_main:
            return
        try:
            save_checkpoint(self.checkpoint_path, state)
        except CheckpointError as error:
            raise TrainingDiverged(str(error)) from None
        except OSError as error:
            kept = f"the previous checkpoint ({self.saved_at}) is kept" if self.saved_at else "no checkpoint was written"
            raise UsageError(f"could not write {self.checkpoint_path}: {error.strerror or error}; {kept}") from None

    def diverged(self, what, epoch, step, where):
        kept = (f"the last good checkpoint ({self.saved_at}) is kept in {self.checkpoint_path}" if self.saved_at
                else "no checkpoint was written")
        return TrainingDiverged(f"{what} at epoch {epoch + 1}, step {step + 1}" + (f"; it started in {where}" if where else "")
                                + f". Training stopped; {kept}. A smaller --lr (now {self.args.lr:g}) usually helps.")

    # ------------------------------------------------------------------ one step
    def step(self, images, labels, epoch, step):
        model, optimizer = self.model, self.optimizer
        logits = (self.parallel or model)(mg.tensor(images))
        loss = mg.functional.cross_entropy(logits, labels, label_smoothing=self.args.label_smoothing)
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
        if self.ema is not None:
            self.ema.update(model)
        return plain_cross_entropy(logits, labels), int((logits.data.argmax(axis=1) == labels).sum())

    def evaluate(self, flip_tta=False):
        """Test loss and accuracy of the weights the run reports: the moving average if there is one."""
        if self.ema is None:
            return scoring.evaluate(self.model, self.test_loader, flip_tta)
        with self.ema.swapped_into(self.model):
            return scoring.evaluate(self.model, self.test_loader, flip_tta)

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
        predicted = ((plan.total_steps - done) * plan.step_seconds
                     + (plan.epochs - self.start_epoch) * plan.evaluation_seconds)
        return max(left, predicted * (1 + 2 * MARGIN))

    def fit(self):
        args, plan = self.args, self.plan
        show_progress = not args.no_progress
        allowance = self.time_allowance()
        started = self.clock()
        out_of_time = False
        with StopFlag(write=write_line if show_progress else None) as stop:
            epochs = progress(range(self.start_epoch, plan.epochs), plan.epochs - self.start_epoch, "epochs",
                              show_progress, True, "epoch")
            for epoch in epochs:
                self.model.train()
                partial = self.partial
                if partial is not None:
                    # Replay the loader from the start of this epoch: the same permutation and augmentation.
                    self.train_loader.load_state_dict({"seed": self.train_loader.seed, "epoch": epoch})
                sums = dict(partial["sums"]) if partial else {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
                skip = partial["batches_done"] if partial else 0
                self.partial = None
                epoch_started = self.clock()
                sums.setdefault("lr_start", self.optimizer.param_groups[0]["lr"])
                steps = plan.steps_in_epoch(epoch)
                batches = progress(self.train_loader, steps, f"epoch {epoch + 1}", show_progress, False, "batch")
                for step, (images, labels) in enumerate(batches):
                    if step >= steps:
                        break
                    if step < skip:
                        continue
                    loss_value, correct = self.step(images, labels, epoch, step)
                    loss_sum, correct, seen = self.ranks.sum_counts(loss_value * len(labels), correct, len(labels))
                    sums["loss"] += loss_sum
                    sums["correct"] += correct
                    sums["seen"] += seen
                    elapsed = sums["seconds"] + self.clock() - epoch_started
                    if show_progress:
                        batches.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}",
                                            acc=f"{sums['correct'] / sums['seen']:.3f}",
                                            img_s=f"{sums['seen'] / max(elapsed, 1e-9):.0f}")
                    now = self.clock()
                    spent = self.spent_seconds + now - started
                    out_of_time = allowance is not None and now - started > allowance and step + 1 < steps
                    stop_requested, out_of_time = self.ranks.any_rank(stop.requested, out_of_time)  # all stop together
                    if stop_requested or out_of_time:
                        sums["seconds"] = elapsed
                        self.save(self.snapshot(epoch, {"batches_done": step + 1, "sums": sums}, spent))
                        where = f"epoch {epoch + 1}, step {step + 1}"
                        if stop_requested:
                            write_line(f"saved {self.checkpoint_path} at {where}; "
                                       f"continue with the same command plus --resume")
                            raise KeyboardInterrupt(stop.signal_number)
                        write_line(f"the time budget of {plan.budget_seconds / 60:g} min ran out at {where} of the plan "
                                   f"(this machine ran slower than measured); saved {self.checkpoint_path}, "
                                   f"which --resume continues")
                        break
                if out_of_time:
                    break
                self._end_epoch(epoch, sums, self.clock() - epoch_started, epochs, show_progress, started)
        return self._finish(not out_of_time, self.spent_seconds + self.clock() - started)

    def _end_epoch(self, epoch, sums, seconds_now, epochs, show_progress, started):
        if not self.ranks.is_main:  # rank 0 evaluates and reports; the others go on to the next epoch
            return
        seconds = sums["seconds"] + seconds_now
        learning_rate = self.optimizer.param_groups[0]["lr"]  # the rate of the epoch's last step
        test_loss, test_acc, _, _ = self.evaluate()
        if not math.isfinite(test_loss):
            where = divergence.first_non_finite_output(self.model.eval(), next(iter(self.test_loader))[0])
            raise self.diverged(f"the test loss became {test_loss}", epoch, len(self.train_loader) - 1, where)
        self.history.append({
            "epoch": epoch + 1, "train_loss": sums["loss"] / sums["seen"], "train_acc": sums["correct"] / sums["seen"],
            "test_loss": test_loss, "test_acc": test_acc, "lr_start": sums["lr_start"], "lr": learning_rate,
            "seconds": seconds,
            "images_per_second": sums["seen"] / max(seconds, 1e-9),
        })
        self.save(self.snapshot(epoch + 1, None, self.spent_seconds + self.clock() - started))
        self.saved_at = f"end of epoch {epoch + 1}"
        write_or_explain(write_metrics, self.args.out, self.history)
        row = self.history[-1]
        message = (f"epoch {row['epoch']}/{self.plan.epochs}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
                   f"test loss {row['test_loss']:.4f} acc {row['test_acc']:.4f} | lr {row['lr']:.4g} | "
                   f"{row['seconds']:.1f}s, {row['images_per_second']:.0f} img/s")
        (epochs.write if show_progress else print)(message)

    def _finish(self, completed, spent_seconds):
        """Final evaluation (with flip TTA if the recipe uses it), curves, and the closing lines."""
        args = self.args
        if not self.ranks.is_main:
            return self.history
        weights = "moving average of the weights" if self.ema is not None else "final weights"
        if not completed:
            _, accuracy, _, _ = self.evaluate(flip_tta=args.flip_tta)
            print(f"test accuracy after the last step run: {accuracy:.4f} ({weights}"
                  + (", flip test-time augmentation" if args.flip_tta else "") + ")")
        if not self.history:
            return self.history
        if not completed:
            write_or_explain(plot_curves, args.out, self.history, run_title(args, self.plan))
            return self.history
        final = self.history[-1]
        if completed and args.flip_tta and "test_acc_flip_tta" not in final:
            _, final["test_acc_flip_tta"], _, _ = self.evaluate(flip_tta=True)
            write_or_explain(write_metrics, args.out, self.history)
            self.save(self.snapshot(final["epoch"], None, spent_seconds))
        note = write_or_explain(plot_curves, args.out, self.history, run_title(args, self.plan))
        print(note or f"curves: {os.path.join(args.out, PLOT_NAME)}")
        print(f"metrics: {os.path.join(args.out, METRICS_NAME)}; checkpoint: {self.checkpoint_path}")
        line = f"final test accuracy: {final['test_acc']:.4f} ({weights}"
        if "test_acc_flip_tta" in final:
            line += f"; with flip test-time augmentation {final['test_acc_flip_tta']:.4f}"
        print(line + ")")
        return self.history


def plain_cross_entropy(logits, labels):
    """The loss reported for training: cross-entropy without label smoothing (which puts a floor
    under the loss optimised), so that it compares with the test loss."""
    with mg.no_grad():
        return losses.cross_entropy(logits, labels).item()


def run_title(args, plan):
    budget = f", budget {plan.budget_seconds / 60:g} min" if plan.budget_seconds else ""
    return f"{args.model} on {args.dataset}, recipe {args.recipe}{budget}"


def write_or_explain(write, out_dir, *arguments):
    try:
        return write(out_dir, *arguments)
    except OSError as error:
        raise UsageError(f"could not write to {out_dir}: {error.strerror or error}") from None
