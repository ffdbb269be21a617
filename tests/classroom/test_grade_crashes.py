"""A crash, a loop or a stopped grade costs one task, never the others (the toy tree of conftest.py).

t02 is solved in every copy here; t01's code crashes, loops or eats memory. t02 keeps its 10 points.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minigrad.classroom import limits
from minigrad.classroom.grade import format_table, grade

T01, T02 = "t01_elementwise_backward", "t02_unbroadcast"

CRASHES = {
    "segfault": ("import ctypes\nctypes.string_at(0)\n", "crashed: signal 11 (SIGSEGV)"),
    "os._exit": ("import os\nos._exit(3)\n", "crashed: exit status 3"),
    "MemoryError": ("bytearray(1 << 50)\n", "crashed: MemoryError (memory limit 4096 MiB)"),
    "killed": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "crashed: signal 9 (SIGKILL)"),
}


def with_t01(solve, copy, t01_code):
    solve(copy, "toypkg/shapes.py")
    solve(copy, "toypkg/ops.py", [t01_code, "pass\n"])
    return copy


@pytest.mark.parametrize("kind", list(CRASHES))
def test_a_crash_costs_only_its_task_and_says_why(kind, solve, student_copy, toy_project):
    code, reason = CRASHES[kind]
    report = grade(with_t01(solve, student_copy, code), teacher=toy_project)
    rows = {row["id"]: row for row in report["tasks"]}
    assert (rows[T01]["status"], rows[T01]["reason"], rows[T01]["points_earned"]) == ("crashed", reason, 0.0)
    assert (rows[T02]["status"], rows[T02]["points_earned"]) == ("passed", 10.0)
    assert f"{T01}: {reason}; it scores 0, the other tasks were graded as usual" in format_table(report)


def test_each_tasks_processes_have_a_memory_limit(solve, student_copy, toy_project):
    with_t01(solve, student_copy, "data = bytearray(600 << 20)\nreturn [0.0, 2.0]\n")
    rows = grade(student_copy, teacher=toy_project, memory_mb=400)["tasks"]
    assert rows[0]["reason"] == "crashed: MemoryError (memory limit 400 MiB)" and rows[1]["points_earned"] == 10.0
    assert grade(student_copy, teacher=toy_project)["tasks"][0]["reason"] is None  # 600 MiB fit in 4096


def test_after_a_segfault_the_cli_still_writes_the_table_and_the_json(solve, student_copy, toy_project, tmp_path):
    with_t01(solve, student_copy, CRASHES["segfault"][0])
    json_path = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "minigrad.classroom", "grade", str(student_copy), "--teacher",
                          str(toy_project), "--json", str(json_path)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "(crashed: signal 11 (SIGSEGV): no points)" in run.stdout
    assert [row["points_earned"] for row in json.loads(json_path.read_text())["tasks"]] == [0.0, 10.0]


LOOP = "while True:\n    pass\n"


def test_measuring_one_task_keeps_what_was_measured_for_the_others(toy_project):
    limits.measure(toy_project, toy_project / "tests/hidden", [T01, T02])
    first = limits.read_measured(toy_project / "tests/hidden")
    again = limits.measure(toy_project, toy_project / "tests/hidden", [T02])["measured_s"]
    assert set(again) == {T01, T02} and again[T01] == first[T01]


def test_a_looping_task_costs_its_default_limit_measured_from_the_teachers_solution(solve, student_copy, toy_project):
    measured = limits.measure(toy_project, toy_project / "tests/hidden", [T01, T02])["measured_s"]
    assert set(measured) == {T01, T02} and all(0 < seconds < 30 for seconds in measured.values())
    limit = limits.default_limit(measured[T01])
    assert limit == math.ceil(limits.FACTOR * measured[T01] + limits.MARGIN_S)
    with_t01(solve, student_copy, LOOP)
    started = time.monotonic()
    report = grade(student_copy, teacher=toy_project)
    took = time.monotonic() - started
    rows = {row["id"]: row for row in report["tasks"]}
    assert rows[T01]["reason"] == f"timed out after {limit:g} s" and rows[T01]["time_limit"] == limit
    assert rows[T02]["points_earned"] == 10.0
    assert limit <= took < limit + 30


def processes_mentioning(text):
    """Pids of live processes whose environment or command line holds `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if text.encode() in (entry / "environ").read_bytes() + (entry / "cmdline").read_bytes():
                state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
                if "zombie" not in state:
                    found.append(int(entry.name))
        except (OSError, StopIteration):
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to list processes")
@pytest.mark.parametrize("command", ["grade", "grade-class"])
def test_stopping_grade_with_sigterm_ends_every_process_it_started(command, solve, student_copy, toy_project, tmp_path):
    started_file = tmp_path / "loop-started"
    with_t01(solve, student_copy, f"open({str(started_file)!r}, 'w').close()\n" + LOOP)
    scratch = tmp_path / "scratch"  # every process grading starts inherits TMPDIR: how they are found
    scratch.mkdir()
    target = [str(student_copy)] if command == "grade" else [str(tmp_path / "class"), "--workers", "2"]
    if command == "grade-class":
        (tmp_path / "class").mkdir()
        student_copy.rename(tmp_path / "class/alice")
    grading = subprocess.Popen([sys.executable, "-m", "minigrad.classroom", command] + target
                               + ["--teacher", str(toy_project)], env=dict(os.environ, TMPDIR=str(scratch)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not started_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started_file.exists(), "the looping task never started"
        assert len(processes_mentioning(str(scratch))) >= 3  # grade, the judge, the looping worker
        grading.send_signal(signal.SIGTERM)
        assert grading.wait(timeout=20) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 5
        while processes_mentioning(str(scratch)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_mentioning(str(scratch)) == []
    finally:
        grading.kill()
