"""grade-class over 30 generated submissions: wall time, time per submission, tampering gains nothing.

    python benchmarks/grade_class.py [--workers 2] [--keep DIR]

Builds student copies of this tree, each with one task stubbed (graded on every task, so the
others carry the teacher's solution and run all their tests), then makes of them: solved-but-one,
unsolved (every task stubbed), crashing (the stubbed task segfaults or calls os._exit), looping
(it never returns) and tampering copies (a conftest hook turning failures into passes, a changed
setup.cfg, an edited test, a grader of their own). The marks each copy must get: an unsolved copy
0; a solved-but-one copy all points but its stubbed task's, and at most also those of the tasks
declared to depend on it (a stubbed t02 fails t14 too, whose training loop needs unbroadcasting;
a stubbed t12 does not, as t14's graded test trains with Adam); a crashing or tampering copy
exactly what the solved copies with the same task stubbed got (they must agree). Prints the wall time, the time per submission, and
whether every tampering copy got exactly the marks its solutions earn. Run it on a quiet machine.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from minigrad.classroom.build import build_student_copy, default_source_root
from minigrad.classroom.grade_class import grade_class
from minigrad.classroom.tasks import TASKS, dependency_closure, get_task

STUBBED = ["t12_sgd_momentum", "t11_pointwise_conv", "t02_unbroadcast", "t08_block_converter", "t15_numba_speedup"]
FILE_OF = {task_id: get_task(task_id).files[0] for task_id in STUBBED}
CRASH = {"segfault": "import ctypes; ctypes.string_at(0)", "exit": "import os; os._exit(3)", "loop": "while True: pass"}
HOOK = ("import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
TOTAL = sum(task.points for task in TASKS)


def points_at_risk(task_id):
    """The most a copy can lose when only ``task_id`` is unsolved: its own points and its dependents'."""
    return sum(task.points for task in TASKS if task_id in dependency_closure(task.id))


def replace_stubs(copy, rel_path, code):
    path = copy / rel_path
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if "raise NotImplementedError" in line:
            lines[i] = line[:len(line) - len(line.lstrip())] + code + "\n"
    path.write_text("".join(lines))


def make_class(folder):
    """30 submissions; returns {name: (kind, stubbed task id)}."""
    kinds, source = {}, default_source_root()
    for n in range(30):
        task_id = STUBBED[n % len(STUBBED)]
        kind = ["solved", "unsolved", "crash", "tamper", "solved", "tamper"][n % 6]
        name = f"{n:02d}-{kind}-{task_id[:3]}"
        copy = folder / name
        build_student_copy(copy, source=source, task_ids=None if kind == "unsolved" else [task_id])
        kinds[name] = (kind, task_id)
        if kind == "crash":
            replace_stubs(copy, FILE_OF[task_id], CRASH[["segfault", "exit", "loop"][n // 6 % 3]])
        if kind == "tamper":
            (copy / "conftest.py").write_text(HOOK)
            (copy / "tests/conftest.py").write_text(HOOK)
            (copy / "setup.cfg").write_text("[tool:pytest]\naddopts = -p no:python\n")
            (copy / "minigrad/classroom/grade.py").write_text("def grade(*a, **k):\n    return {'points_earned': 999}\n")
    return kinds


def unexpected_marks(marks, kinds):
    """{name: (got, expected)} for every copy whose marks break the rules of the module docstring."""
    solved = {}
    for name, (kind, task_id) in kinds.items():
        if kind == "solved":
            solved.setdefault(task_id, set()).add(marks[name])
    wrong = {}
    for name, (kind, task_id) in kinds.items():
        if kind == "unsolved":
            expected = "0"
            ok = marks[name] == 0
        elif kind == "solved":
            low, high = TOTAL - points_at_risk(task_id), TOTAL - get_task(task_id).points
            expected = f"{low}..{high}, as every solved copy with {task_id} stubbed"
            ok = low <= marks[name] <= high and len(solved[task_id]) == 1
        else:
            expected = f"the solved copies' {sorted(solved[task_id])}"
            ok = solved[task_id] == {marks[name]}
        if not ok:
            wrong[name] = (marks[name], expected)
    return wrong


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", metavar="DIR", help="build the class here and keep it (default: a scratch folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="grade-class-bench-") as scratch:
        folder = Path(args.keep or scratch) / "class"
        folder.mkdir(parents=True)
        kinds = make_class(folder)
        started = time.monotonic()
        result = grade_class(folder, workers=args.workers, task_ids=[task.id for task in TASKS])
        wall = time.monotonic() - started
    wrong = unexpected_marks({row["student"]: row["points_earned"] for row in result["rows"]}, kinds)
    tampering = [row for row in result["rows"] if "-tamper-" in row["student"]]
    print(f"{len(result['rows'])} submissions, {args.workers} workers: wall {wall:.1f} s, "
          f"{wall / len(result['rows']):.1f} s per submission (grading time each: "
          f"median {sorted(row['seconds'] for row in result['rows'])[len(result['rows']) // 2]:.1f} s)")
    print(f"tampering copies: {len(tampering)}, each got exactly its solutions' marks: "
          f"{all(row['student'] not in wrong for row in tampering)}; tampering warnings on all of them: "
          f"{all(row['warnings'] for row in tampering)}")
    print("every copy got its expected marks" if not wrong else f"unexpected marks (got, expected): {wrong}")
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
