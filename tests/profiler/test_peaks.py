"""The peak probe's cache: written atomically under the chosen folder, re-measured when not valid."""

import json
import os

import pytest

from minigrad.profiler import peaks


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_CACHE_DIR", str(tmp_path))
    assert peaks.cache_path() == os.path.join(str(tmp_path), "peaks.json")


def test_measured_once_then_read_back(tmp_path):
    path = tmp_path / "cache" / "peaks.json"
    first = peaks.load_or_measure(threads=1, path=str(path))
    assert first.float32_gflops > 0 and first.float64_gflops > 0 and first.copy_gbs > 0
    assert first.threads == 1 and first.blas == peaks.blas_kernel() and first.measured_at
    assert os.listdir(path.parent) == ["peaks.json"]  # no temporary file left behind
    document = json.loads(path.read_text())
    (entry,) = document["machines"].values()
    assert entry["float32_gflops"] == first.float32_gflops
    # a second load reads the file: measured floats never repeat exactly
    assert peaks.load_or_measure(threads=1, path=str(path)) == first


def test_remeasure_on_request_keeps_other_machines(tmp_path):
    path = tmp_path / "peaks.json"
    first = peaks.load_or_measure(threads=1, path=str(path))
    document = json.loads(path.read_text())
    document["machines"]["another machine"] = dict(next(iter(document["machines"].values())), machine="another")
    path.write_text(json.dumps(document))
    again = peaks.load_or_measure(threads=1, path=str(path), remeasure=True)
    assert again.measured_at >= first.measured_at and again != first
    assert set(json.loads(path.read_text())["machines"]) == set(document["machines"])


@pytest.mark.parametrize("content", [
    "{not json",
    '{"format": 1, "machines": []}',
    '{"format": 99, "machines": {}}',
])
def test_an_unreadable_cache_is_measured_again(tmp_path, content):
    path = tmp_path / "peaks.json"
    path.write_text(content)
    with pytest.warns(RuntimeWarning, match="not valid"):
        measured = peaks.load_or_measure(threads=1, path=str(path))
    assert json.loads(path.read_text())["format"] == peaks.CACHE_FORMAT
    assert measured.copy_gbs > 0


def test_a_cache_with_impossible_numbers_is_not_trusted(tmp_path):
    path = tmp_path / "peaks.json"
    good = peaks.load_or_measure(threads=1, path=str(path))
    document = json.loads(path.read_text())
    key = next(iter(document["machines"]))
    document["machines"][key]["copy_gbs"] = -3.0
    path.write_text(json.dumps(document))
    with pytest.warns(RuntimeWarning, match="copy_gbs = -3.0"):
        measured = peaks.load_or_measure(threads=1, path=str(path))
    assert measured.copy_gbs > 0 and measured != good


def test_a_write_that_fails_halfway_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "peaks.json"
    peaks.load_or_measure(threads=1, path=str(path))
    before = path.read_bytes()
    # a measurement that cannot be written as JSON: the write fails inside write_atomically
    unwritable = peaks.Peaks(1.0, 1.0, 1.0, 1, "blas", "machine", measured_at=object())
    monkeypatch.setattr(peaks, "measure", lambda threads: unwritable)
    with pytest.raises(TypeError):
        peaks.load_or_measure(threads=1, path=str(path), remeasure=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["peaks.json"]


def test_ridge_is_peak_flops_over_bandwidth():
    machine = peaks.Peaks(80.0, 40.0, 16.0, 2, "blas", "machine", "2026-01-01")
    assert machine.ridge("float32") == 5.0 and machine.ridge("float64") == 2.5
