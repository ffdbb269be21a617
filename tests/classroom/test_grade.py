"""Grading on the toy tree of conftest.py: the teacher's hidden tests judge a submission's region code.

Every grade here starts a judge and a worker per task (about a second each on a quiet machine).
"""

import json
import subprocess
import sys

import pytest

from minigrad.classroom.grade import exit_status, format_table, grade
from minigrad.classroom.submission import read_submission
from minigrad.classroom.tasks import ClassroomError

T01, T02, T09 = "t01_elementwise_backward", "t02_unbroadcast", "t09_cuda_kernel"


def counts(report):
    return {row["id"]: (row["passed"], row["failed"], row["skipped"], row["points_earned"]) for row in report["tasks"]}


def test_the_instructor_tree_passes_every_task(toy_project):
    report = grade(toy_project, task_ids=[T01, T02, T09], teacher=toy_project)
    assert counts(report) == {T01: (3, 0, 0, 10.0), T02: (2, 0, 1, 10.0), T09: (1, 0, 0, 10.0)}  # t09: under the simulator
    assert report["points_earned"] == 30.0 and report["points_possible"] == 20  # t09 is a bonus
    assert exit_status(report) == 0 and report["warnings"] == []
    table = format_table(report)
    assert "bonus tasks (t09_cuda_kernel) count on top of the 20 possible: a total above it is bonus points" in table
    assert "hidden tests: 6 ran" in table
    assert f"{T02}: 1 test(s) skipped, not counted: skipped tests count neither way" in table


def test_a_fresh_student_copy_fails_every_test_with_its_tasks_not_implemented_error(student_copy, toy_project):
    report = grade(student_copy, teacher=toy_project)
    assert counts(report) == {T01: (0, 3, 0, 0.0), T02: (0, 2, 1, 0.0)}
    for row in report["tasks"]:
        failed = [test for test in row["tests"] if test["outcome"] == "failed"]
        assert failed and all(test["message"].startswith(f"NotImplementedError: {row['id']}: ") for test in failed)
    assert exit_status(report) == 1 and report["warnings"] == []


def test_the_code_a_student_writes_in_place_of_the_stubs_is_graded(solve, student_copy, toy_project):
    solve(student_copy, "toypkg/shapes.py")
    report = grade(student_copy, teacher=toy_project)
    assert counts(report) == {T01: (0, 3, 0, 0.0), T02: (2, 0, 1, 10.0)}
    solve(student_copy, "toypkg/ops.py")
    assert counts(grade(student_copy, teacher=toy_project))[T01] == (3, 0, 0, 10.0)


def test_partial_credit_is_proportional_to_the_tests_passed(solve, student_copy, toy_project):
    solve(student_copy, "toypkg/ops.py", [TOY_RELU, "grad = [g + factor for g in grad_out]\n"])
    row = grade(student_copy, task_ids=[T01], teacher=toy_project)["tasks"][0]
    assert (row["passed"], row["total"], row["points_earned"]) == (2, 3, 6.67)


TOY_RELU = "return [g if v > 0 else 0.0 for g, v in zip(grad_out, x)]\n"


def test_the_submissions_code_is_found_after_the_teacher_moved_the_code_around_it(solve, student_copy, toy_project):
    solve(student_copy, "toypkg/shapes.py")
    shapes = toy_project / "toypkg/shapes.py"
    shapes.write_text('"""Shapes."""\n\nLIMIT = 3\n\n\ndef helper():\n    return LIMIT\n\n\n' + shapes.read_text())
    report = grade(student_copy, teacher=toy_project)
    assert counts(report)[T02] == (2, 0, 1, 10.0)
    assert report["warnings"] == []  # lines the teacher added are not the student's changes


def test_a_copy_built_for_some_tasks_is_graded_on_those_only(toy_project, tmp_path):
    from minigrad.classroom.build import build_student_copy

    build_student_copy(tmp_path / "student", source=toy_project, task_ids=[T02])
    report = grade(tmp_path / "student", teacher=toy_project)
    assert counts(report) == {T02: (0, 2, 1, 0.0)} and report["points_possible"] == 10


def test_points_given_in_the_marker_weight_the_tests(solve, student_copy, toy_project):
    tests = toy_project / "tests/hidden/test_graded_ops.py"
    tests.write_text(tests.read_text().replace("\n\ndef test_scale_backward",
                                               f"\n\n@pytest.mark.{T01}(points=2)\ndef test_scale_backward"))
    solve(student_copy, "toypkg/ops.py", [TOY_RELU, "grad = [g + factor for g in grad_out]\n"])
    row = grade(student_copy, task_ids=[T01], teacher=toy_project)["tasks"][0]
    assert row["points_earned"] == 5.0  # fails the test worth 2 of 4
    assert sorted((test["weight"], test["points"]) for test in row["tests"]) == [(1, 2.5), (1, 2.5), (2, 5.0)]


