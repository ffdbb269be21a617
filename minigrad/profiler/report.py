"""What a profile says: events summed into rows, set against this machine's roofline.

The roofline model in one paragraph.  An op that does F FLOPs while moving B bytes has an
*arithmetic intensity* of F / B FLOPs per byte.  Memory delivers at most ``copy_gbs`` bytes per
second, so the op can reach at most ``intensity * copy_gbs`` GFLOP/s; the cores compute at most
the matrix-product peak.  Its attainable speed is the smaller of the two.  Below the *ridge*
(peak GFLOP/s / peak GB/s) an op is **memory-bound** and its percent of peak is its GB/s against
the copy's; above it is **compute-bound** and the percent is its GFLOP/s against the matrix
product's.  (The two percentages agree on the ridge.)  An op without FLOPs (a copy, a reshape)
is memory-bound by definition.

Rows: ``group_by="op"`` sums per op and phase (``Conv2d``, ``Conv2d.backward``), ``"layer"`` per
module of the model (``stage_2.stage_2_bottleneck_0.conv_conv``), ``"algorithm"`` the convolutions
per algorithm and phase.
"""

import glob
import json
from collections import defaultdict
from dataclasses import asdict, dataclass

from minigrad.serialization import write_atomically

__all__ = ["Row", "rows", "table", "above_peak_notes", "last_level_cache_bytes", "to_json", "roofline", "GROUPINGS", "SORT_KEYS"]

GROUPINGS = ("op", "layer", "algorithm")
SORT_KEYS = ("total", "calls", "flops", "gflops", "percent_of_peak", "name")


@dataclass
class Row:
    name: str
    calls: int
    seconds: float
    flops: int
    bytes: int
    ops: str  # the ops summed in this row ("Conv2d+BatchNorm"), for the layer grouping
    dtype: str
    gflops_per_s: float = 0.0
    gb_per_s: float = 0.0
    intensity: float = 0.0
    bound: str = "memory"
    percent_of_peak: float = 0.0


def _key(event, group_by):
    if group_by == "op":
        return event.op if event.phase == "forward" else f"{event.op}.backward"
    if group_by == "layer":
        return event.layer
    return f"{event.algorithm} {event.phase}"


def rows(profile, group_by="op", sort_by="total"):
    """The profile's events summed per ``group_by``, with rates and roofline verdicts, sorted."""
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by={group_by!r}: choose one of {', '.join(GROUPINGS)}")
    if sort_by not in SORT_KEYS:
        raise ValueError(f"sort_by={sort_by!r}: choose one of {', '.join(SORT_KEYS)}")
    events = [e for e in profile.events if group_by != "algorithm" or e.algorithm is not None]
    grouped = defaultdict(list)
    for event in events:
        grouped[_key(event, group_by)].append(event)
    peaks = profile.peaks if events else None
    result = []
    for name, members in grouped.items():
        dtypes = {str(e.dtype) for e in members}
        row = Row(name=name, calls=len(members), seconds=sum(e.seconds for e in members),
                  flops=sum(e.flops for e in members), bytes=sum(e.bytes for e in members),
                  ops="+".join(sorted({e.op for e in members})),
                  dtype="float64" if dtypes == {"float64"} else "float32")
        _judge(row, peaks)
        result.append(row)
    descending = {"total": "seconds", "calls": "calls", "flops": "flops", "gflops": "gflops_per_s",
                  "percent_of_peak": "percent_of_peak"}
    if sort_by == "name":
        return sorted(result, key=lambda row: row.name)
    return sorted(result, key=lambda row: getattr(row, descending[sort_by]), reverse=True)


def _judge(row, peaks):
    """Fill in the row's rates, intensity, bound and percent of peak (module docstring)."""
    if row.seconds <= 0:
        return
    row.gflops_per_s = row.flops / row.seconds / 1e9
    row.gb_per_s = row.bytes / row.seconds / 1e9
    row.intensity = row.flops / row.bytes if row.bytes else float("inf")
    if row.flops and row.intensity >= peaks.ridge(row.dtype):
        row.bound, row.percent_of_peak = "compute", 100 * row.gflops_per_s / peaks.gflops(row.dtype)
    else:
        row.bound, row.percent_of_peak = "memory", 100 * row.gb_per_s / peaks.copy_gbs


def _ops_seconds(profile):
    return sum(event.seconds for event in profile.events)


def _outside_ops_seconds(profile):
    """The wall time that is neither an op's nor the recorder's own bookkeeping's."""
    return (profile.wall_seconds or 0.0) - _ops_seconds(profile) - profile.bookkeeping_seconds


def summary_lines(profile):
    """Two lines: where the block's wall time went, and the peaks it is judged against.

    The wall time splits three ways: the ops (timed one by one), the recorder's own bookkeeping
    (timed around each op, never inside one) and the rest, the time outside ops (Python, the
    engine's gradient sums, the optimizer). The three shares add up to 100%.
    """
    wall = profile.wall_seconds or 0.0
    ops, outside, bookkeeping = _ops_seconds(profile), _outside_ops_seconds(profile), profile.bookkeeping_seconds

    def share(seconds):
        return f"{100 * seconds / wall:.1f}%" if wall else "-"

    lines = [f"{len(profile.events)} op calls in {wall * 1e3:.1f} ms wall: ops {ops * 1e3:.1f} ms ({share(ops)}), "
             f"outside ops (Python, gradient sums, optimizer) {outside * 1e3:.1f} ms ({share(outside)}), "
             f"profiler's own bookkeeping {bookkeeping * 1e3:.1f} ms ({share(bookkeeping)})"]
    if profile.events:
        p = profile.peaks
        lines.append(f"peaks measured {p.measured_at} at {p.threads} threads ({p.blas}): matmul float32 "
                     f"{p.float32_gflops:.1f} GFLOP/s, float64 {p.float64_gflops:.1f} GFLOP/s, copy {p.copy_gbs:.1f} GB/s; "
                     f"ridge {p.ridge('float32'):.1f} FLOP/B (float32)")
    return lines


