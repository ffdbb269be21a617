"""benchmarks/conv.py: PyTorch timed in a process of its own, started with the environment the benchmark started with."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

try:
    from script_loader import ROOT, load_script
except ImportError:  # run from the repository root as tests.test_conv_benchmark
    from tests.script_loader import ROOT, load_script

# In a fresh interpreter without OpenMP settings: load the benchmark (which imports minigrad, and
# so sets them in os.environ), then start PyTorch's worker with subprocess.Popen replaced by a recorder.
CHECK = """
import importlib.util, json, os, subprocess, sys
spec = importlib.util.spec_from_file_location("conv_benchmark", sys.argv[1])
conv_benchmark = importlib.util.module_from_spec(spec); spec.loader.exec_module(conv_benchmark)
seen = {}
def record(command, **options):
    seen.update(command=command, env=options.get("env", os.environ))
conv_benchmark.subprocess.Popen = record
conv_benchmark.TorchWorker(3, reuse_memory=True)
print(json.dumps({"here": os.environ.get("OMP_WAIT_POLICY"), "command": seen["command"][1:],
                  "worker": [seen["env"].get(name) for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")]}))
"""


def test_pytorchs_worker_does_not_inherit_the_openmp_settings_that_importing_minigrad_made():
    environment = {name: value for name, value in os.environ.items() if name not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = subprocess.run([sys.executable, "-c", CHECK, str(ROOT / "benchmarks" / "conv.py")], env=environment,
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["here"] == "PASSIVE"  # minigrad did set it in this process...
    assert seen["worker"] == [None, None]  # ...and PyTorch's worker started without it
    assert seen["command"] == [str(ROOT / "benchmarks" / "conv_torch_worker.py"), "--threads", "3", "--reuse-memory"]


WORKER_ALONE = """
import importlib.util, io, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("conv_torch_worker", sys.argv[1])
worker = importlib.util.module_from_spec(spec); spec.loader.exec_module(worker)
np.savez(sys.argv[2], x=np.ones((1, 2, 4, 4), np.float32), weight=np.ones((2, 1, 3, 3), np.float32),
         grad_out=np.ones((1, 2, 4, 4), np.float32), padding=1, groups=2)
worker.SETTLE_SECONDS = 0.0
worker.serve(1, reuse_memory=True, lines=io.StringIO(f"load {sys.argv[2]}\\nrun\\n"), answer=lambda text, flush: None)
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("minigrad", "numba"))))
"""


def test_the_worker_never_imports_minigrad_even_to_reuse_memory(tmp_path):
    pytest.importorskip("torch")
    result = subprocess.run([sys.executable, "-c", WORKER_ALONE, str(ROOT / "benchmarks" / "conv_torch_worker.py"),
                             str(tmp_path / "arrays.npz")], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


@pytest.fixture
def torch_threads_restored():
    """PyTorch's thread count as it was before the test (``serve`` sets it, here in pytest's own process)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_the_worker_times_pytorchs_forward_and_backward_on_the_arrays_it_is_given(tmp_path, monkeypatch,
                                                                                    torch_threads_restored):
    worker = load_script("benchmarks/conv_torch_worker.py", "conv_torch_worker")
    monkeypatch.setattr(worker, "SETTLE_SECONDS", 0.0)
    rng = np.random.default_rng(0)
    path = tmp_path / "arrays.npz"
    np.savez(path, x=rng.standard_normal((2, 4, 6, 6), dtype=np.float32),
             weight=rng.standard_normal((4, 2, 3, 3), dtype=np.float32),
             grad_out=rng.standard_normal((2, 4, 6, 6), dtype=np.float32), padding=1, groups=2)
    answers = []
    worker.serve(1, reuse_memory=False, lines=io.StringIO(f"load {path}\nrun\nrun\n"),
                 answer=lambda text, flush: answers.append(json.loads(text)))
    assert answers[0] == {"ready": True, "threads": 1}
    assert len(answers) == 3 and all(len(times) == 2 and all(t > 0 for t in times) for times in answers[1:])