def test_points_that_are_not_a_positive_number_are_refused(toy_project):
    tests = toy_project / "tests/hidden/test_graded_ops.py"
    tests.write_text(tests.read_text().replace("\n\ndef test_scale_backward",
                                               f"\n\n@pytest.mark.{T01}(points=-1)\ndef test_scale_backward"))
    with pytest.raises(ClassroomError, match=r"points=...\) must be a number > 0, got -1"):
        grade(toy_project, task_ids=[T01], teacher=toy_project)


def test_a_task_whose_tests_all_skip_scores_zero_not_full_marks(toy_project):
    tests = toy_project / "tests/hidden/test_graded_shapes.py"
    tests.write_text(tests.read_text().replace(f"pytestmark = pytest.mark.{T02}",
                                               f"pytestmark = [pytest.mark.{T02}, pytest.mark.skip(reason='no torch')]"))
    report = grade(toy_project, task_ids=[T01, T02], teacher=toy_project)
    row = report["tasks"][1]
    assert (row["status"], row["passed"], row["skipped"], row["points_earned"]) == ("no tests ran", 0, 3, 0.0)
    assert report["points_earned"] == 10.0 and exit_status(report) == 2
    table = format_table(report)
    assert f"{T02}: no tests ran (all 3 of its tests were skipped); it scores 0" in table
    assert f"{T02}: 3 test(s) skipped, not counted: no torch; skipped tests count neither way" in table


def test_a_graded_test_must_call_the_submission_from_a_top_level_function(toy_project):
    tests = toy_project / "tests/hidden/test_graded_shapes.py"
    tests.write_text(tests.read_text() + "\n\ndef test_lambda(student):\n    student.run(lambda: 1)\n")
    row = grade(toy_project, task_ids=[T02], teacher=toy_project)["tasks"][0]
    message = next(test["message"] for test in row["tests"] if test["nodeid"].endswith("test_lambda"))
    assert "student.run needs a function defined at the top level of a test module, got test_lambda.<locals>.<lambda>" in message


def test_an_exception_the_submission_raises_comes_back_as_its_type_and_message(solve, student_copy, toy_project):
    solve(student_copy, "toypkg/shapes.py", ["raise ValueError(f'length={length} is odd')\n"])
    row = grade(student_copy, task_ids=[T02], teacher=toy_project)["tasks"][0]
    assert {test["message"] for test in row["tests"] if test["outcome"] == "failed"} == \
        {"ValueError: length=2 is odd", "ValueError: length=3 is odd"}


def test_grading_refuses_a_missing_folder_and_a_student_copy_as_the_teacher(toy_project, student_copy, tmp_path):
    with pytest.raises(ClassroomError, match="nowhere is not a folder"):
        grade(tmp_path / "nowhere", teacher=toy_project)
    with pytest.raises(ClassroomError, match="is a student copy: grade with the teacher's installation"):
        grade(student_copy, teacher=student_copy)
    with pytest.raises(ClassroomError, match="graded tests folder .*nowhere does not exist"):
        grade(student_copy, teacher=toy_project, tests=tmp_path / "nowhere")


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
def test_a_time_limit_that_is_not_a_positive_number_is_refused(toy_project, timeout):
    with pytest.raises(ClassroomError, match=f"time limit per task must be a number of seconds > 0, got {timeout}"):
        grade(toy_project, task_ids=[T02], timeout=timeout, teacher=toy_project)


def test_read_submission_takes_only_the_lines_in_place_of_the_stubs(solve, student_copy, toy_project):
    solve(student_copy, "toypkg/ops.py")
    ops = student_copy / "toypkg/ops.py"
    ops.write_text(ops.read_text().replace('"""dx = dy * factor"""', '"""dx = dy * factor"""\n        print("hi")'))
    work = read_submission(student_copy, toy_project)
    assert sorted(lines for (path, _), lines in work.code.items() if path == "toypkg/ops.py") == \
        [["        grad = [g * factor for g in grad_out]\n"], ["    " + TOY_RELU]]
    assert work.warnings == ["changed outside the task regions, not graded: toypkg/ops.py (outside its regions: line 15)"]


def test_cli_prints_the_table_and_writes_the_same_report_as_json(solve, student_copy, toy_project, tmp_path):
    solve(student_copy, "toypkg/shapes.py")
    json_path = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "minigrad.classroom", "grade", str(student_copy), "--teacher",
                          str(toy_project), "--json", str(json_path)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"graded by {toy_project} with the teacher's hidden tests in {toy_project / 'tests/hidden'}"
    assert lines[1].split() == ["task", "passed", "failed", "skipped", "points"]
    assert lines[3].split() == [T01, "0/3", "3", "0", "0/10"]
    assert lines[4].split() == [T02, "2/2", "0", "1", "10/10"]
    assert lines[6].split() == ["total", "10/20"]
    assert f"{T01}: 3 failing test(s), first line of each reason:" in lines
    report = json.loads(json_path.read_text())
    assert counts(report) == {T01: (0, 3, 0, 0.0), T02: (2, 0, 1, 10.0)}
    assert report["points_earned"] == 10.0 and report["directory"] == str(student_copy.resolve())
    assert [row["time_limit"] for row in report["tasks"]] == [120.0, 120.0]  # never measured: UNMEASURED_S
