"""Data-parallel speed on this machine, and what a ring all-reduce predicts for several machines.

    python benchmarks/distributed.py                     # measure (needs the mpi extra), then predict
    python benchmarks/distributed.py --predict-only      # only the model, from the step times given below

Measured, for each model (default: resnext11_4x8d_w1 and resnext29_32x4d), a training step at batch
32 per rank (forward, cross-entropy, backward, SGD with momentum, on a fixed random float32 batch):

* 1 process x 2 threads (``minigrad.set_num_threads(2)``, no MPI);
* 2 ranks x 1 thread (``mpiexec -n 2``, ``DistributedDataParallel``, gradients averaged every step):
  images per second of the job (both ranks' images), the all-reduce's time per step
  (``average_gradients()``, the slower rank's) and its bus bandwidth, ``2 (p - 1) / p x gradient
  bytes / time`` (the bytes each rank sends and receives in a ring, as NCCL's tests report it).

Each case runs in a fresh process (the ranks under ``mpiexec``), after warm-up steps; the median of
the timed steps is reported. Run it on a quiet machine: the two cases compete for the same cores.

Predicted, for 1, 2, 4, 8 and 16 machines like this one, each running one rank of batch 32 with
all its cores: step = compute + all-reduce, where a ring all-reduce of G gradient bytes over p
machines takes ``2 (p - 1) / p x G / bandwidth + 2 (p - 1) x latency`` (no overlap: minigrad
averages after backward), and speed-up = p x compute / step (the job learns from p times the
images per step). ``--compute`` sets the one-machine step times the prediction starts from (with
``--predict-only``; otherwise the 1 process x 2 threads measurement), ``--faster`` adds machines
that compute that many times faster (a many-core node) on the same network.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

MODELS = ["resnext11_4x8d_w1", "resnext29_32x4d"]
MACHINES = [1, 2, 4, 8, 16]
NETWORKS_GBIT = [1.0, 10.0]
LATENCY_SECONDS = 50e-6  # one message over TCP on Ethernet, a typical figure (not measured here)
BATCH = 32


# ----------------------------------------------------------------------------- the model
def ring_allreduce_seconds(gradient_bytes, machines, gbit_per_second, latency=LATENCY_SECONDS):
    """2 (p - 1) / p of the gradient through each machine's link, and 2 (p - 1) message latencies."""
    if machines == 1:
        return 0.0
    bandwidth = gbit_per_second * 1e9 / 8
    return 2 * (machines - 1) / machines * gradient_bytes / bandwidth + 2 * (machines - 1) * latency


def prediction_table(model, compute_seconds, gradient_bytes, faster=1.0):
    """The step time and speed-up on 1..16 machines, each ``faster`` times this one's compute speed."""
    compute_seconds = compute_seconds / faster
    machine = "this machine" if faster == 1 else f"a machine {faster:g}x faster than this one"
    lines = [f"{model}: gradient {gradient_bytes / 1e6:.2f} MB (float32), compute {compute_seconds:.3f} s per step "
             f"at batch {BATCH} on {machine}",
             "machines | " + " | ".join(f"{g:g} Gbit/s: all-reduce, step, speed-up" for g in NETWORKS_GBIT)]
    for machines in MACHINES:
        cells = []
        for gbit in NETWORKS_GBIT:
            allreduce = ring_allreduce_seconds(gradient_bytes, machines, gbit)
            step = compute_seconds + allreduce
            cells.append(f"{allreduce * 1e3:7.1f} ms, {step:.3f} s, {machines * compute_seconds / step:5.2f}x")
        lines.append(f"{machines:8d} | " + " | ".join(cells))
    return "\n".join(lines)


def gradient_bytes_of(model_name):
    from resnext_np.model import build_model

    model = build_model(model_name, num_classes=10)
    return sum(p.numel() for p in model.parameters()) * 4


# ----------------------------------------------------------------------------- the workers
def training_step_timer(model_name, threads, parallel):
    """(step, model): ``step()`` runs one training step and returns the all-reduce's seconds."""
    import minigrad as mg
    from resnext_np.model import build_model

    mg.set_num_threads(threads)
    mg.manual_seed(0)
    model = build_model(model_name, num_classes=10)
    ddp = mg.distributed.DistributedDataParallel(model) if parallel else None
    optimizer = mg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    rng = np.random.default_rng(1)
    images = mg.tensor(rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32))
    labels = rng.integers(0, 10, BATCH)

    def step():
        loss = mg.functional.cross_entropy((ddp or model)(images), labels)
        optimizer.zero_grad()
        loss.backward()
        allreduce = 0.0
        if ddp is not None:
            started = time.perf_counter()
            ddp.average_gradients()
            allreduce = time.perf_counter() - started
        optimizer.step()
        return allreduce

    return step


