"""Is a change faster? Training steps of two checkouts, timed in alternating bursts.

    git worktree add /tmp/before HEAD~3
    python benchmarks/compare_checkouts.py /tmp/before .                       # the default model at batch 32
    python benchmarks/compare_checkouts.py /tmp/before . --case resnext29_32x4d:64 --bursts 12 --steps 2
    python benchmarks/compare_checkouts.py . .                                 # A/A: how far apart two equal runs land

On a shared machine whose speed moves by 20-40% within seconds, two benchmark runs one after
the other can differ by more than a change does. So each checkout runs in a process of its own
(the checkout first on the import path, its kernels compiled into a fresh Numba cache, so that
nothing compiled from other sources is reused), both stay up, and they take turns: a burst of
``--steps`` training steps (forward, cross-entropy, backward, Nesterov SGD; a fixed random
float32 batch) in one, then a burst in the other, the order flipping every burst. A change in
the machine's speed then hits both sides of a pair alike. Reported: each side's median step and
images per second, and the median of the per-pair ratios old/new with their range (> 1: the
new checkout is faster). Run it with `. .` once to see the ratios' spread with no change at all.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# The step is written here, not taken from each checkout's benchmarks/train_step.py, so that both
# sides run the same step code whatever their benchmarks hold.
WORKER = r"""
import json, sys, time
import numpy as np
import minigrad as mg
from resnext_np.model import build_model
preset, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mg.set_num_threads(threads)
model = build_model(preset, generator=0)
optimizer = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
rng = np.random.default_rng(0)
images = mg.Tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
labels = mg.Tensor(rng.integers(0, 10, batch))

def step():
    optimizer.zero_grad()
    mg.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()

for _ in range(2):  # compiles the kernels
    step()
print(json.dumps({"minigrad": mg.__file__}), flush=True)
for line in sys.stdin:
    seconds = []
    for _ in range(int(line)):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    print(json.dumps(seconds), flush=True)
"""


def checkout(path):
    """A folder holding ``minigrad/`` and ``resnext_np/``, as an absolute Path."""
    folder = Path(path).resolve()
    if not (folder / "minigrad" / "__init__.py").is_file() or not (folder / "resnext_np" / "__init__.py").is_file():
        raise SystemExit(f"compare_checkouts: {path} is not a checkout of this project (no minigrad/ and resnext_np/ in {folder})")
    return folder


def start_worker(folder, preset, batch, threads, cache_dir):
    env = dict(os.environ, PYTHONPATH=str(folder))
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    process = subprocess.Popen([sys.executable, "-c", WORKER, preset, str(batch), str(threads)], cwd=folder, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first_line = process.stdout.readline()
    if not first_line:
        raise SystemExit(f"compare_checkouts: the worker for {folder} stopped before its first step (its error is above)")
    imported = Path(json.loads(first_line)["minigrad"]).resolve()
    if folder not in imported.parents:
        raise SystemExit(f"compare_checkouts: the worker for {folder} imported minigrad from {imported}")
    return process


def burst(process, steps):
    process.stdin.write(f"{steps}\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def parse_case(text):
    preset, _, batch = text.partition(":")
    if not batch.isdigit() or int(batch) < 1:
        raise argparse.ArgumentTypeError(f"--case takes PRESET:BATCH, e.g. resnext11_4x8d_w1:32; got {text!r}")
    return preset, int(batch)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="the checkout to compare against (e.g. a git worktree of an earlier commit)")
    parser.add_argument("new", nargs="?", default=".", help="the checkout with the change (default: .)")
    parser.add_argument("--case", type=parse_case, default=("resnext11_4x8d_w1", 32), help="PRESET:BATCH (default resnext11_4x8d_w1:32)")
    parser.add_argument("--bursts", type=int, default=60, help="bursts per checkout (default 60)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per burst (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="minigrad.set_num_threads in both (default 2)")
    parser.add_argument("--reuse-numba-cache", action="store_true",
                        help="load each checkout's kernels from the Numba cache it already has instead of compiling "
                             "them afresh (starts in seconds; a checkout from before minigrad/kernels/compiled_cache.py "
                             "may then time kernels compiled from its files' older versions)")
    args = parser.parse_args(argv)
    for name in ("bursts", "steps", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    old, new = checkout(args.old), checkout(args.new)
    preset, batch = args.case
    with tempfile.TemporaryDirectory() as old_cache, tempfile.TemporaryDirectory() as new_cache:
        if args.reuse_numba_cache:
            old_cache = new_cache = None
        workers = {"old": start_worker(old, preset, batch, args.threads, old_cache),
                   "new": start_worker(new, preset, batch, args.threads, new_cache)}
        try:
            seconds, ratios = {"old": [], "new": []}, []
            for index in range(args.bursts):
                medians = {}
                for side in ("old", "new") if index % 2 == 0 else ("new", "old"):
                    times = burst(workers[side], args.steps)
                    seconds[side] += times
                    medians[side] = statistics.median(times)
                ratios.append(medians["old"] / medians["new"])
        finally:
            for process in workers.values():
                process.stdin.close()
                process.wait()
    print(f"{preset} at batch {batch}, {args.threads} threads: {args.bursts} bursts of {args.steps} steps per checkout, alternating")
    for side, folder in (("old", old), ("new", new)):
        step = statistics.median(seconds[side])
        print(f"  {side}  {folder}: median step {step * 1e3:.1f} ms, {batch / step:.1f} img/s")
    print(f"  old/new, per pair of bursts: median {statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}"
          f" (> 1: new is faster; new faster in {sum(r > 1 for r in ratios)} of {len(ratios)} pairs)")


if __name__ == "__main__":
    main()
