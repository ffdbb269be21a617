"""Beside the loop: what the training command shows while it runs, and the lines it ends with.

Progress bars (tqdm) for the epochs and the batches of one epoch, a line per epoch, the final
accuracy, and the metric files (``metrics.py``). The loop calls these; it never formats a line.
"""

import glob
import os

import minigrad as mg
from resnext_np.training.errors import UsageError
from resnext_np.training.metrics import METRICS_NAME, PLOT_NAME


def write_line(message):
    """Print without garbling progress bars (tqdm's own write when tqdm is installed)."""
    try:
        from tqdm import tqdm
    except ImportError:
        print(message, flush=True)
    else:
        tqdm.write(message)


def kernels_cached():
    """Whether Numba has cached minigrad's compiled kernels on this machine: ``@njit(cache=True)``
    writes ``.nbi`` index files beside the sources or, where those are read-only, under
    ``$NUMBA_CACHE_DIR`` or ``~/.cache/numba`` (in folders named after the sources' path)."""
    if glob.glob(os.path.join(os.path.dirname(mg.__file__), "**", "*.nbi"), recursive=True):
        return True
    elsewhere = [os.environ.get("NUMBA_CACHE_DIR", ""), os.path.join(os.path.expanduser("~"), ".cache", "numba")]
    return any(glob.glob(os.path.join(place, "**", "*minigrad*", "**", "*.nbi"), recursive=True)
               for place in elsewhere if place and os.path.isdir(place))


class Progress:
    """The run's progress bars: one for the epochs, one for the batches of the current epoch.

    Used as a context manager, so that bars are closed however the loop ends: a Ctrl-C leaves the
    epochs bar on a line of its own, and what is printed next starts on a new line.
    """

    def __init__(self, shown):
        self.shown = shown
        self._bars = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for bar in reversed(self._bars):
            bar.close()
        self._bars = []
        return False

    def _bar(self, iterable, total, description, leave, unit):
        if not self.shown:
            return iterable
        from tqdm import tqdm

        bar = tqdm(iterable, total=total, desc=description, leave=leave, unit=unit, dynamic_ncols=True)
        self._bars.append(bar)
        return bar

    def epochs(self, first, last):
        return self._bar(range(first, last), last - first, "epochs", True, "epoch")

    def batches(self, loader, epoch, steps):
        for bar in self._bars[1:]:  # the previous epoch's batch bar
            bar.close()
        del self._bars[1:]
        return self._bar(loader, steps, f"epoch {epoch + 1}", False, "batch")

    def show_batch(self, sums, elapsed):
        if self.shown and len(self._bars) > 1:
            self._bars[-1].set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}",
                                       acc=f"{sums['correct'] / sums['seen']:.3f}",
                                       img_s=f"{sums['seen'] / max(elapsed, 1e-9):.0f}")

    def write(self, message):
        (write_line if self.shown else print)(message)


def epoch_line(row, epochs):
    return (f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
            f"test loss {row['test_loss']:.4f} acc {row['test_acc']:.4f} | lr {row['lr']:.4g} | "
            f"{row['seconds']:.1f}s, {row['images_per_second']:.0f} img/s")


def weights_name(args):
    if args.ema_decay:
        return "moving average of the weights"
    if args.average_last:
        return f"average of the weights of the last {args.average_last:.0%} of the steps"
    return "final weights"


def final_accuracy_line(final, args):
    """``final test accuracy: 0.9010 (final weights; with flip test-time augmentation 0.9100)``"""
    line = f"final test accuracy: {final['test_acc']:.4f} ({weights_name(args)}"
    if final.get("test_acc_flip_tta") is not None:
        line += f"; with flip test-time augmentation {final['test_acc_flip_tta']:.4f}"
    return line + ")"


def closing_lines(args, plot_note, checkpoint_path):
    return [plot_note or f"curves: {os.path.join(args.out, PLOT_NAME)}",
            f"metrics: {os.path.join(args.out, METRICS_NAME)}; checkpoint: {checkpoint_path}"]


def run_title(args, plan):
    budget = f", budget {plan.budget_seconds / 60:g} min" if plan.budget_seconds else ""
    return f"{args.model} on {args.dataset}, recipe {args.recipe}{budget}"


def write_or_explain(write, out_dir, *arguments):
    """Call a writer of ``metrics.py``; a failed write is the user's folder's problem (UsageError)."""
    try:
        return write(out_dir, *arguments)
    except OSError as error:
        raise UsageError(f"could not write to {out_dir}: {error.strerror or error}") from None
