"""Grade one submission with the teacher's installation: the teacher's tests judge, task by task.

    submission folder --read_submission--> its tasks' region code (+ warnings about other changes)
    teacher's tree + that code --build_graded_tree--> a fresh tree in a scratch folder
    judge (pytest_recorder.py + judge.py, teacher's process) runs the teacher's graded tests;
        each task's student code runs in a worker process of its own on the fresh tree
    signed results --> one row per task (`task_row`) --> report.py's table and JSON

Nothing of the submission but its region code is used; nothing it runs decides a mark (see
judge.py). A task earns points in proportion to its tests that pass, each test weighted by its
marker's ``points=`` (1 by default); skipped tests do not count either way, and a task none of
whose tests ran earns nothing ("no tests ran"). A task whose worker ran past its time limit
("timed out") or died ("crashed: signal 11") earns 0. Exit status of `grade`: 0 all selected
tests passed, 1 some failed, timed out or crashed, 2 grading was incomplete.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from minigrad.classroom import limits
from minigrad.classroom.build import HIDDEN_TESTS, STUDENT_STAMP, default_source_root
from minigrad.classroom.judge import CONFIG_ENV, RUN_FILE
from minigrad.classroom.pytest_recorder import sign
from minigrad.classroom.report import exit_status, format_table, write_json  # noqa: F401 (the grading API)
from minigrad.classroom.submission import build_graded_tree, read_submission
from minigrad.classroom.tasks import ClassroomError, get_task

RECORDER = str(Path(__file__).with_name("pytest_recorder.py"))
PASSED, SKIPPED = {"passed", "xpassed"}, {"skipped", "xfailed"}
DEFAULT_MEMORY_MB = 4096  # per task's worker (address space): room for Numba, far from a runaway allocation
JUDGE_MARGIN_S = 120  # the judge's own work (collection, reference answers) on top of the tasks' limits

_judges: set[subprocess.Popen] = set()  # running judge processes, each leading its own process group
_judges_lock = threading.Lock()
_stopping = threading.Event()


def grade(submission=".", task_ids=None, timeout=None, show_output=False, teacher=None, tests=None,
          memory_mb=DEFAULT_MEMORY_MB) -> dict:
    """Grade `submission` (a folder) with the teacher's tree `teacher` (default: this installation).

    `tests` is the folder of the teacher's graded tests (default ``tests/hidden`` of the teacher's
    tree), `timeout` the time limit of every task in seconds (default: measured from the teacher's
    solutions, see limits.py), `memory_mb` the memory limit of each task's worker.
    """
    teacher_root = Path(teacher).resolve() if teacher else default_source_root()
    if (teacher_root / STUDENT_STAMP).exists():
        raise ClassroomError(f"{teacher_root} is a student copy: grade with the teacher's installation "
                             "(python -m minigrad.classroom grade COPY, run outside the copy)")
    tests_dir = Path(tests).resolve() if tests else teacher_root / HIDDEN_TESTS
    if not tests_dir.is_dir():
        raise ClassroomError(f"the graded tests folder {tests_dir} does not exist")
    if not (isinstance(memory_mb, int) and memory_mb >= 256):
        raise ClassroomError(f"the memory limit per task must be at least 256 MiB, got {memory_mb}")
    work = read_submission(submission, teacher_root, task_ids)
    tasks = [get_task(task_id) for task_id in work.task_ids]
    time_limits = limits.time_limits(tests_dir, [task.id for task in tasks], timeout)

    with tempfile.TemporaryDirectory(prefix="classroom-grade-") as scratch:
        tree = build_graded_tree(teacher_root, work, Path(scratch) / "tree")
        config = {"tree": str(tree), "limits": time_limits, "memory_mb": memory_mb, "log_folder": scratch,
                  "environments": {task.id: dict(task.pytest_env) for task in tasks}}
        results, problem = _run_judge(teacher_root, tests_dir, config, Path(scratch), show_output)

    rows = []
    for task in tasks:
        if results is None:
            rows.append(task_row(task, [], stopped=f"not graded: {problem}"))
            continue
        tests_of_task = [{"nodeid": nodeid, "outcome": test["outcome"], "message": test["message"],
                          "weight": test.get("points", {}).get(task.id, 1)}
                         for nodeid, test in results["tests"].items() if task.id in test["markers"]]
        worker = results["tasks"].get(task.id, {})
        row = task_row(task, tests_of_task, stopped=worker.get("status"))
        row.update(time_limit=time_limits[task.id], seconds=worker.get("seconds", 0.0))
        rows.append(row)
    return {
        "directory": str(work.root),
        "grader": str(teacher_root),
        "hidden_tests": str(tests_dir),
        "warnings": work.warnings,
        "tasks": rows,
        "points_earned": round(sum(row["points_earned"] for row in rows), 2),
        "points_possible": sum(row["points"] for row in rows if not row["optional"]),
        "collection_errors": results["collection_errors"] if results else [],
        "pytest_exit_codes": [results["exit_code"]] if results else [],
        "memory_limit_mb": memory_mb,
    }


def task_row(task, tests, stopped=None) -> dict:
    """One task's counts and points; `stopped` is why its worker was stopped ("timed out after 40 s",
    "crashed: signal 11", "not graded: ..."), else None.

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
        test["points"] = round(task.points * test["weight"] / weight_ran, 2) if test["outcome"] not in SKIPPED else 0.0
    passed = [test for test in ran if test["outcome"] in PASSED]
    if stopped:
        status = stopped.split(" after ")[0].split(":")[0]  # "timed out", "crashed", "not graded"
    elif not ran:
        status = "no tests ran"
    else:
        status = "passed" if len(passed) == len(ran) else "failed"
    earned = task.points * sum(test["weight"] for test in passed) / weight_ran if ran and not stopped else 0.0
    return {
        "id": task.id, "title": task.title, "points": task.points, "optional": task.optional,
        "depends_on": list(task.depends_on), "status": status, "reason": stopped,
        "passed": len(passed), "failed": len(ran) - len(passed), "skipped": len(tests) - len(ran), "total": len(ran),
        "points_earned": round(earned, 2),
        "tests": tests,
    }


