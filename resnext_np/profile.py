"""Profile a few training steps of a ResNeXt preset: where the time goes, against this machine's peaks.

    python -m resnext_np.profile --model resnext29_32x4d --batch 64
    python -m resnext_np.profile --model resnext11_4x8d_w1 --batch 128 --steps 5 --out runs/small-profile

A step is what ``benchmarks/train_step.py`` times: forward, cross-entropy, backward and an SGD
(Nesterov, weight decay) update on a fixed random float32 batch.  After ``--warmup`` unprofiled
steps (the first one compiles the Numba kernels), ``--steps`` rounds each run one step without
the profiler and one inside ``minigrad.profiler.profile()``, so the profiler's own cost is
measured in the same conditions: the median profiled step against the median plain one, and
the time the recorder spent on its own bookkeeping.  Printed: the tables by op, by layer and by
convolution algorithm (summed over the profiled steps), and where the roofline PNG and the
JSON of every number went.  The peaks are measured once per machine and cached
(``minigrad.profiler.peaks``); ``--remeasure-peaks`` measures them again.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

import minigrad as mg
from resnext_np.model import PRESETS, build_model


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser():
    parser = _OneLineErrors(prog="python -m resnext_np.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(PRESETS), default="resnext11_4x8d_w1")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (each paired with a plain one)")
    parser.add_argument("--warmup", type=int, default=2, help="unprofiled steps first (the first compiles kernels)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (minigrad.set_num_threads; default: every core)")
    parser.add_argument("--out", default=None, help="folder for roofline.png and profile.json (default: runs/profile-<model>-b<batch>)")
    parser.add_argument("--rows", type=int, default=12, help="rows per table (default 12)")
    parser.add_argument("--remeasure-peaks", action="store_true", help="measure this machine's peaks again")
    return parser


def _check(options):
    for name, value, least in (("--batch", options.batch, 1), ("--steps", options.steps, 1),
                               ("--warmup", options.warmup, 0), ("--rows", options.rows, 1)):
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")
    most = mg.kernels.threads.MAX_THREADS
    if options.threads is not None and not 1 <= options.threads <= most:
        raise ValueError(f"--threads must be between 1 and {most}, got {options.threads}")


def training_step(model_name, batch):
    """A function running one training step of the preset on a fixed random batch."""
    rng = np.random.default_rng(0)
    inputs = mg.tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
    labels = rng.integers(0, 10, batch)
    mg.manual_seed(0)
    model = build_model(model_name, num_classes=10)
    optimizer = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step():
        loss = mg.functional.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def profile_steps(step, steps, peaks):
    """Alternate plain and profiled steps; return (the profiled steps as one profile, plain times, profiled times)."""
    plain, profiled, profiles = [], [], []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        plain.append(time.perf_counter() - start)
        with mg.profiler.profile(peaks=peaks) as prof:
            step()
        profiled.append(prof.wall_seconds)
        profiles.append(prof)
    return mg.profiler.profile.merged(profiles), plain, profiled


def overhead_line(plain, profiled, bookkeeping):
    """The profiler's cost: median profiled step against median plain one, judged against the noise.

    The noise is the spread of the plain steps (slowest minus fastest): a difference smaller than
    that is not a measured overhead, and the line says so instead of printing it as one (a profiled
    median below the plain one is such a case). ``bookkeeping`` is the recorder's own seconds per step.
    """
    plain_median, profiled_median = statistics.median(plain), statistics.median(profiled)
    difference, spread = profiled_median - plain_median, max(plain) - min(plain)
    if abs(difference) <= spread:
        verdict = (f"a difference of {difference * 1e3:+.1f} ms, inside the noise (plain steps spread "
                   f"{spread * 1e3:.1f} ms over {len(plain)})")
    else:
        verdict = f"{100 * difference / plain_median:+.1f}% (plain steps spread {spread * 1e3:.1f} ms over {len(plain)})"
    return (f"profiler overhead: median step {profiled_median * 1e3:.1f} ms profiled vs {plain_median * 1e3:.1f} ms "
            f"plain: {verdict}; the recorder's own bookkeeping {bookkeeping * 1e3:.2f} ms per step "
            f"({100 * bookkeeping / plain_median:.2f}% of a plain step)")


def main(argv=None):
    options = build_parser().parse_args(argv)
    try:
        _check(options)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if options.threads is not None:
        mg.set_num_threads(options.threads)
    out = options.out or os.path.join("runs", f"profile-{options.model}-b{options.batch}")
    os.makedirs(out, exist_ok=True)
    step = training_step(options.model, options.batch)
    for _ in range(options.warmup):
        step()
    peaks = mg.profiler.load_or_measure(remeasure=options.remeasure_peaks)
    combined, plain, profiled = profile_steps(step, options.steps, peaks)

    print(f"{options.model}, batch {options.batch}, {mg.get_num_threads()} threads: {options.steps} profiled "
          f"training steps (forward, loss, backward, SGD), summed")
    print(overhead_line(plain, profiled, combined.bookkeeping_seconds / options.steps))
    for group_by in ("op", "layer", "algorithm"):
        print(f"\nby {group_by}:")
        print(combined.table(group_by=group_by, row_limit=options.rows))
    png, json_path = os.path.join(out, "roofline.png"), os.path.join(out, "profile.json")
    combined.roofline(png)
    combined.to_json(json_path)
    print(f"\nroofline: {png}\nnumbers:  {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
