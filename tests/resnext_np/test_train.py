"""The training command: it learns, resumes bit for bit, stops cleanly, and reports user mistakes
in one line (non-zero exit, no traceback)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from resnext_np import evaluate, train
from resnext_np.data import make_synthetic
from resnext_np.model import build_model
from resnext_np.training import loop, report
from resnext_np.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from resnext_np.training.metrics import METRICS_NAME, PLOT_NAME

SMALL_RUN = ["--epochs", "2", "--train-size", "96", "--test-size", "64", "--batch-size", "32", "--no-progress"]


def small_args(out_dir, *extra):
    return train.parse_args(SMALL_RUN + ["--out", str(out_dir), *extra])


def weights_of(out_dir):
    return load_checkpoint(os.path.join(out_dir, CHECKPOINT_NAME))["model"]


def without_timing(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_second")} for row in history]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """One uninterrupted small run, shared: (out_dir, history)."""
    out_dir = tmp_path_factory.mktemp("straight")
    return out_dir, train.run(small_args(out_dir))


class StopAfterSteps:
    """Stands in for loop.StopFlag: behaves as if Ctrl-C came before check number ``steps``.

    The loop checks after every step, and before every epoch after its first (a Ctrl-C during the
    previous epoch's evaluation): with 3 steps an epoch, check 4 is the one before epoch 2.
    """

    signal_number = 2  # SIGINT

    def __init__(self, steps, write=None):
        self.steps, self.checks = steps, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @property
    def requested(self):
        self.checks += 1
        return self.checks >= self.steps


def test_a_few_sgd_steps_lower_the_loss():
    mg.manual_seed(0)
    model = build_model("resnext11_4x8d_w1", num_classes=10)
    optimizer = mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    train_split, _ = make_synthetic(n_train=64, n_test=10, seed=0)
    images = mg.tensor((train_split.images.astype(np.float32) - 128) / 64)
    losses = []
    for _ in range(6):
        loss = mg.functional.cross_entropy(model(images), train_split.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize(("interrupt_at_check", "saved_epoch", "batches_done"), [(2, 0, 2), (4, 1, None), (5, 1, 1)],
                         ids=["inside epoch 1", "during epoch 1's evaluation", "inside epoch 2"])
def test_interrupted_then_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch, straight_run, interrupt_at_check,
                                                               saved_epoch, batches_done):
    straight_dir, straight = straight_run

    monkeypatch.setattr(loop, "StopFlag", lambda write=None: StopAfterSteps(interrupt_at_check))
    with pytest.raises(KeyboardInterrupt):
        train.run(small_args(tmp_path / "interrupted"))
    saved = load_checkpoint(tmp_path / "interrupted" / CHECKPOINT_NAME)
    # A stop asked for during an evaluation saves no further step: the end-of-epoch checkpoint stands.
    assert saved["epoch"] == saved_epoch
    assert (saved["partial_epoch"] or {}).get("batches_done") == batches_done

    monkeypatch.setattr(loop, "StopFlag", lambda write=None: StopAfterSteps(10**9))
    resumed = train.run(small_args(tmp_path / "interrupted", "--resume"))

    assert without_timing(resumed) == without_timing(straight)
    straight_weights, resumed_weights = weights_of(straight_dir), weights_of(tmp_path / "interrupted")
    assert list(straight_weights) == list(resumed_weights)
    for name in straight_weights:
        assert np.array_equal(straight_weights[name], resumed_weights[name]), name
    lines = (tmp_path / "interrupted" / METRICS_NAME).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_training_writes_metrics_checkpoint_and_plot(straight_run):
    pytest.importorskip("matplotlib")
    tmp_path, history = straight_run
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[1]["lr"] < history[0]["lr"]  # the one-cycle schedule decays it after the warm-up
    assert (tmp_path / PLOT_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(line) for line in (tmp_path / METRICS_NAME).read_text().splitlines()]
    assert set(rows[0]) >= {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"}
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_a_checkpoint_holds_plain_data_only_so_moving_modules_cannot_break_it(straight_run):
    """No module or class name is stored (a checkpoint of the flat resnext_np/ of 0.3 loads after
    the move to resnext_np/training/): only arrays, numbers, strings, lists and dicts."""
    out_dir, _ = straight_run
    state = load_checkpoint(out_dir / CHECKPOINT_NAME)

    def leaves(value):
        if isinstance(value, dict):
            return [leaf for key, item in value.items() for leaf in [key, *leaves(item)]]
        if isinstance(value, (list, tuple)):
            return [leaf for item in value for leaf in leaves(item)]
        return [value]

    strange = [leaf for leaf in leaves(state)
               if not isinstance(leaf, (np.ndarray, np.generic, int, float, str, bool, type(None)))]
    named = [leaf for leaf in leaves(state) if isinstance(leaf, str) and ("resnext_np." in leaf or "<class" in leaf)]
    assert strange == [] and named == []


def test_resuming_a_finished_run_repeats_its_final_accuracy(straight_run, capsys):
    out_dir, history = straight_run
    capsys.readouterr()
    assert train.run(small_args(out_dir, "--resume")) == history
    out = capsys.readouterr().out
    assert "already finished 2 epochs; nothing to do" in out
    assert (f"final test accuracy: {history[-1]['test_acc']:.4f} (average of the weights of the last 25% of the steps; "
            f"with flip test-time augmentation {history[-1]['test_acc_flip_tta']:.4f})") in out


def test_without_matplotlib_training_says_how_to_get_the_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    train.run(small_args(tmp_path, "--epochs", "1"))
    assert "pip install" in capsys.readouterr().out
    assert not (tmp_path / PLOT_NAME).exists()


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    assert train.main(SMALL_RUN + ["--epochs", "1", "--out", str(tmp_path)]) == 0
    checkpoint = tmp_path / CHECKPOINT_NAME
    good_bytes = checkpoint.read_bytes()

    real_cross_entropy = mg.functional.cross_entropy
    calls = {"count": 0}

    def diverging_cross_entropy(logits, target, **options):
        calls["count"] += 1
        loss = real_cross_entropy(logits, target, **options)
        return loss * float("nan") if calls["count"] == 2 else loss

    monkeypatch.setattr(mg.functional, "cross_entropy", diverging_cross_entropy)
    code = train.main(SMALL_RUN + ["--out", str(tmp_path), "--resume"])
    message = capsys.readouterr().err
    assert code == 3
    assert "epoch 2, step 2" in message and "nan" in message
    assert checkpoint.read_bytes() == good_bytes


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--dataset", "cifar10", "--data-dir", "{tmp}"], "cifar-10-python.tar.gz"),
        (["--resume", "--out", "{tmp}/nowhere"], "no checkpoint"),
    ],
    ids=["missing CIFAR archive", "resume without checkpoint"],
)
def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys, argv, expected):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert train.main(argv + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err


def test_existing_run_is_not_overwritten_and_resume_checks_the_arguments(tmp_path, capsys):
    assert train.main(SMALL_RUN + ["--epochs", "1", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert train.main(SMALL_RUN + ["--epochs", "1", "--out", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert train.main(SMALL_RUN + ["--out", str(tmp_path), "--resume", "--seed", "5"]) == 2
    assert "--seed is 5 but the checkpoint was made with 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, expected",
    [(["--epochs", "0"], "--epochs must be >= 1, got 0"), (["--lr", "-1"], "--lr must be a finite number > 0, got -1.0"),
     (["--model", "resnet50"], "invalid choice: 'resnet50'")],
)
def test_bad_arguments_are_usage_errors_without_traceback(argv, expected):
    finished = subprocess.run([sys.executable, "-m", "resnext_np.train", *argv],
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert expected in finished.stderr and "Traceback" not in finished.stderr


def test_evaluate_prints_accuracy_and_per_class_table(straight_run, capsys):
    out_dir, history = straight_run
    assert evaluate.main([str(out_dir / CHECKPOINT_NAME), "--test-size", "64"]) == 0
    out = capsys.readouterr().out
    assert f"test accuracy {history[-1]['test_acc']:.4f}" in out
    assert "horizontal stripes" in out and "most confused with" in out
    # The recipe uses flip TTA: the table says so above it, not in a column header it lacks.
    assert "per class, with flip test-time augmentation:" in out and "(with flip TTA)" not in out


def test_per_class_table_counts_by_hand():
    predictions = np.array([0, 1, 1, 2, 0])
    labels = np.array([0, 0, 1, 2, 2])
    rows = evaluate.per_class_table(predictions, labels, ["a", "b", "c"])
    assert rows == [("a", 1, 2, 0.5, "b"), ("b", 1, 1, 1.0, "-"), ("c", 1, 2, 0.5, "a")]


def test_threads_option_sets_minigrads_thread_count(tmp_path):
    before = mg.get_num_threads()
    try:
        train.run(small_args(tmp_path / "run", "--threads", "1", "--epochs", "1", "--train-size", "32", "--test-size", "16"))
        assert mg.get_num_threads() == 1
    finally:
        mg.set_num_threads(before)


def test_progress_bars_are_closed_however_the_loop_ends(capsys):
    """So that what is printed next ("interrupted" after a Ctrl-C) starts on a line of its own."""
    pytest.importorskip("tqdm")
    progress = report.Progress(shown=True)
    with pytest.raises(KeyboardInterrupt), progress:
        epochs = progress.epochs(0, 2)
        for epoch in epochs:
            batches = progress.batches(range(5), epoch, 5)
            for _ in batches:
                raise KeyboardInterrupt
    assert epochs.disable and batches.disable  # tqdm's mark of a closed bar
    assert capsys.readouterr().err.endswith("\n")


def test_the_first_run_is_told_that_numba_compiles_only_while_nothing_is_cached(tmp_path, monkeypatch):
    package = tmp_path / "site" / "minigrad"
    monkeypatch.setattr(report.mg, "__file__", str(package / "__init__.py"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert not report.kernels_cached()
    user_cache = tmp_path / "home" / ".cache" / "numba" / "site" / "minigrad" / "kernels"
    user_cache.mkdir(parents=True)
    (user_cache / "im2col.im2col-40.py311.nbi").write_bytes(b"")  # where read-only sources cache
    assert report.kernels_cached()