def test_the_worker_refuses_a_run_before_a_load_and_says_what_it_got(torch_threads_restored):
    worker = load_script("benchmarks/conv_torch_worker.py", "conv_torch_worker_refuses")
    with pytest.raises(SystemExit, match=r"expected 'load PATH' or \(after a load\) 'run', got 'run'"):
        worker.serve(1, reuse_memory=False, lines=io.StringIO("run\n"), answer=print)


def _row_of_a_tiny_shape(capsys, monkeypatch, module_name, with_pytorch):
    """The benchmark run on one tiny shape: (what it printed, the shape's row split into fields)."""
    conv_benchmark = load_script("benchmarks/conv.py", module_name)
    monkeypatch.setattr(conv_benchmark, "SHAPES", [(2, 8, 6, 2, 3)])
    monkeypatch.setattr(conv_benchmark, "SETTLE_SECONDS", 0.0)
    if not with_pytorch:
        monkeypatch.setattr(conv_benchmark, "pytorch_is_installed", lambda: False)
        monkeypatch.setattr(conv_benchmark, "TorchWorker", None)  # starting a worker would fail
    monkeypatch.setattr(sys, "argv", ["conv.py", "--skip-reference", "--repeat", "2", "--threads", "1"])
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    conv_benchmark.main()
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("2,8,6,g2,3"))
    return out, row.replace("|", " ").split()


def test_the_benchmark_prints_pytorchs_times_from_its_worker(capsys, monkeypatch):
    pytest.importorskip("torch")
    out, fields = _row_of_a_tiny_shape(capsys, monkeypatch, "conv_benchmark_rows", with_pytorch=True)
    assert "PyTorch: 1 threads in a process of its own for each shape, its allocator defaults" in out
    numbers = [float(value) for value in fields[2:] if value != "-"]
    assert len(numbers) == 7  # ours: forward, forward + backward, MiB; PyTorch's two times; the two speedups
    assert all(value >= 0 for value in numbers[:5])  # printed to 0.1 ms: a tiny shape may print 0.0
    assert numbers[5] > 0 and numbers[6] > 0  # PyTorch's time over ours, from the unrounded times


def test_without_pytorch_the_benchmark_times_ours_alone(capsys, monkeypatch):
    out, fields = _row_of_a_tiny_shape(capsys, monkeypatch, "conv_benchmark_alone", with_pytorch=False)
    assert "PyTorch: n/a (not installed)" in out
    assert fields[-4:] == ["-", "-", "-", "-"] and float(fields[3]) >= 0


class _RecordingWorker:
    """Stands in for TorchWorker: records each worker started, the shapes it loads and whether it was closed."""

    started = []

    def __init__(self, threads, reuse_memory):
        self.loaded, self.closed = [], False
        _RecordingWorker.started.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.closed = True

    def load(self, x, weight, grad_out, geom):
        self.loaded.append(x.shape)

    def run(self):
        return [0.001, 0.002]


def test_each_shape_gets_a_fresh_pytorch_worker_so_no_row_depends_on_the_rows_before(capsys, monkeypatch):
    conv_benchmark = load_script("benchmarks/conv.py", "conv_benchmark_fresh_workers")
    monkeypatch.setattr(conv_benchmark, "SHAPES", [(2, 8, 6, 2, 3), (1, 4, 5, 1, 1)])
    monkeypatch.setattr(conv_benchmark, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(conv_benchmark, "pytorch_is_installed", lambda: True)
    monkeypatch.setattr(_RecordingWorker, "started", [])
    monkeypatch.setattr(conv_benchmark, "TorchWorker", _RecordingWorker)
    monkeypatch.setattr(sys, "argv", ["conv.py", "--skip-reference", "--repeat", "2", "--threads", "1"])
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    conv_benchmark.main()
    assert [worker.loaded for worker in _RecordingWorker.started] == [[(2, 8, 6, 6)], [(1, 4, 5, 5)]]
    assert all(worker.closed for worker in _RecordingWorker.started)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith(("2,8,6,g2,3", "1,4,5,g1,1"))]
    assert [row.replace("|", " ").split()[-4:-2] for row in rows] == [["1.0", "2.0"], ["1.0", "2.0"]]  # the worker's ms
