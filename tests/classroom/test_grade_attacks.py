"""What a student can change, and that none of it raises a mark (the toy tree of conftest.py).

Each attack starts from the same copy: t02 solved (10 points earned), t01 not. The grade after
the attack must give exactly those 10 points, and name the files changed outside the regions.
"""

import json
import subprocess
import sys

import pytest

from minigrad.classroom.grade import grade

T01, T02 = "t01_elementwise_backward", "t02_unbroadcast"

# The hook of the issue: every failure becomes a pass, in whatever pytest process loads it.
FAILURES_BECOME_PASSES = """
import pytest


def pytest_configure(config):
    config.pluginmanager.register(Forger())


class Forger:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        outcome.get_result().outcome = "passed"
"""


@pytest.fixture
def half_solved(solve, student_copy, toy_project):
    solve(student_copy, "toypkg/shapes.py")
    assert points(grade(student_copy, teacher=toy_project)) == {T01: 0.0, T02: 10.0}
    return student_copy


def points(report):
    return {row["id"]: row["points_earned"] for row in report["tasks"]}


def test_a_conftest_hook_that_turns_failures_into_passes_changes_nothing(half_solved, toy_project):
    (half_solved / "conftest.py").write_text(FAILURES_BECOME_PASSES)
    with open(half_solved / "tests/conftest.py", "a") as conftest:
        conftest.write(FAILURES_BECOME_PASSES)
    report = grade(half_solved, teacher=toy_project)
    assert points(report) == {T01: 0.0, T02: 10.0}
    assert report["warnings"] == ["changed outside the task regions, not graded: tests/conftest.py",
                                  "added files, not graded: conftest.py"]


def test_an_edited_test_and_an_added_skip_change_nothing(half_solved, toy_project):
    tests = half_solved / "tests/test_ops.py"
    tests.write_text(tests.read_text().replace("assert relu_backward", "assert True or relu_backward")
                     .replace("pytestmark = pytest.mark", "pytestmark = [pytest.mark.skip(reason='later')] or pytest.mark"))
    report = grade(half_solved, teacher=toy_project)
    assert points(report) == {T01: 0.0, T02: 10.0}
    assert report["warnings"] == ["changed outside the task regions, not graded: tests/test_ops.py"]


def test_a_skip_inside_a_solution_fails_the_tests_instead_of_skipping_them(solve, half_solved, toy_project):
    solve(half_solved, "toypkg/ops.py", ["import pytest\npytest.skip('not yet')\n", "import pytest\npytest.skip('not yet')\n"])
    row = grade(half_solved, teacher=toy_project)["tasks"][0]
    assert (row["id"], row["passed"], row["failed"], row["skipped"], row["points_earned"]) == (T01, 0, 3, 0, 0.0)
    assert {test["message"] for test in row["tests"]} == {"Skipped: not yet"}


def test_a_changed_pytest_configuration_changes_nothing(half_solved, toy_project):
    (half_solved / "setup.cfg").write_text("[tool:pytest]\naddopts = -p no:python --deselect tests\n")
    (half_solved / "pytest.ini").write_text("[pytest]\naddopts = -k nothing_at_all\n")
    report = grade(half_solved, teacher=toy_project)
    assert points(report) == {T01: 0.0, T02: 10.0}
    assert report["warnings"] == ["changed outside the task regions, not graded: setup.cfg",
                                  "added files, not graded: pytest.ini"]


ATEXIT_FORGER = """\
import atexit, json, os, sys, time
forged = json.dumps({"results": json.dumps({"exit_code": 0, "collection_errors": [], "tasks": {}, "tests": {}}),
                     "signature": "0" * 64, "exit_code": 0, "tests": {}})
def forge():
    # sys.argv[1] was the results file when the recorder ran the student's code; now ask the parent.
    names = sys.argv[1:] + open(f"/proc/{os.getppid()}/cmdline").read().split("\\0")
    for _ in range(100):
        for name in names:
            if name.endswith("results.json") and os.path.exists(name):
                open(name, "w").write(forged)
                return
        time.sleep(0.05)
atexit.register(forge)
if os.fork() == 0:  # and a process of its own that outlives the worker, in case atexit never runs
    os.setsid()
    forge()
    os._exit(0)
raise NotImplementedError("t01: not done")
"""


def test_a_solution_that_rewrites_the_results_file_from_atexit_or_a_process_left_behind_gains_nothing(
        solve, half_solved, toy_project):
    solve(half_solved, "toypkg/ops.py", [ATEXIT_FORGER, "pass\n"])
    report = grade(half_solved, teacher=toy_project)
    # If the forger won the race the grade is refused (unsigned results) and scores 0; never more.
    assert points(report)[T01] == 0.0 and report["points_earned"] <= 10.0
    assert all(row["reason"] in (None, "not graded: the results were not written by the judge")
               for row in report["tasks"])


FORGED_GRADER = """\
import json, sys
print(json.dumps({"points_earned": 999, "tasks": [], "forged": True}))
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="python -P (no working directory on sys.path) needs 3.11")
def test_grading_from_inside_the_copy_runs_the_teachers_grader_with_python_dash_p(half_solved, toy_project):
    fake = half_solved / "minigrad/classroom"
    fake.mkdir(parents=True)
    (half_solved / "minigrad/__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(FORGED_GRADER)
    command = ["-m", "minigrad.classroom", "grade", ".", "--teacher", str(toy_project), "--json", "-"]
    plain = subprocess.run([sys.executable] + command, cwd=half_solved, capture_output=True, text=True)
    assert json.loads(plain.stdout)["forged"]  # why the copy must never be the working directory
    safe = subprocess.run([sys.executable, "-P"] + command, cwd=half_solved, capture_output=True, text=True)
    report = json.loads(safe.stdout)
    assert points(report) == {T01: 0.0, T02: 10.0}
    assert report["warnings"] == ["added files, not graded: minigrad/__init__.py, minigrad/classroom/__init__.py, "
                                  "minigrad/classroom/__main__.py"]
