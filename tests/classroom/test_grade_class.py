"""grade-class on the toy tree: folders and archives, broken ones get a row, CSV and JSON, Dask."""

import csv
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from minigrad.classroom.grade_class import grade_class

T01, T02 = "t01_elementwise_backward", "t02_unbroadcast"


@pytest.fixture
def class_folder(solve, student_copy, tmp_path):
    """alice: a folder, t02 solved; bob.zip: untouched; carol.tar.gz: both solved; then broken ones."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copytree(student_copy, folder / "alice")
    solve(folder / "alice", "toypkg/shapes.py")
    with zipfile.ZipFile(folder / "bob.zip", "w") as archive:
        for path in student_copy.rglob("*"):
            archive.write(path, "bob-copy/" + str(path.relative_to(student_copy)))
    solve(student_copy, "toypkg/shapes.py")
    solve(student_copy, "toypkg/ops.py")
    with tarfile.open(folder / "carol.tar.gz", "w:gz") as archive:
        archive.add(student_copy, "carol")
    (folder / "dave.zip").write_bytes(b"this is not a zip file")
    (folder / "erin").mkdir()
    (folder / "erin" / "notes.txt").write_text("I did not finish")
    with zipfile.ZipFile(folder / "frank.zip", "w") as archive:
        archive.writestr("../outside.py", "print('escaped')\n")
    (folder / "README.txt").write_text("not a submission")
    return folder


def test_every_submission_gets_a_row_and_broken_ones_say_why(class_folder, toy_project):
    result = grade_class(class_folder, workers=2, teacher=toy_project, progress=open("/dev/null", "w"))
    rows = {row["student"]: row for row in result["rows"]}
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert {name: rows[name]["points_earned"] for name in ("alice", "bob", "carol")} == \
        {"alice": 10.0, "bob": 0.0, "carol": 20.0}
    assert rows["carol"]["tasks"] == {T01: {"points": 10.0, "status": "passed", "reason": None},
                                      T02: {"points": 10.0, "status": "passed", "reason": None}}
    assert rows["dave"]["status"] == "not graded: the archive does not open (BadZipFile: File is not a zip file)"
    assert rows["erin"]["status"].startswith("not graded: no student copy in it (no .classroom-student file")
    assert rows["frank"]["status"] == ("not graded: the archive holds '../outside.py', which would land outside "
                                       "its folder or is a link")
    assert not (class_folder.parent / "outside.py").exists()
    assert result["task_ids"] == [T01, T02]


def test_cli_writes_the_csv_and_json_and_shows_progress(class_folder, toy_project, tmp_path):
    for name in ("dave.zip", "erin", "frank.zip"):
        shutil.rmtree(class_folder / name) if (class_folder / name).is_dir() else (class_folder / name).unlink()
    run = subprocess.run([sys.executable, "-m", "minigrad.classroom", "grade-class", str(class_folder), "--teacher",
                          str(toy_project), "--json", str(tmp_path / "class.json"), "--csv", str(tmp_path / "class.csv"),
                          "--workers", "2"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    progress = [line for line in run.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == ["[1/3", "[2/3", "[3/3"]
    with open(tmp_path / "class.csv", newline="") as file:
        table = list(csv.reader(file))
    assert table[0] == ["student", "status", "total", "possible", T01, T02, "notes"]
    assert table[1:] == [["alice", "graded", "10.0", "20", "0.0", "10.0", ""],
                         ["bob", "graded", "0.0", "20", "0.0", "0.0", ""],
                         ["carol", "graded", "20.0", "20", "10.0", "10.0", ""]]
    saved = json.loads((tmp_path / "class.json").read_text())
    assert [row["student"] for row in saved["rows"]] == ["alice", "bob", "carol"]
    assert saved["rows"][0]["tasks"][T02]["points"] == 10.0 and saved["workers"] == 2
    assert "3 submission(s) in" in run.stdout.splitlines()[-1]


def test_a_crashing_and_a_tampering_submission_in_the_class_get_their_notes(class_folder, toy_project, solve):
    alice = class_folder / "alice"
    solve(alice, "toypkg/ops.py", ["import os\nos._exit(3)\n", "pass\n"])
    (alice / "conftest.py").write_text("raise SystemExit\n")
    for name in ("bob.zip", "carol.tar.gz", "dave.zip", "erin", "frank.zip"):
        shutil.rmtree(class_folder / name) if (class_folder / name).is_dir() else (class_folder / name).unlink()
    row = grade_class(class_folder, teacher=toy_project, progress=open("/dev/null", "w"))["rows"][0]
    assert (row["points_earned"], row["tasks"][T01]["reason"]) == (10.0, "crashed: exit status 3")
    assert row["warnings"] == ["added files, not graded: conftest.py"]


def test_on_a_dask_cluster_the_rows_are_the_same(class_folder, toy_project):
    distributed = pytest.importorskip("distributed", reason="the dask extra (pip install -e '.[dask]') is not installed")
    for name in ("dave.zip", "erin", "frank.zip", "carol.tar.gz"):
        shutil.rmtree(class_folder / name) if (class_folder / name).is_dir() else (class_folder / name).unlink()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        result = grade_class(class_folder, scheduler=cluster.scheduler_address, teacher=toy_project,
                             progress=open("/dev/null", "w"))
    assert [(row["student"], row["points_earned"]) for row in result["rows"]] == [("alice", 10.0), ("bob", 0.0)]
    assert result["scheduler"] == cluster.scheduler_address
