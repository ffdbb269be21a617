"""Each task's default time limit, from how long the teacher's own solution takes.

`measure` grades the teacher's tree with itself (every task solved) and records the seconds each
task's worker used, start-up and Numba's first compilation included, in ``time_limits.json`` in
the graded tests' folder (the teacher's tree; never shipped). A task's default limit is then

    FACTOR * measured + MARGIN_S

seconds: a slower machine or a slower but correct solution still fits, and a solution stuck in a
loop costs about a minute, not ten. A task that was never measured gets UNMEASURED_S. Run
`python -m minigrad.classroom measure-limits` again when the tests or the machine change.
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

from minigrad.classroom.tasks import ClassroomError

LIMITS_FILE = "time_limits.json"
FACTOR = 3
MARGIN_S = 20  # Numba compiles each kernel on its first call in a fresh tree: more on a loaded machine
UNMEASURED_S = 120
MEASURING_LIMIT_S = 600  # generous: the teacher's solution is measured, not judged


def time_limits(tests_dir, task_ids, timeout=None) -> dict[str, float]:
    """{task: seconds}: `timeout` for every task when given, else the defaults measured for `tests_dir`."""
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise ClassroomError(f"the time limit per task must be a number of seconds > 0, got {timeout}")
        return {task_id: float(timeout) for task_id in task_ids}
    measured = read_measured(tests_dir)
    return {task_id: default_limit(measured.get(task_id)) for task_id in task_ids}


def default_limit(measured_s) -> float:
    return float(UNMEASURED_S) if measured_s is None else float(math.ceil(FACTOR * measured_s + MARGIN_S))


def read_measured(tests_dir) -> dict[str, float]:
    path = Path(tests_dir) / LIMITS_FILE
    if not path.is_file():
        return {}
    try:
        return {task_id: float(seconds) for task_id, seconds in json.loads(path.read_text())["measured_s"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ClassroomError(f"{path} is not a time limits file ({error}); measure again with "
                             "`python -m minigrad.classroom measure-limits`") from None


def measure(teacher_root, tests_dir, task_ids=None) -> dict:
    """Grade the teacher's tree with itself, write the seconds per task to LIMITS_FILE, return the file's content."""
    from minigrad.classroom.grade import grade  # grade imports this module

    report = grade(teacher_root, task_ids=task_ids, timeout=MEASURING_LIMIT_S, teacher=teacher_root, tests=tests_dir)
    unsolved = [f"{row['id']} ({row['status']})" for row in report["tasks"] if row["status"] != "passed"]
    if unsolved:
        raise ClassroomError("the teacher's own solutions must pass every graded test to be measured: "
                             + ", ".join(unsolved))
    content = {"note": "seconds each task's worker used on the teacher's solutions; "
                       f"default limit = {FACTOR} x these + {MARGIN_S} s (minigrad/classroom/limits.py)",
               "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
               # measuring some tasks keeps what was measured for the others
               "measured_s": {**read_measured(tests_dir), **{row["id"]: row["seconds"] for row in report["tasks"]}}}
    (Path(tests_dir) / LIMITS_FILE).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return content