def last_level_cache_bytes():
    """The largest CPU cache's size in bytes (Linux's sysfs), or None where it cannot be read."""
    sizes = []
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size")):
        try:
            text = open(index, encoding="ascii").read().strip()
        except OSError:
            continue
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        if text[-1:] in units and text[:-1].isdigit():
            sizes.append(int(text[:-1]) * units[text[-1]])
        elif text.isdigit():
            sizes.append(int(text))
    return max(sizes, default=None)


def above_peak_notes(chosen, cache_bytes=None):
    """Why a row beats 100% of its peak, one line each: the peaks are measured on data no cache holds.

    The copy peak streams 64 MiB from and to memory; an op whose data per call fits in the caches
    reads some of it from there, faster than memory delivers. (A compute-bound row above 100% is
    timing noise or a product faster than the 512 x 512 one the peak measures.)
    """
    cache_bytes = last_level_cache_bytes() if cache_bytes is None else cache_bytes
    notes = []
    for row in chosen:
        if row.percent_of_peak <= 100:
            continue
        per_call = row.bytes / max(row.calls, 1)
        if row.bound == "memory":
            where = (f"which fits in the {cache_bytes / 2**20:.0f} MiB cache" if cache_bytes and per_call <= cache_bytes
                     else "part of which is still in the caches from the op before")
            notes.append(f"* {row.name}: {row.percent_of_peak:.0f}% of the copy peak: it moves "
                         f"{per_call / 2**20:.1f} MiB per call, {where}; the copy peak streams 64 MiB that no cache holds")
        else:
            notes.append(f"* {row.name}: {row.percent_of_peak:.0f}% of the matmul peak: these products ran faster than "
                         f"the 512 x 512 one the peak measures; if many rows say so, the peaks were measured while "
                         f"the machine was busier (--remeasure-peaks)")
    return notes


def table(profile, sort_by="total", group_by="op", row_limit=None):
    """A printable table in the spirit of ``torch.profiler``'s ``key_averages().table()``."""
    chosen = rows(profile, group_by=group_by, sort_by=sort_by)[:row_limit]
    wall = profile.wall_seconds or _ops_seconds(profile) or 1.0
    with_ops = group_by == "layer"
    width = max([len(group_by)] + [len(row.name) for row in chosen])
    header = (f"{group_by:<{width}}  " + ("ops                   " if with_ops else "")
              + "calls   total ms  % step  GFLOP/s     GB/s  FLOP/B  % peak  bound")
    lines = summary_lines(profile) + [header, "-" * len(header)]
    for row in chosen:
        intensity = "-" if row.intensity == float("inf") else f"{row.intensity:.2f}"
        lines.append(f"{row.name:<{width}}  " + (f"{row.ops[:20]:<20}  " if with_ops else "")
                     + f"{row.calls:>5}  {row.seconds * 1e3:>9.2f}  {100 * row.seconds / wall:>6.1f}  "
                     f"{row.gflops_per_s:>7.2f}  {row.gb_per_s:>7.2f}  {intensity:>6}  {row.percent_of_peak:>6.1f}  "
                     + row.bound + ("*" if row.percent_of_peak > 100 else ""))
    return "\n".join(lines + above_peak_notes(chosen))


def to_json(profile, path):
    """The numbers: totals, peaks, every grouping's rows, every event; written atomically."""
    document = {
        "wall_seconds": profile.wall_seconds, "ops_seconds": _ops_seconds(profile),
        "bookkeeping_seconds": profile.bookkeeping_seconds,
        "outside_ops_seconds": _outside_ops_seconds(profile),
        "peaks": asdict(profile.peaks) if profile.events else None,
        "groups": {group_by: [asdict(row) for row in rows(profile, group_by)] for group_by in GROUPINGS},
        "events": [event.as_dict() for event in profile.events],
    }
    text = json.dumps(document, indent=1, default=str).replace("Infinity", "null")
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


def roofline(profile, path, group_by="op"):
    """Each row with FLOPs a dot (area ~ its time) under this machine's roofs; saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    peaks = profile.peaks
    plotted = [row for row in rows(profile, group_by) if row.flops and row.bytes and row.seconds > 0]
    figure, axes = plt.subplots(figsize=(9, 6))
    intensities = np.logspace(-2, 3, 200)
    for dtype, style in (("float32", "-"), ("float64", "--")):
        axes.plot(intensities, np.minimum(peaks.gflops(dtype), intensities * peaks.copy_gbs), style, color="black",
                  label=f"{dtype} roof: {peaks.gflops(dtype):.0f} GFLOP/s, ridge {peaks.ridge(dtype):.1f} FLOP/B")
    total = sum(row.seconds for row in plotted) or 1.0
    for row in plotted:
        axes.scatter(row.intensity, row.gflops_per_s, s=20 + 2000 * row.seconds / total, alpha=0.6)
    for row in sorted(plotted, key=lambda row: row.seconds, reverse=True)[:10]:
        axes.annotate(row.name, (row.intensity, row.gflops_per_s), fontsize=8, xytext=(4, 4), textcoords="offset points")
    axes.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOPs per byte, bytes as modelled)",
             ylabel="achieved GFLOP/s",
             title=f"roofline: {peaks.threads} threads, {peaks.blas}, copy {peaks.copy_gbs:.1f} GB/s (dot area ~ time)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
