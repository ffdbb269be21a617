"""Grade a project folder task by task: run each task's tests and count what passed.

Every task has its own time limit (`timeout`, default DEFAULT_TASK_TIMEOUT seconds): an
infinite loop in one task costs that task its points (it is reported as timed out) and the others
are graded as usual. The tasks share one pytest process, limited to `timeout` as a whole (tasks
that need their own environment, such as the CUDA simulator, get one of their own); only if it
runs out is each of its tasks run again in a process of its own, under its own limit. Counts come from pytest's reports via
`pytest_recorder.py`. A task earns points in proportion to its tests that pass; skipped tests do
not count either way. Exit status of `grade`: 0 all selected tests passed, 1 some failed or timed
out, 2 grading was incomplete (a test module failed to import, or a task has no tests).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from minigrad.classroom.build import STUDENT_STAMP
from minigrad.classroom.tasks import TASKS, ClassroomError, get_task

RECORDER = Path(__file__).with_name("pytest_recorder.py")
# `python -c` (unlike `python FILE`) puts the working directory first on sys.path, as
# `python -m pytest` does, so the graded folder's packages are the ones imported.
RUN_RECORDER = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
PASSED, SKIPPED = {"passed", "xpassed"}, {"skipped", "xfailed"}
DEFAULT_TASK_TIMEOUT = 600.0  # seconds per task: generous for a first run that compiles the Numba kernels


def grade(directory=".", task_ids=None, timeout=DEFAULT_TASK_TIMEOUT, show_output=False) -> dict:
    """Run the tests of `task_ids` in `directory`, each task within `timeout` seconds; return the report dict.

    By default a student copy is graded on the tasks it was built with (its stamp lists them;
    tasks whose solutions it ships would score for free) and any other tree on every task.
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise ClassroomError(f"{directory} is not a folder")
    if task_ids is None and (directory / STUDENT_STAMP).is_file():
        task_ids = json.loads((directory / STUDENT_STAMP).read_text(encoding="utf-8"))["stubbed_tasks"]
    tasks = [get_task(task_id) for task_id in task_ids] if task_ids is not None else list(TASKS)

    if timeout is None or not timeout > 0:
        raise ClassroomError(f"the time limit per task must be a number of seconds > 0, got {timeout}")

    by_environment = {}
    for task in tasks:
        by_environment.setdefault(task.pytest_env, []).append(task)
    row_by_task, collection_errors, exit_codes = {}, [], []
    for environment, group in by_environment.items():
        runs = [(group, _run_pytest(directory, [task.id for task in group], dict(environment), timeout, show_output))]
        if runs[0][1] is None and len(group) > 1:  # some task ran long: give each its own process and limit
            runs = [([task], _run_pytest(directory, [task.id], dict(environment), timeout, show_output)) for task in group]
        for tasks_run, run in runs:
            if run is None:
                row_by_task.update({task.id: _task_row(task, [], timed_out=timeout) for task in tasks_run})
                continue
            exit_codes.append(run["exit_code"])
            collection_errors += [error for error in run["collection_errors"] if error not in collection_errors]
            for task in tasks_run:
                row_by_task[task.id] = _task_row(task, [
                    {"nodeid": nodeid, "outcome": test["outcome"], "message": test["message"]}
                    for nodeid, test in run["tests"].items() if task.id in test["markers"]])

    rows = [row_by_task[task.id] for task in tasks]
    return {
        "directory": str(directory),
        "tasks": rows,
        "points_earned": round(sum(row["points_earned"] for row in rows), 2),
        "points_possible": sum(row["points"] for row in rows if not row["optional"]),
        "collection_errors": collection_errors,
        "pytest_exit_codes": exit_codes,
        "timeout_per_task": timeout,
    }


def exit_status(report: dict) -> int:
    if report["collection_errors"] or any(row["total"] + row["skipped"] == 0 and not row["timed_out"]
                                          for row in report["tasks"]) \
            or any(code in (2, 3, 4) for code in report["pytest_exit_codes"]):
        return 2
    return 1 if any(row["failed"] or row["timed_out"] for row in report["tasks"]) else 0


def format_table(report: dict) -> str:
    header = f"{'task':<28} {'passed':>8} {'failed':>7} {'skipped':>8} {'points':>12}"
    lines = [header, "-" * len(header)]
    for row in report["tasks"]:
        points = f"{row['points_earned']:g}/{row['points']}" + (" bonus" if row["optional"] else "")
        if row["timed_out"]:
            note = f"  (timed out after {row['timed_out']:g} s: no points)"
        else:
            note = "  (no tests found)" if row["total"] + row["skipped"] == 0 else ""
        lines.append(f"{row['id']:<28} {row['passed']:>4}/{row['total']:<3} {row['failed']:>7} "
                     f"{row['skipped']:>8} {points:>12}{note}")
    lines.append("-" * len(header))
    lines.append(f"{'total':<28} {'':>8} {'':>7} {'':>8} {report['points_earned']:>8g}/{report['points_possible']}")
    for error in report["collection_errors"]:
        lines.append(f"could not collect {error['nodeid']}: {error['message']}")
    return "\n".join(lines)


def write_json(report: dict, path: str) -> None:
    text = json.dumps(report, indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")


def _task_row(task, tests, timed_out=None) -> dict:
    """One task's counts; ``timed_out`` is the time limit (seconds) its tests ran past, else None."""
    passed = sum(test["outcome"] in PASSED for test in tests)
    skipped = sum(test["outcome"] in SKIPPED for test in tests)
    graded = len(tests) - skipped
    return {
        "id": task.id, "title": task.title, "points": task.points, "optional": task.optional,
        "depends_on": list(task.depends_on),
        "passed": passed, "failed": graded - passed, "skipped": skipped, "total": graded,
        "points_earned": round(task.points * passed / graded, 2) if graded else 0.0,
        "timed_out": timed_out,
        "tests": tests,
    }


def _run_pytest(directory: Path, task_ids, environment, timeout, show_output):
    """The recorder's results for these tasks' tests, or None if they ran past `timeout` seconds."""
    env = dict(os.environ, **environment)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="classroom-grade-") as scratch:
        results_path = Path(scratch) / "results.json"
        command = [sys.executable, "-c", RUN_RECORDER, str(RECORDER), str(results_path),
                   "-m", " or ".join(task_ids), "-q", "-p", "no:cacheprovider",
                   "--continue-on-collection-errors", "--rootdir", str(directory)]
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
