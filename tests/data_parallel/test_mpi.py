"""On 2 MPI ranks (``mpiexec -n 2``, in subprocesses): the big-batch equivalence, the sampler, the
training command's resume, and a failing rank ending the job. Skipped, naming mpi4py, where it is
not installed (README's environment); ``.ci/run`` installs the ``mpi`` extra and runs them."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from mpi_helpers import REPO_ROOT, SCRIPTS, mpi_environment, mpiexec_command, run_on_ranks, run_script

from resnext_np.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow
TRAIN = ["-m", "resnext_np.train", "--epochs", "3", "--train-size", "96", "--test-size", "32", "--batch-size", "16",
         "--no-progress"]


def test_two_ranks_of_16_with_sync_batchnorm_take_the_steps_of_one_process_of_32():
    output = run_script(2, "big_batch.py").stdout
    assert output.count("largest weight difference") == 2, output


def test_every_rank_draws_the_same_epoch_order_and_the_shards_cover_the_set():
    output = run_script(2, "epoch_orders.py").stdout
    assert "epoch 1: 2 shards of 19" in output, output


def test_a_rank_that_raises_ends_the_job_within_seconds_with_its_error(tmp_path):
    started = time.monotonic()
    result = run_on_ranks(2, str(SCRIPTS / "one_rank_fails.py"), "raise", str(tmp_path / "pid"), timeout=60)
    assert result.returncode != 0
    assert "RuntimeError: rank 1 fails on purpose" in result.stderr, result.stderr
    assert time.monotonic() - started < 30


def test_killing_one_rank_ends_the_job_with_an_error(tmp_path):
    pid_file = tmp_path / "pid"
    job = subprocess.Popen(mpiexec_command(2, str(SCRIPTS / "one_rank_fails.py"), "kill", str(pid_file)),
                           env=mpi_environment(), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists():
            assert job.poll() is None and time.monotonic() < deadline, "rank 1 never started"
            time.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        _, stderr = job.communicate(timeout=30)  # a hang fails here
    finally:
        if job.poll() is None:
            job.kill()
            job.communicate()
    assert job.returncode != 0, stderr


def checkpoint_of(folder):
    return load_checkpoint(os.path.join(folder, "checkpoint.ckpt"))


def without_timing(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_second")} for row in history]


def signal_after_epoch_1(out, send):
    """Start the small run on 2 ranks into ``out``, call ``send(job)`` once epoch 1 is reported, and wait
    for the job to end; returns its exit status and output."""
    log = out.parent / f"{out.name}.log"
    with open(log, "w") as stream:
        job = subprocess.Popen(mpiexec_command(2, *TRAIN, "--out", str(out)), env=mpi_environment(), cwd=REPO_ROOT,
                               stdout=stream, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while "epoch 1/3" not in log.read_text():
                assert job.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            send(job)
            job.wait(timeout=60)
        finally:
            if job.poll() is None:
                job.kill()
                job.wait()
    return job.returncode, log.read_text()


def test_sigterm_to_mpiexec_leaves_a_whole_checkpoint_and_resume_on_2_ranks_continues_bit_for_bit(tmp_path):
    straight = run_on_ranks(2, *TRAIN, "--out", str(tmp_path / "straight"), timeout=180)
    assert straight.returncode == 0, straight.stderr
    lines = straight.stdout.splitlines()
    assert lines[0].startswith("data-parallel on 2 ranks (mpiexec)"), lines[0]
    assert sum(line.startswith("plan:") for line in lines) == 1, "only rank 0 prints"

    signal_after_epoch_1(tmp_path / "stopped", lambda job: job.send_signal(signal.SIGTERM))
    saved = checkpoint_of(tmp_path / "stopped")  # whole: it loads, checksum and all
    assert saved["epoch"] < 3 or saved["partial_epoch"] is not None, "the run ended before the signal"

    resumed = run_on_ranks(2, *TRAIN, "--out", str(tmp_path / "stopped"), "--resume", timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    expected, actual = checkpoint_of(tmp_path / "straight"), checkpoint_of(tmp_path / "stopped")
    assert without_timing(actual["history"]) == without_timing(expected["history"])
    for name, weight in expected["model"].items():
        assert np.array_equal(weight, actual["model"][name]), name

    # One process cannot continue a 2-rank run: a step would learn from half the images.
    alone = subprocess.run([sys.executable, *TRAIN, "--out", str(tmp_path / "straight"), "--resume", "--epochs", "4"],
                           capture_output=True, text=True, cwd=REPO_ROOT, env=mpi_environment(), timeout=120)
    assert alone.returncode == 2 and "mpiexec -n is 1 but the checkpoint was made with 2" in alone.stderr, alone.stderr


def test_sigterm_to_rank_0_alone_stops_every_rank_after_the_same_step_with_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    status, output = signal_after_epoch_1(out, lambda job: os.kill(int((out / ".lock").read_text()), signal.SIGTERM))
    assert status != 0 and "saved" in output and "continue with the same command plus --resume" in output, output
    saved = checkpoint_of(out)
    assert saved["partial_epoch"] is not None or saved["epoch"] == 2, (saved["epoch"], saved["partial_epoch"])
    assert "MPI_ABORT" not in output, output  # they stopped together, nobody had to end the job
