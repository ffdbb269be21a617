"""What the training and evaluation commands refuse or report instead of going silently wrong:
unsafe or corrupt checkpoints, a second run in the same folder, divergence, bad options."""

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minigrad as mg
from resnext_np import evaluate, train
from resnext_np.training import divergence, loaders, loop, metrics, scoring
from resnext_np.training.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint, save_checkpoint
from resnext_np.training.metrics import METRICS_NAME
from resnext_np.training.run_folder import RunFolder, RunFolderError

ONE_EPOCH = ["--epochs", "1", "--train-size", "64", "--test-size", "32", "--batch-size", "32", "--no-progress"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("finished")
    assert train.main(ONE_EPOCH + ["--out", str(out_dir)]) == 0
    return out_dir


def run_main(argv, capsys):
    code = train.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > PWNED",))


# ------------------------------------------------------------------------ checkpoints
def test_evaluate_refuses_a_pickle_checkpoint_without_running_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checkpoint.pkl").write_bytes(pickle.dumps({"args": RunsCode()}))
    assert evaluate.main([str(tmp_path / "checkpoint.pkl")]) == 2
    err = capsys.readouterr().err
    assert "looks like a pickle" in err and "python -m minigrad.serialization convert-pickle" in err
    assert not (tmp_path / "PWNED").exists()


def test_resume_next_to_an_old_pickle_checkpoint_names_the_conversion(tmp_path, capsys):
    (tmp_path / "checkpoint.pkl").write_bytes(pickle.dumps({"epoch": 1}))
    code, _, err = run_main(ONE_EPOCH + ["--out", str(tmp_path), "--resume"], capsys)
    assert code == 2
    assert f"convert-pickle {tmp_path / 'checkpoint.pkl'} {tmp_path / 'checkpoint.ckpt'}" in err
    code, _, err = run_main(ONE_EPOCH + ["--out", str(tmp_path)], capsys)
    assert code == 2 and "checkpoint.pkl already exists" in err


def test_a_flipped_byte_in_a_checkpoint_stops_resume_and_evaluate(finished_run, tmp_path, capsys):
    data = bytearray((finished_run / CHECKPOINT_NAME).read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp_path / CHECKPOINT_NAME).write_bytes(bytes(data))
    code, _, err = run_main(ONE_EPOCH + ["--epochs", "2", "--out", str(tmp_path), "--resume"], capsys)
    assert code == 2 and "is corrupt: its sha256 is" in err
    assert evaluate.main([str(tmp_path / CHECKPOINT_NAME)]) == 2
    assert "is corrupt" in capsys.readouterr().err


def test_resume_refuses_changed_training_options_and_names_them(finished_run, capsys):
    code, _, err = run_main(ONE_EPOCH + ["--out", str(finished_run), "--resume", "--lr", "0.5", "--momentum", "0.5"], capsys)
    assert code == 2
    assert "--lr is 0.5 but the checkpoint was made with 0.05" in err
    assert "--momentum is 0.5 but the checkpoint was made with 0.9" in err


# ------------------------------------------------------------------------ run folder
def test_a_second_run_in_a_locked_folder_is_refused(tmp_path, capsys):
    with RunFolder(str(tmp_path)):
        code, _, err = run_main(ONE_EPOCH + ["--out", str(tmp_path)], capsys)
    assert code == 2 and f"another run (pid {os.getpid()}) is using {tmp_path}" in err
    assert not (tmp_path / CHECKPOINT_NAME).exists()


def test_the_lock_of_a_killed_run_is_taken_over_and_its_temporary_files_removed(tmp_path):
    killed = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from resnext_np.training.run_folder import RunFolder\n"
                               f"with RunFolder({str(tmp_path)!r}):\n"
                               "    print('locked', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert killed.stdout.readline().strip() == "locked"
    with pytest.raises(RunFolderError, match=f"pid {killed.pid}"):
        RunFolder(str(tmp_path)).__enter__()
    (tmp_path / ".tmp-abc123checkpoint.ckpt").write_bytes(b"half a checkpoint")
    killed.kill()
    killed.wait()
    assert (tmp_path / ".lock").read_text().strip() == str(killed.pid)  # the stale lock file stays behind
    with RunFolder(str(tmp_path)) as folder:
        assert folder.removed_temporaries == [".tmp-abc123checkpoint.ckpt"]
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    assert os.listdir(tmp_path) == []


def test_a_run_folder_that_ends_empty_is_removed_only_if_the_run_made_it(tmp_path):
    made = tmp_path / "made"
    with pytest.raises(RuntimeError, match="failed before writing"):
        with RunFolder(str(made)):
            raise RuntimeError("failed before writing")
    assert not made.exists()
    (tmp_path / "given").mkdir()
    with RunFolder(str(tmp_path / "given")):
        pass
    assert (tmp_path / "given").is_dir()


def test_a_plan_whose_warm_up_is_one_step_trains_instead_of_dividing_by_zero(tmp_path, capsys):
    """Issue 23: 160 images in batches of 32 are 5 steps, and OneCycleLR's 20% warm-up is one step."""
    code, out, err = run_main(["--epochs", "1", "--train-size", "160", "--test-size", "64", "--no-progress",
                               "--out", str(tmp_path / "run")], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert "plan: 5 steps" in out and (tmp_path / "run" / "checkpoint.ckpt").exists()


def test_an_unwritable_out_is_reported_in_one_line_before_any_training(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    code, out, err = run_main(ONE_EPOCH + ["--out", str(tmp_path / "a_file" / "run")], capsys)
    assert code == 2 and err.startswith("error: cannot write to the run folder") and "Traceback" not in err
    assert "parameters" not in out  # refused before the model was built


# ------------------------------------------------------------------------ options
@pytest.mark.parametrize("argv, expected", [
    (["--momentum", "nan"], "--momentum must be a finite number in [0, 1), got nan"),
    (["--momentum", "1.5"], "--momentum must be a finite number in [0, 1), got 1.5"),
    (["--weight-decay", "nan"], "--weight-decay must be a finite number >= 0, got nan"),
    (["--weight-decay", "inf"], "--weight-decay must be a finite number >= 0, got inf"),
    (["--lr", "inf"], "--lr must be a finite number > 0, got inf"),
    (["--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--test-size", "0"], "--test-size must be >= 1, got 0"),
])
def test_every_numeric_option_is_validated(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(argv)
    assert exit_info.value.code == 2 and expected in capsys.readouterr().err


def test_a_batch_larger_than_the_training_set_is_refused(tmp_path, capsys):
    code, _, err = run_main(ONE_EPOCH + ["--batch-size", "100", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--batch-size 100 is larger than the 64 training images; use --batch-size 64 or less" in err


# ------------------------------------------------------------------------ divergence
def test_divergence_in_the_first_epoch_names_the_layer_and_claims_no_checkpoint(tmp_path, capsys):
    code, _, err = run_main(ONE_EPOCH + ["--lr", "1e30", "--out", str(tmp_path)], capsys)
    assert code == 3
    assert "at epoch 1, step" in err and "it started in stage_" in err and "(Conv2d)" in err
    assert "no checkpoint was written" in err and "--lr (now 1e+30)" in err
    assert not (tmp_path / CHECKPOINT_NAME).exists()


def test_an_infinite_batchnorm_variance_is_caught_and_the_good_checkpoint_kept(finished_run, tmp_path, monkeypatch, capsys):
    (tmp_path / CHECKPOINT_NAME).write_bytes((finished_run / CHECKPOINT_NAME).read_bytes())
    good = (tmp_path / CHECKPOINT_NAME).read_bytes()
    real_step = mg.optim.SGD.step
    model_holder = {}
    real_build = loop.build_model

    def build_and_keep(*args, **kwargs):
        model_holder["model"] = model = real_build(*args, **kwargs)
        return model

    monkeypatch.setattr(loop, "build_model", build_and_keep)

    def poison_running_var(optimizer):
        real_step(optimizer)
        bn = next(module for name, module in model_holder["model"].named_modules() if name.endswith("bn_1"))
        bn.running_var[0] = np.inf

    monkeypatch.setattr(mg.optim.SGD, "step", poison_running_var)
    code, _, err = run_main(ONE_EPOCH + ["--epochs", "2", "--out", str(tmp_path), "--resume"], capsys)
    assert code == 3
    assert "bn_1.running_var became non-finite at epoch 2, step 1" in err
    assert f"the last good checkpoint (end of epoch 1) is kept in {tmp_path / CHECKPOINT_NAME}" in err
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == good


def test_a_non_finite_test_loss_stops_the_run_without_saving_that_epoch(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(scoring, "score", lambda model, loader, flip_tta=False: (math.nan, 0.1, None, None))
    code, _, err = run_main(ONE_EPOCH + ["--out", str(tmp_path)], capsys)
    assert code == 3 and "the test loss became nan at epoch 1" in err and "no checkpoint was written" in err
    assert not (tmp_path / CHECKPOINT_NAME).exists() and not (tmp_path / METRICS_NAME).exists()


def test_a_checkpoint_with_non_finite_buffers_is_neither_saved_nor_loaded(finished_run, tmp_path):
    state = load_checkpoint(finished_run / CHECKPOINT_NAME)
    name = next(key for key in state["model"] if key.endswith("running_var"))
    state["model"][name][0] = np.inf
    with pytest.raises(CheckpointError, match=f"not saving .*: model.{name} holds non-finite values"):
        save_checkpoint(tmp_path / "bad.ckpt", state)
    assert not (tmp_path / "bad.ckpt").exists()
    mg.save(state, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match=f"non-finite values in model.{name}"):
        load_checkpoint(tmp_path / "bad.ckpt")


def test_the_first_layer_with_a_non_finite_output_or_gradient_is_named():
    model = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.ReLU(), mg.nn.Linear(4, 2), mg.nn.Linear(2, 2))
    images = np.ones((2, 3), dtype=np.float32)
    assert divergence.first_non_finite_output(model, images) is None
    model[2].weight.data[0, 0] = np.inf
    assert divergence.first_non_finite_output(model, images) == "2 (Linear)"
    assert divergence.first_non_finite_output(model, images * np.nan) == "the input images"
    model[2].weight.data[0, 0] = 1.0
    model[3].weight.data[0, 0] = np.nan
    model(mg.tensor(images)).sum().backward()
    # Walking back from the loss: layer 3's own gradients are finite, layer 2's are not.
    assert divergence.first_non_finite_gradient(model) == "2.bias"
    assert divergence.first_non_finite_state(model) == "3.weight"


def test_metrics_lines_are_strict_json_with_null_for_non_finite_values():
    line = metrics.json_line({"epoch": 1, "test_loss": math.nan, "lr": math.inf, "train_loss": 0.5})
    strict = json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in {line}"))
    assert strict == {"epoch": 1, "test_loss": None, "lr": None, "train_loss": 0.5}


# ------------------------------------------------------------------------ signals
def test_sigterm_saves_a_checkpoint_like_ctrl_c(tmp_path):
    out_dir = tmp_path / "run"
    command = [sys.executable, "-m", "resnext_np.train", "--epochs", "50", "--train-size", "64", "--test-size", "32",
               "--batch-size", "16", "--no-progress", "--out", str(out_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out_dir / CHECKPOINT_NAME).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM: finishing this step, saving a checkpoint" in err and "saved" in out
    saved = load_checkpoint(out_dir / CHECKPOINT_NAME)  # inside epoch 2, or at its start if the signal came
    assert saved["partial_epoch"] is not None or saved["epoch"] == 1  # during epoch 1's evaluation


def test_no_progress_also_hides_the_download_bar(monkeypatch):
    seen = {}
    real_load_dataset = loaders.datasets.load_dataset

    def recording_load_dataset(name, **options):
        seen.update(options)
        return real_load_dataset(name, **options)

    monkeypatch.setattr(loaders.datasets, "load_dataset", recording_load_dataset)
    loaders.load_data(train.parse_args(ONE_EPOCH))
    assert seen["progress"] is False
    loaders.load_data(train.parse_args([]))
    assert seen["progress"] is True


def test_a_second_ctrl_c_ends_the_process_with_interrupted_and_no_traceback():
    script = ("import os, signal, time\n"
              "from resnext_np.training.stop import StopFlag\n"
              "with StopFlag() as stop:\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "    assert stop.requested\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "    time.sleep(10)\n"
              "print('not reached')\n")
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 128 + signal.SIGINT
    assert finished.stderr.rstrip().endswith("interrupted") and "Traceback" not in finished.stderr
    assert "not reached" not in finished.stdout


def test_a_full_disk_is_one_line_and_keeps_the_previous_checkpoint(finished_run, tmp_path, monkeypatch, capsys):
    (tmp_path / CHECKPOINT_NAME).write_bytes((finished_run / CHECKPOINT_NAME).read_bytes())
    good = (tmp_path / CHECKPOINT_NAME).read_bytes()

    def disk_full(state, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mg, "save", disk_full)
    code, _, err = run_main(ONE_EPOCH + ["--epochs", "2", "--out", str(tmp_path), "--resume"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (f"error: could not write {tmp_path / CHECKPOINT_NAME}: No space left on device; "
                           f"the previous checkpoint (end of epoch 1) is kept")
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == good
