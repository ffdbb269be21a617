"""Rows, roofline verdicts, the table, the JSON and the PNG; and the ``python -m resnext_np.profile`` CLI."""

import json

import numpy as np
import pytest

import minigrad as mg
from minigrad.profiler import Event, Peaks, profile, report

# ridge: 100 GFLOP/s / 10 GB/s = 10 FLOPs per byte (float32); float64: 5
PEAKS = Peaks(100.0, 50.0, 10.0, 2, "test blas", "test machine", "2026-01-01")
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def made_up_profile():
    prof = profile(peaks=PEAKS)
    prof.events = [
        # 10 GFLOP in 0.5 s = 20 GFLOP/s at 100 FLOP/B: compute-bound, 20% of 100 GFLOP/s
        Event("Conv2d", "forward", "block.conv", "direct", F32, 0.5, 10 * 10**9, 10**8),
        # 0.1 GFLOP, 1 GB in 0.2 s = 5 GB/s at 0.1 FLOP/B: memory-bound, 50% of 10 GB/s
        Event("ReLU", "forward", "block.relu", None, F32, 0.2, 10**8, 10**9),
        Event("ReLU", "forward", "block.relu", None, F32, 0.2, 10**8, 10**9),
        # float64 at 8 FLOP/B: above float64's ridge of 5, so compute-bound against 50 GFLOP/s
        Event("MatMul", "backward", "head", None, F64, 0.1, 8 * 10**8, 10**8),
    ]
    prof.wall_seconds = 1.25
    return prof


def test_rows_and_roofline_verdicts():
    by_op = {row.name: row for row in report.rows(made_up_profile(), group_by="op")}
    conv, relu, matmul = by_op["Conv2d"], by_op["ReLU"], by_op["MatMul.backward"]
    assert (conv.bound, conv.gflops_per_s, conv.intensity, conv.percent_of_peak) == ("compute", 20.0, 100.0, 20.0)
    assert (relu.calls, relu.bound) == (2, "memory")
    assert relu.gb_per_s == pytest.approx(5.0) and relu.percent_of_peak == pytest.approx(50.0)
    assert (matmul.dtype, matmul.bound) == ("float64", "compute")
    assert matmul.percent_of_peak == pytest.approx(16.0)  # 8 GFLOP/s of float64's 50


def test_groupings_and_sorting():
    prof = made_up_profile()
    assert [row.name for row in report.rows(prof, group_by="layer")] == ["block.conv", "block.relu", "head"]
    assert [row.name for row in report.rows(prof, group_by="algorithm")] == ["direct forward"]
    assert [row.name for row in report.rows(prof, sort_by="percent_of_peak")][0] == "ReLU"
    with pytest.raises(ValueError, match="group_by='module'"):
        report.rows(prof, group_by="module")
    with pytest.raises(ValueError, match="sort_by='speed'"):
        prof.table(sort_by="speed")


def test_table_text():
    text = made_up_profile().table(group_by="op")
    lines = text.splitlines()
    assert "4 op calls in 1250.0 ms wall: ops 1000.0 ms (80.0%)" in lines[0]
    assert "outside ops (Python, gradient sums, optimizer) 250.0 ms (20.0%)" in lines[0]
    conv_line = next(line for line in lines if line.startswith("Conv2d "))
    assert conv_line.split() == ["Conv2d", "1", "500.00", "40.0", "20.00", "0.20", "100.00", "20.0", "compute"]


def test_summary_splits_the_wall_into_ops_outside_ops_and_bookkeeping():
    # The recorder's bookkeeping is timed outside the ops: it is not time outside ops (Python,
    # the engine, the optimizer), and counting it there overstated that time by the profiler's cost.
    prof = made_up_profile()
    prof.bookkeeping_seconds = 0.05
    line = report.summary_lines(prof)[0]
    assert "ops 1000.0 ms (80.0%)" in line
    assert "outside ops (Python, gradient sums, optimizer) 200.0 ms (16.0%)" in line
    assert "profiler's own bookkeeping 50.0 ms (4.0%)" in line


