"""Beside the loop: what a training checkpoint holds, and how a ``Trainer`` is written and restored.

A checkpoint holds plain data only (arrays, numbers, strings, the plan as a dict): no class or
module name, so moving code between modules never breaks a checkpoint written before the move.
"""

import os

from resnext_np.training.checkpoint import CHECKPOINT_NAME, CheckpointError, save_checkpoint
from resnext_np.training.errors import TrainingDiverged, UsageError


def snapshot(trainer, epoch, partial_epoch, spent_seconds):
    """Everything ``--resume`` needs to continue ``trainer``'s run bit for bit."""
    return {
        "model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(), "train_loader": trainer.train_loader.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
        "plan": trainer.plan._asdict(), "schedule_steps": trainer.schedule_steps, "spent_seconds": spent_seconds,
        "epoch": epoch, "partial_epoch": partial_epoch, "history": trainer.history,
        "args": vars(trainer.args), "class_names": trainer.class_names,
    }


def restore(trainer, checkpoint):
    """Put a checkpoint's state back into a freshly built ``trainer`` of the same run."""
    trainer.model.load_state_dict(checkpoint["model"])
    trainer.optimizer.load_state_dict(checkpoint["optimizer"])
    trainer.scheduler.load_state_dict(checkpoint["scheduler"])
    # Every rank resumes the saved epoch; its augmentation seed is its own (the same as saved on rank 0).
    trainer.train_loader.load_state_dict(dict(checkpoint["train_loader"], seed=trainer.train_loader.seed))
    if trainer.ema is not None:
        trainer.ema.load_state_dict(checkpoint["ema"])
    trainer.schedule_steps = checkpoint["schedule_steps"]
    trainer.history, trainer.start_epoch = checkpoint["history"], checkpoint["epoch"]
    trainer.partial, trainer.spent_seconds = checkpoint["partial_epoch"], checkpoint["spent_seconds"]
    trainer.checkpoints.saved_at = (f"epoch {trainer.start_epoch + 1}, step {trainer.partial['batches_done']}"
                                    if trainer.partial else f"end of epoch {trainer.start_epoch}")


class Checkpoints:
    """The run's checkpoint file: written by rank 0 only; remembers where the last good one was taken."""

    def __init__(self, out_dir, is_main=True):
        self.path = os.path.join(out_dir, CHECKPOINT_NAME)
        self.is_main = is_main
        self.saved_at = None  # "end of epoch 3", "epoch 4, step 17": what the file on disk holds

    def save(self, state, saved_at):
        if not self.is_main:
            return
        try:
            save_checkpoint(self.path, state)
        except CheckpointError as error:
            raise TrainingDiverged(str(error)) from None
        except OSError as error:
            kept = f"the previous checkpoint ({self.saved_at}) is kept" if self.saved_at else "no checkpoint was written"
            raise UsageError(f"could not write {self.path}: {error.strerror or error}; {kept}") from None
        self.saved_at = saved_at

    def kept(self):
        return (f"the last good checkpoint ({self.saved_at}) is kept in {self.path}" if self.saved_at
                else "no checkpoint was written")
