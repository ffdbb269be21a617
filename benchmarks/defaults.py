"""Fast by default: what a user runs, as shipped against its best configuration, in one run.

    python benchmarks/defaults.py                          # every row, 2 runs each
    python benchmarks/defaults.py --before ../old-checkout # also run each row on another checkout

Each row runs in fresh processes: once as shipped (plain ``python ...``: minigrad decides how it
uses the cores, see docs/threads_and_memory.md), and once in the best configuration found by
hand, with the environment set before the process starts (``OPENBLAS_NUM_THREADS=1``: no
OpenBLAS threads at all; ``OMP_WAIT_POLICY=PASSIVE`` with ``GOMP_SPINCOUNT=10000``: idle
OpenMP threads spin briefly, then sleep). The ratio shipped / best should be about
1 (within 10%). ``--before PATH`` adds a column: the same row run on the code at PATH (e.g. a
worktree of an older commit), as shipped there. Times are seconds of wall clock (whole
commands) or milliseconds (the inner loops), the median of ``--runs`` runs, and the BLAS
library and kernel that ran are printed.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEST = {"OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"}

HAND_WRITTEN_STEP = """
import time, numpy as np, minigrad as mg
from resnext_np.model import build_model
mg.manual_seed(0)
model = build_model("resnext11_4x8d_w1", num_classes=10)
optimizer = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
rng = np.random.default_rng(0)
images, labels = mg.tensor(rng.standard_normal((128, 3, 32, 32)).astype(np.float32)), rng.integers(0, 10, 128)
times = []
for step in range(6):
    start = time.perf_counter()
    loss = mg.functional.cross_entropy(model(images), labels)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
    times.append(time.perf_counter() - start)
print("RESULT", sorted(times[2:])[2] * 1e3)
"""

AFTER_IMPORTING_TORCH = """
import time, numpy as np
try:
    from minigrad.kernels import conv
except ImportError:  # a checkout from before the convolution became a package
    from minigrad.kernels import conv_cpu as conv
from minigrad.kernels.conv_geometry import ConvGeometry
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 128, 32, 32), dtype=np.float32); w = rng.standard_normal((128, 4, 3, 3), dtype=np.float32)
geom = ConvGeometry.from_shapes(x.shape, w.shape, padding=1, groups=32)
def step():
    y = conv.conv2d_forward(x, w, geom); conv.conv2d_grad_input(y, w, geom); conv.conv2d_grad_weight(x, y, geom)
def median_ms(seconds):
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        begin = time.perf_counter(); step(); times.append((time.perf_counter() - begin) * 1e3)
    return sorted(times)[len(times) // 2]
for _ in range(3): step()
before = median_ms(1.0)
import torch
print("RESULT", median_ms(1.0) / before)
"""


def run(command, env=None, cwd=ROOT):
    """Wall seconds of ``command`` and its stdout; fails loudly if the command fails."""
    start = time.perf_counter()
    finished = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stderr[-2000:]}")
    return seconds, finished.stdout


def result_of(stdout, pattern=r"^RESULT (\S+)"):
    return float(re.search(pattern, stdout, flags=re.MULTILINE).group(1))


def rows(checkpoint):
    """(name, unit, how to measure one run: env, root -> number)."""
    python = sys.executable
    return [
        ("python -m resnext_np.evaluate CHECKPOINT (1000 images)", "s",
         lambda env, root: run([python, "-m", "resnext_np.evaluate", checkpoint], env, root)[0]),
        ("python examples/train_mlp.py", "s", lambda env, root: run([python, "examples/train_mlp.py"], env, root)[0]),
        ("hand-written training step, resnext11_4x8d_w1, batch 128", "ms",
         lambda env, root: result_of(run([python, "-c", HAND_WRITTEN_STEP], env, root)[1])),
        ("examples/three_forms.py, form (b) forward+backward", "ms",
         lambda env, root: result_of(run([python, "examples/three_forms.py", "--repeats", "3"], env, root)[1],
                                     r"^\s*\(b\) forward\s+\S+ ms\s+forward\+backward\s+(\S+) ms")),
        ("grouped 3x3 fwd+bwd after `import torch` / before (ratio)", "x",
         lambda env, root: result_of(run([python, "-c", AFTER_IMPORTING_TORCH], env, root)[1])),
    ]


def blas_in_use():
    code = ("import minigrad, threadpoolctl\n"
            "print('; '.join(f\"{p['internal_api']} {p.get('architecture')} kernels, {p['num_threads']} thread(s)\" "
            "for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'))")
    return run([sys.executable, "-c", code])[1].strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs of each configuration (median)")
    parser.add_argument("--before", default=None, help="another checkout to run each row on, as shipped there")
    parser.add_argument("--rows", default=None, help="comma-separated row numbers (1-based); default all")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        torch = None
    print(f"BLAS after `import minigrad`: {blas_in_use()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "run")
        run([sys.executable, "-m", "resnext_np.train", "--epochs", "1", "--train-size", "256", "--no-progress", "--out", out])
        checkpoint = next(os.path.join(out, name) for name in os.listdir(out) if name.startswith("checkpoint"))
        header = f"{'what a user runs':<58} {'as shipped':>11} {'best':>9} {'ratio':>7}" + (f" {'before':>9} {'before/now':>11}" if args.before else "")
        print(header)
        chosen = [int(n) for n in args.rows.split(",")] if args.rows else None
        for number, (name, unit, measure) in enumerate(rows(checkpoint), start=1):
            if chosen and number not in chosen:
                continue
            if "torch" in name and torch is None:
                print(f"{name:<58} (PyTorch is not installed: skipped)")
                continue
            shipped, best = [], []
            for _ in range(args.runs):  # interleaved, so that a change in load hits both alike
                shipped.append(measure({}, ROOT))
                best.append(measure(BEST, ROOT))
            shipped, best = statistics.median(shipped), statistics.median(best)
            line = f"{name:<58} {shipped:>9.2f}{unit:>2} {best:>7.2f}{unit:>2} {shipped / best:>7.2f}"
            if args.before:
                try:
                    before = statistics.median(measure({"PYTHONPATH": args.before}, args.before) for _ in range(args.runs))
                    line += f" {before:>7.2f}{unit:>2} {before / shipped:>11.2f}"
                except RuntimeError as error:
                    line += f"  (before: failed, {str(error).splitlines()[-1][:40]})"
            print(line, flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