def test_json_and_roofline_files(tmp_path):
    prof = made_up_profile()
    prof.to_json(tmp_path / "profile.json")
    document = json.loads((tmp_path / "profile.json").read_text())
    assert document["wall_seconds"] == 1.25 and document["peaks"]["copy_gbs"] == 10.0
    assert document["outside_ops_seconds"] == pytest.approx(0.25)  # wall - ops - bookkeeping (none here)
    assert [row["name"] for row in document["groups"]["algorithm"]] == ["direct forward"]
    assert document["events"][3]["dtype"] == "float64"
    pytest.importorskip("matplotlib")
    prof.roofline(tmp_path / "roofline.png")
    assert (tmp_path / "roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_profiles_a_preset(tmp_path, monkeypatch, capsys):
    from resnext_np import profile as cli

    monkeypatch.setenv("MINIGRAD_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["--model", "resnext11_4x8d_w1", "--batch", "4", "--steps", "1", "--warmup", "1",
                     "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "profiler overhead:" in printed and "by layer:" in printed and "by algorithm:" in printed
    assert (tmp_path / "out" / "roofline.png").exists() and (tmp_path / "cache" / "peaks.json").exists()
    document = json.loads((tmp_path / "out" / "profile.json").read_text())
    assert {row["name"] for row in document["groups"]["op"]} >= {"Conv2d", "Conv2d.backward", "BatchNorm"}
    assert "stage_1.stage_1_bottleneck_0.conv_conv" in {row["name"] for row in document["groups"]["layer"]}
    assert mg.autograd.op_recorder.get() is None


@pytest.mark.parametrize("argv, message", [
    (["--batch", "0"], "--batch must be >= 1, got 0"),
    (["--model", "resnet50"], "invalid choice: 'resnet50'"),
])
def test_cli_errors_are_one_line_and_exit_2(argv, message, capsys):
    from resnext_np import profile as cli

    try:
        code = cli.main(argv)  # our own checks return 2
    except SystemExit as exit_:  # argparse's exit
        code = exit_.code
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: ") and message in error


def test_a_row_above_its_peak_is_starred_and_explained():
    prof = profile(peaks=PEAKS)
    # 3 GB in 0.2 s = 15 GB/s: 150% of the 10 GB/s copy peak, 1.5 GB per call (no cache holds it)
    prof.events = [Event("ReLU", "backward", "relu", None, F32, 0.1, 0, 15 * 10**8) for _ in range(2)]
    prof.wall_seconds = 0.25
    relu = next(line for line in prof.table().splitlines() if line.startswith("ReLU.backward "))
    assert relu.split()[-1] == "memory*"
    notes = report.above_peak_notes(report.rows(prof), cache_bytes=32 * 2**20)
    assert notes == ["* ReLU.backward: 150% of the copy peak: it moves 1430.5 MiB per call, part of which is still "
                     "in the caches from the op before; the copy peak streams 64 MiB that no cache holds"]
    small = report.rows(prof)[0]
    small.bytes = 2 * 2**20  # 1 MiB per call
    assert "which fits in the 32 MiB cache" in report.above_peak_notes([small], cache_bytes=32 * 2**20)[0]
    assert report.above_peak_notes(report.rows(made_up_profile())) == []  # every row there is below 100%


def test_the_overhead_line_calls_a_difference_inside_the_plain_steps_spread_noise():
    from resnext_np.profile import overhead_line

    inside = overhead_line([0.100, 0.110, 0.104], [0.098, 0.099, 0.097], bookkeeping=0.001)
    assert "-6.0 ms, inside the noise (plain steps spread 10.0 ms over 3)" in inside and "%" in inside
    outside = overhead_line([0.100, 0.101, 0.100], [0.120, 0.121, 0.119], bookkeeping=0.001)
    assert "plain: +20.0% (plain steps spread 1.0 ms over 3)" in outside
    assert "bookkeeping 1.00 ms per step (1.00% of a plain step)" in outside
