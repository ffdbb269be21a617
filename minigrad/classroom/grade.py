"""Grade a project folder task by task: run each task's tests and count what passed.

Every task has its own time limit (`timeout`, default DEFAULT_TASK_TIMEOUT seconds): an
infinite loop in one task costs that task its points (it is reported as timed out) and the others
are graded as usual. The tasks share one pytest process, limited to `timeout` as a whole (tasks
that need their own environment, such as the CUDA simulator, get one of their own); only if it
runs out is each of its tasks run again in a process of its own, under its own limit. Counts come from pytest's reports via
`pytest_recorder.py`. A task earns points in proportion to its tests that pass, each test
weighted by its marker's ``points=`` (1 by default); skipped tests do not count either way, and a
task none of whose tests ran earns nothing ("no tests ran"). Exit status of `grade`: 0 all
selected tests passed, 1 some failed or timed out, 2 grading was incomplete (a test module failed
to import, or no test of some task ran). `report.py` prints the report.
"""

from __future__ import annotations

import configparser
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from minigrad.classroom.build import STUDENT_STAMP
from minigrad.classroom.report import exit_status, format_table, write_json  # noqa: F401 (the grading API)
from minigrad.classroom.tasks import TASKS, ClassroomError, get_task

RECORDER = Path(__file__).with_name("pytest_recorder.py")
# `python -c` (unlike `python FILE`) puts the working directory first on sys.path, as
# `python -m pytest` does, so the graded folder's packages are the ones imported.
RUN_RECORDER = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
PASSED, SKIPPED = {"passed", "xpassed"}, {"skipped", "xfailed"}
DEFAULT_TASK_TIMEOUT = 600.0  # seconds per task: generous for a first run that compiles the Numba kernels


