"""benchmarks/compare_checkouts.py: two checkouts' training steps in alternating bursts."""

import re

import pytest

try:
    from script_loader import ROOT, load_script
except ImportError:  # run from the repository root as tests.test_compare_checkouts
    from tests.script_loader import ROOT, load_script

compare = load_script("benchmarks/compare_checkouts.py", "compare_checkouts")


def test_the_same_checkout_twice_reports_both_sides_and_the_ratios_of_each_pair(capsys):
    compare.main([str(ROOT), str(ROOT), "--case", "resnext11_4x8d_w1:2", "--bursts", "3", "--steps", "1", "--threads", "1",
                  "--reuse-numba-cache"])
    out = capsys.readouterr().out
    assert "resnext11_4x8d_w1 at batch 2, 1 threads: 3 bursts of 1 steps per checkout" in out
    steps = [float(ms) for ms in re.findall(r"median step ([0-9.]+) ms", out)]
    assert len(steps) == 2 and all(ms > 0 for ms in steps)
    median, low, high = map(float, re.search(r"median ([0-9.]+), range ([0-9.]+)-([0-9.]+)", out).groups())
    assert 0 < low <= median <= high
    assert re.search(r"new faster in [0-3] of 3 pairs", out)


def test_a_folder_that_is_not_a_checkout_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match=f"{tmp_path} is not a checkout of this project"):
        compare.main([str(tmp_path), str(ROOT)])


@pytest.mark.parametrize("case", ["resnext11_4x8d_w1", "resnext11_4x8d_w1:0", "resnext11_4x8d_w1:x"])
def test_a_case_needs_a_preset_and_a_positive_batch(case, capsys):
    with pytest.raises(SystemExit):
        compare.main([str(ROOT), "--case", case])
    assert f"--case takes PRESET:BATCH, e.g. resnext11_4x8d_w1:32; got {case!r}" in capsys.readouterr().err
