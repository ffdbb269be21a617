"""Training-step throughput: minigrad vs PyTorch on the same ResNeXt, batch and thread count.

    python benchmarks/train_step.py                       # the smallest preset at batch 128 and ResNeXt-29 32x4d at 64
    python benchmarks/train_step.py --cases resnext11_4x8d_w1:128 --steps 5
    python benchmarks/train_step.py --cases resnext11_4x8d_w1:32 --alternate 30 --steps 3   # taking turns

A step is forward, cross-entropy, backward and an SGD (Nesterov, weight decay) update on a fixed
random float32 batch.  Each (framework, model, batch) runs in a fresh subprocess, so its peak
memory (the process's maximum resident set size, ``ru_maxrss``) is its own; "extra MiB" is that
peak minus the resident size just before the first step (after imports, the model and the batch).
minigrad runs as any program that imports it does (``minigrad.set_num_threads``; BLAS on one
thread per product, freed memory kept for reuse: see docs/threads_and_memory.md). The PyTorch
model is the same architecture built here from ``torch.nn`` (same widths, groups, strides, BN,
no conv biases), with the same thread count (``torch.set_num_threads``), in a process that never
imports minigrad, so PyTorch runs with its own defaults; ``--reuse-memory`` makes it keep freed
memory for reuse too (the same glibc setting, ``minigrad/allocator.py``), which speeds it up.
Reported: the median step time after warm-up steps, images per second, and minigrad / PyTorch ratios.
One run after the other, a machine whose speed moves by 20-40% within seconds puts more noise in
the ratio than a change does; ``--alternate BURSTS`` keeps both workers up and has them take
turns (a burst of ``--steps`` steps in one, then in the other, the order flipping every burst),
and also prints the median and range of the per-pair ratios, as benchmarks/compare_checkouts.py
does for two checkouts.
``--eval`` times evaluation instead (``model.eval()``, a forward under no_grad), e.g. at batch 256.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

DEFAULT_CASES = ["resnext11_4x8d_w1:128", "resnext29_32x4d:64"]

# The environment this benchmark started with. Importing minigrad (resnext_np does, for the
# presets' sizes) sets OMP_WAIT_POLICY and GOMP_SPINCOUNT in os.environ for the OpenMP runtimes
# started after it, and a worker inheriting them would run PyTorch's OpenMP threads minigrad's
# way (until December 2026 they slept at once: every PyTorch number of this benchmark before
# then was taken so). Every worker starts from this copy instead.
ENVIRONMENT_AT_START = dict(os.environ)


def _peak_rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _current_rss_mib():
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _torch_resnext(config, num_classes):
    """The CifarResNeXt architecture of resnext_np.model, in torch.nn."""
    import torch.nn as nn

    class Bottleneck(nn.Module):
        def __init__(self, in_channels, out_channels, stride, cardinality, base_width, widen_factor):
            super().__init__()
            width = cardinality * int(base_width * out_channels / (widen_factor * 64.0))
            self.conv_reduce = nn.Conv2d(in_channels, width, 1, bias=False)
            self.bn_reduce = nn.BatchNorm2d(width)
            self.conv_conv = nn.Conv2d(width, width, 3, stride, 1, groups=cardinality, bias=False)
            self.bn = nn.BatchNorm2d(width)
            self.conv_expand = nn.Conv2d(width, out_channels, 1, bias=False)
            self.bn_expand = nn.BatchNorm2d(out_channels)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                              nn.BatchNorm2d(out_channels))

        def forward(self, x):
            y = self.bn_reduce(self.conv_reduce(x)).relu()
            y = self.bn(self.conv_conv(y)).relu()
            y = self.bn_expand(self.conv_expand(y))
            return (self.shortcut(x) + y).relu()

    cardinality, depth, base_width = config["cardinality"], config["depth"], config["base_width"]
    widen_factor = config.get("widen_factor", 4)
    blocks_per_stage = (depth - 2) // 9
    widths = [64, 64 * widen_factor, 128 * widen_factor, 256 * widen_factor]
    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    for stage in range(3):
        for block in range(blocks_per_stage):
            in_channels = widths[stage] if block == 0 else widths[stage + 1]
            stride = (1 if stage == 0 else 2) if block == 0 else 1
            layers.append(Bottleneck(in_channels, widths[stage + 1], stride, cardinality, base_width, widen_factor))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[3], num_classes)]
    return nn.Sequential(*layers)


def _load_allocator_module():
    """minigrad/allocator.py on its own: importing the minigrad package would also change the
    process's BLAS and OpenMP settings, which PyTorch's worker must keep at PyTorch's defaults."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "minigrad", "allocator.py")
    spec = importlib.util.spec_from_file_location("allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(framework, preset, batch, steps, warmup, threads, reuse_memory, evaluation=False):
    """Run in a subprocess: time training steps (or, with ``evaluation``, ``model.eval()`` forwards
    without gradients), return a dict of results."""
    return _timed(_make_step(framework, preset, batch, threads, reuse_memory, evaluation), batch, steps, warmup)


def serve(framework, preset, batch, warmup, threads, reuse_memory, evaluation=False):
    """Run in a subprocess for ``--alternate``: after ``warmup`` steps print a line, then for each
    line "n" on stdin run n timed steps and print their seconds as a JSON list; at the end of
    stdin print the memory the steps took."""
    step = _make_step(framework, preset, batch, threads, reuse_memory, evaluation)
    rss_before = _current_rss_mib()
    for _ in range(warmup):
        step()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(_seconds_of_each(step, int(line))), flush=True)
    print(json.dumps({"peak_mib": _peak_rss_mib(), "extra_mib": _peak_rss_mib() - rss_before}), flush=True)


