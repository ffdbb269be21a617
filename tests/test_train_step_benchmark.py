"""benchmarks/train_step.py: PyTorch's worker runs with the environment the benchmark started with; bursts taking turns."""

import json
import os
import re
import subprocess
import sys

import pytest

try:
    from script_loader import ROOT, load_script
except ImportError:  # run from the repository root as tests.test_train_step_benchmark
    from tests.script_loader import ROOT, load_script

# In a fresh interpreter without OpenMP settings: load the benchmark, import minigrad (which sets
# them in os.environ), then start a case with subprocess.run replaced by a recorder.
CHECK = """
import argparse, importlib.util, json, os, subprocess, sys
spec = importlib.util.spec_from_file_location("train_step", sys.argv[1])
train_step = importlib.util.module_from_spec(spec); spec.loader.exec_module(train_step)
import minigrad
seen = {}
def record(command, **options):
    seen.update(options.get("env", os.environ))
    return subprocess.CompletedProcess(command, 0, stdout=json.dumps({"images_per_second": 1.0}), stderr="")
train_step.subprocess.run = record
args = argparse.Namespace(steps=1, warmup=0, threads=1, reuse_memory=False, eval=False)
train_step.run_case("torch", "resnext11_4x8d_w1", 2, args)
print(json.dumps({"here": os.environ.get("OMP_WAIT_POLICY"), "worker": [seen.get(name) for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")]}))
"""


def test_pytorchs_worker_does_not_inherit_the_openmp_settings_that_importing_minigrad_made():
    environment = {name: value for name, value in os.environ.items() if name not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = subprocess.run([sys.executable, "-c", CHECK, str(ROOT / "benchmarks" / "train_step.py")], env=environment,
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["here"] == "PASSIVE"  # minigrad did set it in this process...
    assert seen["worker"] == [None, None]  # ...and PyTorch's worker started without it


def test_alternating_bursts_report_both_sides_and_the_ratios_of_each_pair(capsys):
    pytest.importorskip("torch")
    train_step = load_script("benchmarks/train_step.py", "train_step")
    assert train_step.main(["--cases", "resnext11_4x8d_w1:2", "--alternate", "3", "--steps", "1", "--warmup", "1",
                            "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 alternating bursts of 1 training steps per framework" in out
    row = re.search(r"resnext11_4x8d_w1\s+2\s+([0-9.]+)\s+\d+\s+-?\d+\s+([0-9.]+)\s+\d+\s+-?\d+\s+([0-9.]+)x", out)
    assert row and float(row.group(1)) > 0 and float(row.group(2)) > 0
    median, low, high = map(float, re.search(r"median ([0-9.]+), range ([0-9.]+)-([0-9.]+), ours faster in [0-3] of 3", out).groups())
    assert 0 < low <= median <= high


def test_a_negative_number_of_bursts_is_refused_with_the_number(capsys):
    train_step = load_script("benchmarks/train_step.py", "train_step")
    with pytest.raises(SystemExit):
        train_step.main(["--alternate", "-2"])
    assert "--alternate takes a number of bursts >= 1 (0, the default, runs each framework once), got -2" in capsys.readouterr().err
