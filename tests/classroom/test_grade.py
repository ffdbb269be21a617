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
    table = format_table(report)
    assert "(NO TESTS RAN: no points)" in table
    assert "t04_im2col: no tests ran (no test carries its marker); it scores 0" in table


def test_a_task_whose_tests_all_skip_scores_zero_not_full_marks(toy_project):
    shapes = toy_project / "tests/test_shapes.py"
    shapes.write_text(shapes.read_text().replace("pytestmark = pytest.mark.t02_unbroadcast",
                                                 "pytestmark = [pytest.mark.t02_unbroadcast, pytest.mark.skip(reason='x')]"))
    report = grade(toy_project, task_ids=[T01, T02])
    row = report["tasks"][1]
    assert (row["status"], row["passed"], row["skipped"], row["points_earned"]) == ("no tests ran", 0, 3, 0.0)
    assert report["points_earned"] == 10.0 and exit_status(report) == 2
    assert f"{T02}: no tests ran (all 3 of its tests were skipped); it scores 0" in format_table(report)


def test_the_table_gives_the_first_line_of_each_failing_tests_reason_and_a_hint(toy_project):
    ops = toy_project / "toypkg/ops.py"
    ops.write_text(ops.read_text().replace("g * factor", "g + factor"))
    tests = toy_project / "tests/test_ops.py"
    tests.write_text(tests.read_text().replace("== [3.0, 6.0]", "== [3.0, 6.0], 'scale is wrong\\nsecond line'"))
    report = grade(toy_project, task_ids=[T01, T02])
    lines = format_table(report).splitlines()
    assert f"{T01}: 1 failing test(s), first line of each reason:" in lines
    reason = next(line for line in lines if "test_scale_backward_multiplies_by_factor" in line)
    assert reason.strip() == ("tests/test_ops.py::test_scale_backward_multiplies_by_factor (3.33 pts): "
                              "AssertionError: scale is wrong")
    assert lines[-1].startswith(f"more: `pytest -m {T01}` shows full tracebacks")
    assert not any(line.startswith(f"{T02}:") for line in lines)


def test_points_given_in_the_marker_weight_the_tests(toy_project):
    tests = toy_project / "tests/test_ops.py"
    text = tests.read_text().replace("\n\ndef test_scale_backward", f"\n\n@pytest.mark.{T01}(points=2)\ndef test_scale_backward")
    tests.write_text(text)
    ops = toy_project / "toypkg/ops.py"
    ops.write_text(ops.read_text().replace("g * factor", "g + factor"))  # fails the test worth 2 of 4
    row = grade(toy_project, task_ids=[T01])["tasks"][0]
    assert row["points_earned"] == 5.0
    assert sorted((test["weight"], test["points"]) for test in row["tests"]) == [(1, 2.5), (1, 2.5), (2, 5.0)]


def test_points_that_are_not_a_positive_number_are_refused(toy_project):
    tests = toy_project / "tests/test_ops.py"
    tests.write_text(tests.read_text().replace("\n\ndef test_scale_backward", f"\n\n@pytest.mark.{T01}(points=-1)\ndef test_scale_backward"))
    with pytest.raises(ClassroomError, match=r"points=...\) must be a number > 0, got -1"):
        grade(toy_project, task_ids=[T01])


def test_hidden_tests_are_left_out_of_the_copy_and_run_against_it_with_with_hidden(toy_project, tmp_path):
    hidden = toy_project / "tests/hidden"
    hidden.mkdir()
    (hidden / "conftest.py").write_text("from minigrad.classroom import register_markers\n\n\n"
                                        "def pytest_configure(config):\n    register_markers(config)\n")
    (hidden / "test_hidden_shapes.py").write_text(
        f"import pytest\n\nfrom toypkg import unbroadcast\n\n\n@pytest.mark.{T02}\n"
        "def test_three_rows():\n    assert unbroadcast([[1.0], [2.0], [3.0]], 1) == [6.0]\n")
    assert counts(grade(toy_project, task_ids=[T02]))[T02] == (3, 0, 1, 10.0)  # the teacher's tree runs them

    student = tmp_path / "student"
    summary = build_student_copy(student, source=toy_project, task_ids=[T01])
    assert summary["hidden_files"] == ["tests/hidden/conftest.py", "tests/hidden/test_hidden_shapes.py"]
    assert not (student / "tests/hidden").exists()
    assert counts(grade(student, task_ids=[T02]))[T02] == (2, 0, 1, 10.0)
    with_hidden = grade(student, task_ids=[T01, T02], hidden_tests=hidden)
    assert counts(with_hidden) == {T01: (0, 3, 0, 0.0), T02: (3, 0, 1, 10.0)}
    # A student who special-cases the visible tests is caught by the hidden one.
    shapes = student / "toypkg/shapes.py"
    shapes.write_text(shapes.read_text().replace("    total = [0.0] * length", "    if len(grad) > 2:\n        return [0.0]\n"
                                                 "    total = [0.0] * length"))
    assert counts(grade(student, task_ids=[T02], hidden_tests=hidden))[T02] == (2, 1, 1, 6.67)


def test_with_hidden_needs_an_existing_folder(toy_project, tmp_path):
    with pytest.raises(ClassroomError, match="hidden tests folder .*nowhere does not exist"):
        grade(toy_project, task_ids=[T02], hidden_tests=tmp_path / "nowhere")


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
    assert lines[5].split() == ["total", "10/20"]
    assert lines[6] == f"{T01}: 3 failing test(s), first line of each reason:"
    assert f"NotImplementedError: {T01}: " in lines[7] and lines[-1].startswith("more: ")

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


# Long enough for a pytest process that imports minigrad (numba) to start on a loaded 2-core
# machine (4.4 s measured at load average 6), short enough to keep these two tests quick.
LIMIT = 10


def test_a_task_that_runs_past_its_time_limit_scores_zero_and_the_others_are_graded(toy_project):
    hang_in_t01(toy_project)
    report = grade(toy_project, task_ids=[T01, T02], timeout=LIMIT)
    rows = {row["id"]: row for row in report["tasks"]}
    assert rows[T01]["timed_out"] == LIMIT and rows[T01]["points_earned"] == 0.0
    assert rows[T02]["timed_out"] is None and counts(report)[T02] == (2, 0, 1, 10.0)
    assert (rows[T01]["status"], rows[T02]["status"]) == ("timed out", "passed")
    assert report["points_earned"] == 10.0 and exit_status(report) == 1
    assert f"(timed out after {LIMIT} s: no points)" in format_table(report)


def test_cli_reports_a_timed_out_task_in_the_table_and_the_json(toy_project, tmp_path):
    hang_in_t01(toy_project)
    json_path = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "minigrad.classroom", "grade", str(toy_project), "--tasks", T01, T02,
                          "--timeout", str(LIMIT), "--json", str(json_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[2].split()[:5] == [T01, "0/0", "0", "0", "0/10"] and f"timed out after {LIMIT} s" in lines[2]
    assert lines[3].split() == [T02, "2/2", "0", "1", "10/10"]
    report = json.loads(json_path.read_text())
    assert [row["timed_out"] for row in report["tasks"]] == [LIMIT, None] and report["points_earned"] == 10.0
    assert [row["status"] for row in report["tasks"]] == ["timed out", "passed"]


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
def test_a_time_limit_that_is_not_a_positive_number_is_refused(toy_project, timeout):
    with pytest.raises(ClassroomError, match=f"time limit per task must be a number of seconds > 0, got {timeout}"):
        grade(toy_project, task_ids=[T02], timeout=timeout)