def worker(model_name, threads, parallel, warmup, steps):
    import minigrad.distributed  # noqa: F401 (mg.distributed)

    world = minigrad.distributed.init() if parallel else None
    step = training_step_timer(model_name, threads, parallel)
    for _ in range(warmup):
        step()
    step_seconds, allreduce_seconds = [], []
    for _ in range(steps):
        if world is not None:
            world.barrier()  # every step starts together, as in training
        started = time.perf_counter()
        allreduce_seconds.append(step())
        step_seconds.append(time.perf_counter() - started)
    result = np.array([np.median(step_seconds), np.median(allreduce_seconds)])
    if world is not None:
        result = world.maximum(result)  # the slower rank's
    if world is None or world.rank == 0:
        print(json.dumps({"step_seconds": float(result[0]), "allreduce_seconds": float(result[1]),
                          "ranks": 1 if world is None else world.size}))


# ----------------------------------------------------------------------------- the driver
def run_case(arguments, ranks):
    command = [sys.executable, os.path.abspath(__file__), "--worker", *arguments]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    if ranks > 1:
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        if mpiexec is None:
            sys.exit('no mpiexec: install the mpi extra, pip install -e ".[mpi]"')
        command = [mpiexec, "-n", str(ranks), *command]
        if os.geteuid() == 0:  # Open MPI refuses root unless told
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    output = subprocess.run(command, capture_output=True, text=True, env=env)
    if output.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 20, 5 for ResNeXt-29)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--predict-only", action="store_true", help="no measurement: predict from --compute")
    parser.add_argument("--compute", nargs="+", default=["resnext11_4x8d_w1=0.22", "resnext29_32x4d=2.0"],
                        metavar="MODEL=SECONDS", help="one-machine step times for --predict-only (default: "
                        "docs/cifar.md's --plan-only measurements at batch 32 on 2 cores)")
    parser.add_argument("--faster", nargs="+", type=float, default=[1.0, 16.0], metavar="FACTOR",
                        help="also predict for machines this many times faster (default: 1 16; 16: a many-core node)")
    parser.add_argument("--worker", nargs=5, metavar=("MODEL", "THREADS", "PARALLEL", "WARMUP", "STEPS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, threads, parallel, warmup, steps = args.worker
        return worker(model, int(threads), parallel == "1", int(warmup), int(steps))

    compute = {name: float(seconds) for name, seconds in (item.split("=") for item in args.compute)}
    for model in args.models:
        gradient_bytes = gradient_bytes_of(model)
        if not args.predict_only:
            steps = args.steps or (5 if model.startswith("resnext29") else 20)
            single = run_case([model, "2", "0", str(args.warmup), str(steps)], ranks=1)
            double = run_case([model, "1", "1", str(args.warmup), str(steps)], ranks=2)
            allreduce = double["allreduce_seconds"]
            bus = 2 * (2 - 1) / 2 * gradient_bytes / allreduce / 1e9 if allreduce > 0 else float("nan")
            print(f"{model}, batch {BATCH} per rank, on {os.cpu_count()} cores:")
            print(f"  1 process x 2 threads: {BATCH / single['step_seconds']:7.1f} img/s "
                  f"({single['step_seconds']:.3f} s per step)")
            print(f"  2 ranks x 1 thread:    {2 * BATCH / double['step_seconds']:7.1f} img/s "
                  f"({double['step_seconds']:.3f} s per step of {2 * BATCH} images; all-reduce "
                  f"{allreduce * 1e3:.2f} ms per step, {100 * allreduce / double['step_seconds']:.1f}% of it, "
                  f"{bus:.2f} GB/s bus bandwidth)")
            # One machine of this kind, all its cores on one rank: the compute the prediction starts from.
            compute[model] = single["step_seconds"]
        for faster in args.faster:
            print(prediction_table(model, compute[model], gradient_bytes, faster))
            print()


if __name__ == "__main__":
    main()
