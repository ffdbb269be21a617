"""The grader on this project's own tree: the solved tree earns full marks, the fresh student copy
zero, a copy with one task's solution put back (with its dependencies') earns exactly those
tasks' points, and a copy with one looping task is graded well within 3 minutes with the default
limits. The graded tests are tests/hidden, judged in the teacher's process (judge.py).

Every grade builds a fresh tree at a new path, so Numba compiles the kernels again. Measured on a
busy 2-core machine: the whole solved tree ~25 s (measure-limits), the all-stubbed copy ~20 s,
a task put back alone ~25 s each (t10, the direct loops "auto" runs for grouped 3x3s; t14, after
seven other tasks). Add an id to RESTORED_ALONE to check another task the same way.
"""

import os
import re
import time
import subprocess
import sys
from pathlib import Path

import pytest

from minigrad.classroom.build import STUDENT_STAMP, build_student_copy, default_source_root
from minigrad.classroom.grade import grade
from minigrad.classroom.tasks import TASKS, dependency_closure

REPO_ROOT = Path(__file__).resolve().parents[2]
HIDDEN = REPO_ROOT / "tests" / "hidden"
SIMULATED_THREAD = r"tid=\[[\d, ]*\] ctaid=\[[\d, ]*\]: "
QUICK_TASKS = ["t02_unbroadcast", "t08_block_converter", "t11_pointwise_conv", "t12_sgd_momentum",
               "t13_block_forms_forward", "t15_numba_speedup"]
RESTORED_ALONE = ["t10_direct_conv_forward", "t14_training_loop"]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif((REPO_ROOT / STUDENT_STAMP).exists() or not HIDDEN.is_dir(),
                                 reason="a student copy (no solutions, no hidden tests)")]


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("classroom") / "student"
    summary = build_student_copy(out, source=default_source_root())
    assert summary["stubbed_tasks"] == [task.id for task in TASKS]  # every task has a region
    assert summary["hidden_files"] and not (out / "tests/hidden").exists()
    return out


def points_by_task(report):
    return {row["id"]: row["points_earned"] for row in report["tasks"]}


def test_the_solved_tree_earns_full_marks():
    report = grade(REPO_ROOT, task_ids=QUICK_TASKS)
    assert report["warnings"] == []
    assert report["collection_errors"] == []
    assert points_by_task(report) == {task.id: float(task.points) for task in TASKS if task.id in QUICK_TASKS}
    assert all(row["status"] == "passed" for row in report["tasks"])


def test_the_fresh_student_copy_earns_zero_and_every_failure_names_the_task_or_a_dependency(student_copy):
    imports = subprocess.run([sys.executable, "-c", "import minigrad, resnext_np"], cwd=student_copy,
                             capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(student_copy)))
    assert imports.returncode == 0, imports.stderr
    report = grade(student_copy)
    assert report["collection_errors"] == [] and report["points_earned"] == 0.0 and report["warnings"] == []
    for row in report["tasks"]:
        assert row["total"] > 0, f"{row['id']} has marked regions but no test carries @pytest.mark.{row['id']}"
        assert row["passed"] == 0, f"{row['id']}: {row['passed']} test(s) pass without the task's solution"
        allowed = "|".join(sorted(dependency_closure(row["id"])))
        # PyTorch and mpi4py are never dependencies: where they are missing, the comparison tests with
        # PyTorch and the tests on MPI ranks skip (README's environment); every other test must run,
        # and fail on a stub.
        skipped = [test for test in row["tests"] if test["outcome"] in ("skipped", "xfailed")]
        for test in skipped:
            assert "torch" in test["message"] or "mpi4py" in test["message"], (row["id"], test)
        assert row["failed"] > 0, f"{row['id']}: no test ran"
        for test in row["tests"]:
            if test in skipped:
                continue
            # The CUDA simulator puts the failing thread's ids in front of a kernel's message.
            assert re.match(rf"NotImplementedError: ({SIMULATED_THREAD})?({allowed}): ", test["message"]), \
                (row["id"], test)


@pytest.mark.parametrize("task_id", RESTORED_ALONE)
def test_a_task_solved_alone_earns_exactly_its_points_and_its_dependencies(task_id, tmp_path):
    restored = dependency_closure(task_id)
    copy = tmp_path / "student"
    build_student_copy(copy, source=default_source_root(), task_ids=[t.id for t in TASKS if t.id not in restored])
    report = grade(copy, task_ids=[task.id for task in TASKS if not task.optional])
    expected = {task.id: float(task.points) if task.id in restored else 0.0 for task in TASKS if not task.optional}
    counts = {row["id"]: (row["passed"], row["failed"]) for row in report["tasks"]}
    assert points_by_task(report) == expected, counts
    # Not one test of another task passes: such a test would grade someone else's code.
    assert all(row["passed"] == 0 for row in report["tasks"] if row["id"] not in restored), counts


def test_t01_is_graded_without_unbroadcast_which_is_t02(tmp_path):
    # ASSIGNMENTS.md: the binary ops' backward calls unbroadcast and is graded with t02.
    copy = tmp_path / "student"
    build_student_copy(copy, source=default_source_root(), task_ids=["t02_unbroadcast"])
    report = grade(copy, task_ids=["t01_elementwise_backward", "t02_unbroadcast"])
    assert points_by_task(report) == {"t01_elementwise_backward": 10.0, "t02_unbroadcast": 0.0}


LOOP = "while True:\n    pass\n"


def test_a_copy_with_one_looping_task_is_graded_in_under_three_minutes_with_the_default_limits(tmp_path):
    copy = tmp_path / "student"
    build_student_copy(copy, source=default_source_root(),
                       task_ids=["t10_direct_conv_forward"])  # the task with the longest default limit
    direct = copy / "minigrad/kernels/conv/direct.py"
    looping = []
    for line in direct.read_text().splitlines(keepends=True):  # every stub of t10 (the loops and their prange)
        indent = line[:len(line) - len(line.lstrip())]
        looping += [indent + loop_line for loop_line in LOOP.splitlines(keepends=True)] \
            if "NotImplementedError" in line else [line]
    direct.write_text("".join(looping))
    started = time.monotonic()
    report = grade(copy, task_ids=[task.id for task in TASKS])  # every other task solved: all their tests run
    took = time.monotonic() - started
    rows = {row["id"]: row for row in report["tasks"]}
    looping = rows.pop("t10_direct_conv_forward")
    assert looping["status"] == "timed out" and looping["reason"] == f"timed out after {looping['time_limit']:g} s"
    assert all(row["status"] == "passed" for row in rows.values()), {k: r["status"] for k, r in rows.items()}
    assert took < 180, took
