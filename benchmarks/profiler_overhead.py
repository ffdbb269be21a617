"""What the profiler costs: per op when it is off, per training step when it is on.

    python benchmarks/profiler_overhead.py                          # resnext11_4x8d_w1 at batch 128
    python benchmarks/profiler_overhead.py --model resnext29_32x4d --batch 64 --rounds 5
    PYTHONPATH=/path/to/other/checkout python benchmarks/profiler_overhead.py --ops-only

Off: ``Function.apply`` and ``Module.__call__`` look up one context variable per call.  The first
number is the time of a tiny op (``a + b`` on one-element tensors, forward and backward; the op
itself is nearly free, so the framework's own cost shows), in microseconds; run it again on a
checkout without the profiler (``PYTHONPATH``) to see what the lookups cost.

On: rounds of one plain training step then one inside ``minigrad.profiler.profile()``, interleaved
so that a busy machine slows both alike; reported are both medians, their ratio, and the time
the recorder spent on its own bookkeeping per step (the part of the overhead that is not noise).
"""

import argparse
import statistics
import time

import minigrad as mg


def tiny_op_microseconds(repeats=5000, trials=20):
    """Best of ``trials``: microseconds per ``(a + b).backward()`` on one-element tensors."""
    a = mg.tensor([1.0], requires_grad=True)
    b = mg.tensor([2.0], requires_grad=True)
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            (a + b).backward()
        best = min(best, (time.perf_counter() - start) / repeats * 1e6)
    return best


def step_overhead(model_name, batch, rounds, warmup):
    from resnext_np.profile import training_step

    step = training_step(model_name, batch)
    for _ in range(warmup):
        step()
    plain, profiled, bookkeeping = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        plain.append(time.perf_counter() - start)
        with mg.profiler.profile(peaks=mg.profiler.Peaks(1.0, 1.0, 1.0, 1, "-", "-", "-")) as prof:
            step()
        profiled.append(prof.wall_seconds)
        bookkeeping.append(prof.bookkeeping_seconds)
    return statistics.median(plain), statistics.median(profiled), statistics.median(bookkeeping)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnext11_4x8d_w1")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--ops-only", action="store_true", help="only the tiny-op timing (works on any checkout)")
    options = parser.parse_args()
    print(f"tiny op, profiler off: {tiny_op_microseconds():.2f} us per (a + b).backward() "
          f"(minigrad from {mg.__file__})")
    if options.ops_only or not hasattr(mg, "profiler"):
        return
    plain, profiled, bookkeeping = step_overhead(options.model, options.batch, options.rounds, options.warmup)
    print(f"{options.model} batch {options.batch}, {mg.get_num_threads()} threads, {options.rounds} interleaved rounds: "
          f"median step {plain * 1e3:.1f} ms plain, {profiled * 1e3:.1f} ms profiled "
          f"(ratio {profiled / plain:.3f}); recorder bookkeeping {bookkeeping * 1e3:.2f} ms per step "
          f"({100 * bookkeeping / plain:.2f}% of a plain step)")


if __name__ == "__main__":
    main()