def _make_step(framework, preset, batch, threads, reuse_memory, evaluation):
    """The step to time: forward, cross-entropy, backward and SGD, or an evaluation forward."""
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    if framework == "minigrad":
        import minigrad as mg
        from resnext_np.model import build_model

        mg.set_num_threads(threads)
        mg.manual_seed(0)
        model = build_model(preset, num_classes=10)
        optimizer = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        inputs = mg.tensor(images)
        if evaluation:
            model.eval()

            def step():
                with mg.no_grad():
                    model(inputs)
            return step

        def step():
            loss = mg.functional.cross_entropy(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    else:
        import torch

        if reuse_memory:
            _load_allocator_module().reuse_freed_memory()
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = _torch_resnext(json.loads(preset), num_classes=10)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        inputs, targets = torch.from_numpy(images), torch.from_numpy(labels)
        if evaluation:
            model.eval()

            def step():
                with torch.no_grad():
                    model(inputs)
            return step

        def step():
            loss = torch.nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return step


def _timed(step, batch, steps, warmup):
    """The median of ``steps`` timed calls after ``warmup`` untimed ones, and the memory they took."""
    rss_before = _current_rss_mib()
    for _ in range(warmup):
        step()
    times = _seconds_of_each(step, steps)
    median = sorted(times)[len(times) // 2]
    return {"seconds_per_step": median, "images_per_second": batch / median,
            "peak_mib": _peak_rss_mib(), "extra_mib": _peak_rss_mib() - rss_before}


def _seconds_of_each(step, count):
    """The seconds each of ``count`` calls of ``step()`` took."""
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    return seconds


def _worker_command(framework, preset, batch, args, serving=False):
    if framework == "torch":  # the preset's sizes, so that PyTorch's worker need not import resnext_np
        from resnext_np.model import PRESETS

        preset = json.dumps(PRESETS[preset])
    command = [sys.executable, __file__, "--worker", framework, preset, str(batch),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    if args.reuse_memory:
        command.append("--reuse-memory")
    if args.eval:
        command.append("--eval")
    if serving:
        command.append("--serve")
    return command


def run_case(framework, preset, batch, args):
    finished = subprocess.run(_worker_command(framework, preset, batch, args), capture_output=True, text=True,
                              env=ENVIRONMENT_AT_START)
    if finished.returncode != 0:
        return {"error": finished.stderr.strip().splitlines()[-1] if finished.stderr.strip() else "failed"}
    return json.loads(finished.stdout.strip().splitlines()[-1])


def run_alternating(preset, batch, args):
    """Both frameworks' workers up at once, taking turns: a burst of ``args.steps`` steps in one,
    then in the other, the order flipping every burst, ``args.alternate`` bursts each. A change in
    the machine's speed then hits both sides of a pair alike. Returns each side's median step and
    memory, and the per-pair ratios of PyTorch's median step to ours (> 1: ours is faster)."""
    workers = {name: subprocess.Popen(_worker_command(name, preset, batch, args, serving=True), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, env=ENVIRONMENT_AT_START)
               for name in ("minigrad", "torch")}
    try:
        for name, worker in workers.items():
            if not worker.stdout.readline():
                raise SystemExit(f"train_step: the {name} worker stopped before its first burst (its error is above)")
        seconds = {name: [] for name in workers}
        ratios = []
        for burst in range(args.alternate):
            medians = {}
            for name in (("minigrad", "torch") if burst % 2 == 0 else ("torch", "minigrad")):
                workers[name].stdin.write(f"{args.steps}\n")
                workers[name].stdin.flush()
                times = json.loads(workers[name].stdout.readline())
                seconds[name] += times
                medians[name] = statistics.median(times)
            ratios.append(medians["torch"] / medians["minigrad"])
        results = {}
        for name, worker in workers.items():
            worker.stdin.close()
            memory = json.loads(worker.stdout.readline())
            worker.wait()
            median = statistics.median(seconds[name])
            results[name] = {"seconds_per_step": median, "images_per_second": batch / median, **memory}
        return results, ratios
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES, help="PRESET:BATCH pairs")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per case (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (JIT, allocator)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--reuse-memory", action=argparse.BooleanOptionalAction, default=False,
                        help="PyTorch keeps freed memory for reuse too, as minigrad always does "
                             "(minigrad.allocator.reuse_freed_memory); default: PyTorch with the C allocator's defaults")
    parser.add_argument("--eval", action="store_true",
                        help="time evaluation instead: model.eval(), a forward without gradients (no loss, no update)")
    parser.add_argument("--alternate", type=int, metavar="BURSTS", default=0,
                        help="run both frameworks at once, taking turns for BURSTS bursts of --steps steps each, and "
                             "report the per-pair ratios (for a machine whose speed moves between runs)")
    parser.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "PRESET", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.alternate < 0:
        parser.error(f"--alternate takes a number of bursts >= 1 (0, the default, runs each framework once), got {args.alternate}")
    if args.worker:
        framework, preset, batch = args.worker
        if args.serve:
            serve(framework, preset, int(batch), args.warmup, args.threads, args.reuse_memory, args.eval)
            return 0
        print(json.dumps(measure(framework, preset, int(batch), args.steps, args.warmup, args.threads, args.reuse_memory,
                                 args.eval)))
        return 0

    try:
        import torch  # noqa: F401

        frameworks = ["minigrad", "torch"]
    except ImportError:
        frameworks = ["minigrad"]
        if args.alternate:
            parser.error("--alternate compares with PyTorch, which is not installed here")
        print("PyTorch is not installed: minigrad only, no ratios")
    what = 'evaluation forwards (eval mode, no gradients)' if args.eval else 'training steps'
    timing = (f"{args.alternate} alternating bursts of {args.steps} {what} per framework (medians over all their steps) "
              if args.alternate else f"median of {args.steps} {what} ")
    print(f"threads: {args.threads}; freed memory reused: minigrad yes, PyTorch {'yes' if args.reuse_memory else 'no'}; "
          f"load average at start: {os.getloadavg()[0]:.2f}; {timing}after {args.warmup} warm-up ones")
    header = f"{'model':<22}{'batch':>6}" + "".join(
        f"{name + ' img/s':>16}{name + ' peak MiB':>18}{name + ' extra MiB':>19}" for name in frameworks)
    if len(frameworks) == 2:
        header += f"{'speed ratio':>13}{'extra-mem ratio':>17}"
    print(header)
    for case in args.cases:
        preset, batch = case.split(":")
        ratios = None
        if args.alternate:
            results, ratios = run_alternating(preset, int(batch), args)
        else:
            results = {name: run_case(name, preset, int(batch), args) for name in frameworks}
        line = f"{preset:<22}{batch:>6}"
        for name in frameworks:
            result = results[name]
            if "error" in result:
                line += f"{'error: ' + result['error'][:40]:>53}"
            else:
                line += f"{result['images_per_second']:>16.1f}{result['peak_mib']:>18.0f}{result['extra_mib']:>19.0f}"
        if len(frameworks) == 2 and not any("error" in r for r in results.values()):
            ours, theirs = results["minigrad"], results["torch"]
            line += f"{ours['images_per_second'] / theirs['images_per_second']:>12.2f}x"
            line += f"{ours['extra_mib'] / max(theirs['extra_mib'], 1):>16.2f}x"
        print(line, flush=True)
        if ratios:
            print(f"  per pair of bursts, PyTorch's median step / ours: median {statistics.median(ratios):.3f}, range "
                  f"{min(ratios):.3f}-{max(ratios):.3f}, ours faster in {sum(r > 1 for r in ratios)} of {len(ratios)}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