def _run_judge(teacher_root, tests_dir, config, scratch, show_output):
    """(results, None) from the judge, or (None, why there are none)."""
    config_path, results_path, ini = scratch / "judge.json", scratch / "results.json", scratch / "judge.ini"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    ini.write_text("[pytest]\n", encoding="utf-8")  # the teacher's tests' settings, not any project's
    key = secrets.token_hex(32)
    command = [sys.executable, "-c", RUN_FILE, RECORDER, str(results_path), "-m", " or ".join(config["limits"]),
               "-q", "-p", "no:cacheprovider", "-c", str(ini), "--rootdir", str(tests_dir),
               "--confcutdir", str(tests_dir), "--import-mode=importlib", str(tests_dir)]
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **{CONFIG_ENV: str(config_path)})
    pipe = None if show_output else subprocess.PIPE
    with _judges_lock:
        if _stopping.is_set():
            return None, "grading was stopped"
        # Its own process group: the workers stay in it, so one killpg ends them all.
        judge = subprocess.Popen(command, cwd=teacher_root, env=env, stdin=subprocess.PIPE, stdout=pipe,
                                 stderr=pipe, text=True, start_new_session=True)
        _judges.add(judge)
    try:
        output = judge.communicate(key, timeout=sum(config["limits"].values()) + JUDGE_MARGIN_S)
    except subprocess.TimeoutExpired:
        return None, "the judge ran past the sum of the time limits"
    finally:
        _end_group(judge)
        with _judges_lock:
            _judges.discard(judge)
    try:
        signed = json.loads(results_path.read_text(encoding="utf-8"))
        if sign(key.encode(), signed["results"]) != signed["signature"]:
            return None, "the results were not written by the judge"
        return json.loads(signed["results"]), None
    except (OSError, ValueError, KeyError, TypeError):
        tail = "".join(part or "" for part in output)[-2000:] if pipe else ""
        return None, f"the judge reported no results (exit status {judge.returncode}) {tail}".strip()


def _end_group(process):
    """Kill the process group `process` leads (the judge and the workers it started), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def stop_all_judges() -> None:
    """End every judge and worker this process started; no new ones start afterwards.

    The threads that wait on the judges reap them; a worker that outlived its judge's group
    (a submission's own `setsid`) is still ended by the parent-death signal judge.py gives it.
    """
    with _judges_lock:
        _stopping.set()
        running = list(_judges)
    for judge in running:
        try:
            os.killpg(judge.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_on_signals() -> None:
    """SIGTERM and Ctrl-C end every process grading started, then exit (status 128 + signal)."""
    def handler(signum, frame):
        stop_all_judges()
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