def grade(directory=".", task_ids=None, timeout=DEFAULT_TASK_TIMEOUT, show_output=False, hidden_tests=None) -> dict:
    """Run the tests of `task_ids` in `directory`, each task within `timeout` seconds; return the report dict.

    By default a student copy is graded on the tasks it was built with (its stamp lists them;
    tasks whose solutions it ships would score for free) and any other tree on every task.
    `hidden_tests` is a folder of the teacher's tests (``tests/hidden`` of the instructor's tree,
    left out of student copies) that runs with the copy's own tests, against the copy's code.
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise ClassroomError(f"{directory} is not a folder")
    if task_ids is None and (directory / STUDENT_STAMP).is_file():
        task_ids = json.loads((directory / STUDENT_STAMP).read_text(encoding="utf-8"))["stubbed_tasks"]
    tasks = [get_task(task_id) for task_id in task_ids] if task_ids is not None else list(TASKS)
    if timeout is None or not timeout > 0:
        raise ClassroomError(f"the time limit per task must be a number of seconds > 0, got {timeout}")
    test_paths = None
    if hidden_tests is not None:
        hidden_tests = Path(hidden_tests).resolve()
        if not hidden_tests.is_dir():
            raise ClassroomError(f"the hidden tests folder {hidden_tests} does not exist")
        test_paths = configured_test_paths(directory) + [str(hidden_tests)]

    by_environment = {}
    for task in tasks:
        by_environment.setdefault(task.pytest_env, []).append(task)
    row_by_task, collection_errors, exit_codes = {}, [], []
    for environment, group in by_environment.items():
        def run(tasks_run):
            return _run_pytest(directory, [task.id for task in tasks_run], dict(environment), timeout, show_output,
                               test_paths)
        runs = [(group, run(group))]
        if runs[0][1] is None and len(group) > 1:  # some task ran long: give each its own process and limit
            runs = [([task], run([task])) for task in group]
        for tasks_run, results in runs:
            if results is None:
                row_by_task.update({task.id: task_row(task, [], timed_out=timeout) for task in tasks_run})
                continue
            exit_codes.append(results["exit_code"])
            collection_errors += [error for error in results["collection_errors"] if error not in collection_errors]
            for task in tasks_run:
                row_by_task[task.id] = task_row(task, [
                    {"nodeid": nodeid, "outcome": test["outcome"], "message": test["message"],
                     "weight": test.get("points", {}).get(task.id, 1)}
                    for nodeid, test in results["tests"].items() if task.id in test["markers"]])

    rows = [row_by_task[task.id] for task in tasks]
    return {
        "directory": str(directory),
        "hidden_tests": str(hidden_tests) if hidden_tests is not None else None,
        "tasks": rows,
        "points_earned": round(sum(row["points_earned"] for row in rows), 2),
        "points_possible": sum(row["points"] for row in rows if not row["optional"]),
        "collection_errors": collection_errors,
        "pytest_exit_codes": exit_codes,
        "timeout_per_task": timeout,
    }


def task_row(task, tests, timed_out=None) -> dict:
    """One task's counts and points; ``timed_out`` is the time limit (seconds) its tests ran past, else None.

    A test's ``weight`` (1 unless its marker says ``points=``) is its share of the task: the task
    earns ``points * (weight passed) / (weight of the tests that ran)``. A task none of whose
    tests ran (none collected, or all skipped) earns 0 and its status says so.
    """
    for test in tests:
        weight = test["weight"]
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < math.inf:
            raise ClassroomError(f"{test['nodeid']}: the points of @pytest.mark.{task.id}(points=...) must be "
                                 f"a number > 0, got {weight}")
    ran = [test for test in tests if test["outcome"] not in SKIPPED]
    weight_ran = sum(test["weight"] for test in ran)
    for test in tests:
        share = task.points * test["weight"] / weight_ran if test["outcome"] not in SKIPPED else 0.0
        test["points"] = round(share, 2)
    passed = [test for test in ran if test["outcome"] in PASSED]
    if timed_out:
        status = "timed out"
    elif not ran:
        status = "no tests ran"
    else:
        status = "passed" if len(passed) == len(ran) else "failed"
    earned = task.points * sum(test["weight"] for test in passed) / weight_ran if ran and not timed_out else 0.0
    return {
        "id": task.id, "title": task.title, "points": task.points, "optional": task.optional,
        "depends_on": list(task.depends_on), "status": status,
        "passed": len(passed), "failed": len(ran) - len(passed), "skipped": len(tests) - len(ran), "total": len(ran),
        "points_earned": round(earned, 2),
        "timed_out": timed_out,
        "tests": tests,
    }


def configured_test_paths(directory: Path) -> list[str]:
    """pytest arguments that collect what a bare `pytest` in `directory` collects: its config file
    (``-c``: with a path outside the folder, pytest would not find it) and its ``testpaths``."""
    for name, section in (("pytest.ini", "pytest"), ("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        config = configparser.ConfigParser(interpolation=None)
        try:
            config.read(directory / name, encoding="utf-8")
        except configparser.Error:
            continue
        if config.has_section(section):
            paths = config.get(section, "testpaths", fallback="").split()
            return ["-c", str(directory / name)] + [str(directory / path) for path in paths or ["."]]
    return [str(directory)]


def _run_pytest(directory: Path, task_ids, environment, timeout, show_output, test_paths=None):
    """The recorder's results for these tasks' tests, or None if they ran past `timeout` seconds."""
    env = dict(os.environ, **environment)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="classroom-grade-") as scratch:
        results_path = Path(scratch) / "results.json"
        command = [sys.executable, "-c", RUN_RECORDER, str(RECORDER), str(results_path),
                   "-m", " or ".join(task_ids), "-q", "-p", "no:cacheprovider",
                   "--continue-on-collection-errors", "--rootdir", str(directory)] + (test_paths or [])
        pipe = None if show_output else subprocess.PIPE
        # A session of its own, so that on timeout every process the tests started is ended too.
        process = subprocess.Popen(command, cwd=directory, env=env, stdout=pipe, stderr=pipe, text=True,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return None
        if not results_path.exists():
            output = (stdout or "") + (stderr or "")
            raise ClassroomError(f"pytest did not report any results in {directory}:\n{output[-3000:]}")
        return json.loads(results_path.read_text(encoding="utf-8"))
