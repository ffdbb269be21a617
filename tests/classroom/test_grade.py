"""Grading per task on the toy tree of conftest.py: counts, messages, table, JSON, exit status."""

import json
import subprocess
import sys

import pytest

from minigrad.classroom.build import build_student_copy
from minigrad.classroom.tasks import ClassroomError
from minigrad.classroom.grade import exit_status, format_table, grade

T01, T02, T09 = "t01_elementwise_backward", "t02_unbroadcast", "t09_cuda_kernel"


def counts(report):
    return {row["id"]: (row["passed"], row["failed"], row["skipped"], row["points_earned"]) for row in report["tasks"]}


def test_the_instructor_tree_passes_every_task(toy_project):
    report = grade(toy_project, task_ids=[T01, T02, T09])
    assert counts(report) == {T01: (3, 0, 0, 10.0), T02: (2, 0, 1, 10.0), T09: (1, 0, 0, 10.0)}
    assert report["points_earned"] == 30.0 and report["points_possible"] == 20  # t09 is a bonus
    assert exit_status(report) == 0


def test_in_a_student_copy_every_test_fails_with_its_tasks_not_implemented_error(toy_project, tmp_path):
    build_student_copy(tmp_path / "student", source=toy_project)
    report = grade(tmp_path / "student", task_ids=[T01, T02])
    assert counts(report) == {T01: (0, 3, 0, 0.0), T02: (0, 2, 1, 0.0)}
    for row in report["tasks"]:
        failed = [test for test in row["tests"] if test["outcome"] == "failed"]
        assert failed and all(test["message"].startswith(f"NotImplementedError: {row['id']}: ") for test in failed)
    assert exit_status(report) == 1


def test_restoring_one_tasks_solution_makes_exactly_its_tests_pass(toy_project, tmp_path):
    # Stubbing every task but t02 is the student copy with t02's solution put back.
    build_student_copy(tmp_path / "student", source=toy_project, task_ids=[T01])
    report = grade(tmp_path / "student", task_ids=[T01, T02])
    assert counts(report) == {T01: (0, 3, 0, 0.0), T02: (2, 0, 1, 10.0)}


def test_a_student_copy_is_graded_on_the_tasks_it_was_built_with(toy_project, tmp_path):
    build_student_copy(tmp_path / "student", source=toy_project, task_ids=[T02])
    report = grade(tmp_path / "student")
    assert counts(report) == {T02: (0, 2, 1, 0.0)}
    assert report["points_possible"] == 10


def test_partial_credit_is_proportional_to_the_tests_passed(toy_project):
    ops = toy_project / "toypkg/ops.py"
    ops.write_text(ops.read_text().replace("g * factor", "g + factor"))  # breaks 1 of the 3 t01 tests
    row = grade(toy_project, task_ids=[T01])["tasks"][0]
    assert (row["passed"], row["total"], row["points_earned"]) == (2, 3, 6.67)


def test_a_test_module_that_cannot_be_imported_is_reported_and_the_rest_still_graded(toy_project):
    (toy_project / "tests/test_broken.py").write_text("import no_such_module\n")
    report = grade(toy_project, task_ids=[T01, T02])
    assert counts(report)[T01] == (3, 0, 0, 10.0)
    assert [error["nodeid"] for error in report["collection_errors"]] == ["tests/test_broken.py"]
    assert "no_such_module" in report["collection_errors"][0]["message"]
    assert exit_status(report) == 2
    assert "could not collect tests/test_broken.py" in format_table(report)


def test_a_task_without_tests_makes_grading_incomplete(toy_project):
    report = grade(toy_project, task_ids=[T01, "t04_im2col"])
    assert counts(report)["t04_im2col"] == (0, 0, 0, 0.0)
    assert exit_status(report) == 2
    assert "(no tests found)" in format_table(report)


def test_cli_prints_the_table_and_writes_the_same_report_as_json(toy_project, tmp_path):
    student = tmp_path / "student"
    build_student_copy(student, source=toy_project, task_ids=[T01])
    json_path = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "minigrad.classroom", "grade", str(student),
                          "--tasks", T01, T02, "--json", str(json_path)], capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["task", "passed", "failed", "skipped", "points"]
    assert lines[2].split() == [T01, "0/3", "3", "0", "0/10"]
    assert lines[3].split() == [T02, "2/2", "0", "1", "10/10"]
    assert lines[-1].split() == ["total", "10/20"]

    report = json.loads(json_path.read_text())
    assert counts(report) == {T01: (0, 3, 0, 0.0), T02: (2, 0, 1, 10.0)}
    assert report["points_earned"] == 10.0 and report["directory"] == str(student.resolve())


def test_cli_grades_the_current_folder_by_default(toy_project):
    run = subprocess.run([sys.executable, "-m", "minigrad.classroom", "grade", "--tasks", T02, "--json", "-"],
                         cwd=toy_project, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["tasks"][0]["passed"] == 2


def test_markers_registered_by_register_markers_satisfy_strict_markers(toy_project):
    run = subprocess.run([sys.executable, "-m", "pytest", "--markers"], cwd=toy_project, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"@pytest.mark.{T01}: classroom task" in run.stdout


def hang_in_t01(toy_project):
    ops = toy_project / "toypkg/ops.py"
    docstring = '    """dx = dy * (x > 0)"""\n'
    assert docstring in ops.read_text()
    ops.write_text(ops.read_text().replace(docstring, docstring + "    while True:\n        pass\n"))


def test_a_task_that_runs_past_its_time_limit_scores_zero_and_the_others_are_graded(toy_project):
    hang_in_t01(toy_project)
    report = grade(toy_project, task_ids=[T01, T02], timeout=3)
    rows = {row["id"]: row for row in report["tasks"]}
    assert rows[T01]["timed_out"] == 3 and rows[T01]["points_earned"] == 0.0
    assert rows[T02]["timed_out"] is None and counts(report)[T02] == (2, 0, 1, 10.0)
    assert report["points_earned"] == 10.0 and exit_status(report) == 1
    assert "(timed out after 3 s: no points)" in format_table(report)


def test_cli_reports_a_timed_out_task_in_the_table_and_the_json(toy_project, tmp_path):
    hang_in_t01(toy_project)
    json_path = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "minigrad.classroom", "grade", str(toy_project), "--tasks", T01, T02,
                          "--timeout", "3", "--json", str(json_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[2].split()[:5] == [T01, "0/0", "0", "0", "0/10"] and "timed out after 3 s" in lines[2]
    assert lines[3].split() == [T02, "2/2", "0", "1", "10/10"]
    report = json.loads(json_path.read_text())
    assert [row["timed_out"] for row in report["tasks"]] == [3, None] and report["points_earned"] == 10.0


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
def test_a_time_limit_that_is_not_a_positive_number_is_refused(toy_project, timeout):
    with pytest.raises(ClassroomError, match=f"time limit per task must be a number of seconds > 0, got {timeout}"):
        grade(toy_project, task_ids=[T02], timeout=timeout)
