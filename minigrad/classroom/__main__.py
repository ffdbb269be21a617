"""Command line of the classroom tools.

    python -m minigrad.classroom build OUT_DIR [--tasks ID ...] [--source DIR] [--force] [--hidden-tests DIR]
    python -m minigrad.classroom grade [DIR] [--tasks ID ...] [--json FILE] [--timeout S] [--memory-mb M] [--tests DIR] [-v]
    python -m minigrad.classroom grade-class SUBMISSIONS_DIR [--json FILE] [--csv FILE] [--workers N] [--scheduler ADDR] ...
    python -m minigrad.classroom measure-limits [--tasks ID ...] [--tests DIR]
    python -m minigrad.classroom tasks

Grading always runs this installation's grader and tests (the teacher's); run it from outside the
graded copy, or with ``python -P``, so that Python does not import the copy's own package instead.
"""

from __future__ import annotations

import argparse
import sys

from minigrad.classroom import limits
from minigrad.classroom.build import HIDDEN_TESTS, build_student_copy, default_source_root, print_summary
from minigrad.classroom.grade import DEFAULT_MEMORY_MB, exit_status, format_table, grade, stop_on_signals, write_json
from minigrad.classroom.grade_class import format_class_table, grade_class, write_class_csv, write_class_json
from minigrad.classroom.tasks import TASKS, TASKS_BY_ID, ClassroomError


def _grading_options(command):
    command.add_argument("--tasks", nargs="+", metavar="ID", choices=list(TASKS_BY_ID), help="grade only these tasks")
    command.add_argument("--timeout", type=float, metavar="S",
                         help="time limit of every task in seconds: a task that runs longer scores 0 (\"timed out\"); "
                              f"default: {limits.FACTOR} x the teacher's solution's time + {limits.MARGIN_S} s, "
                              f"measured by measure-limits ({limits.UNMEASURED_S:g} s where never measured)")
    command.add_argument("--memory-mb", type=int, metavar="M", default=DEFAULT_MEMORY_MB,
                         help=f"memory limit of each task's processes in MiB (default {DEFAULT_MEMORY_MB})")
    command.add_argument("--tests", metavar="DIR",
                         help=f"the teacher's graded tests (default: {HIDDEN_TESTS} of the teacher's tree)")
    command.add_argument("--teacher", metavar="DIR",
                         help="the instructor's tree the graded tree is built from (default: this installation's)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m minigrad.classroom",
                                     description="Build student copies of this project and grade them.")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="write a student copy with every solution region stubbed out")
    build.add_argument("out_dir", metavar="OUT_DIR", help="folder to create (must not exist or be empty)")
    build.add_argument("--tasks", nargs="+", metavar="ID", choices=list(TASKS_BY_ID),
                       help="stub only these tasks; the others keep their solutions (default: all)")
    build.add_argument("--source", metavar="DIR", help="instructor's tree (default: the project holding minigrad)")
    build.add_argument("--force", action="store_true", help="replace OUT_DIR if it is an earlier student copy")
    build.add_argument("--hidden-tests", metavar="DIR", default=HIDDEN_TESTS,
                       help=f"folder of the teacher's graded tests, relative to the source, kept out of the copy "
                            f"(default {HIDDEN_TESTS})")

    grade_command = commands.add_parser("grade", help="grade one submission with the teacher's tests: a points table")
    grade_command.add_argument("directory", metavar="DIR", nargs="?", default=".", help="submission to grade (default: .)")
    _grading_options(grade_command)
    grade_command.add_argument("--json", metavar="FILE", help="also write the report as JSON ('-' for stdout)")
    grade_command.add_argument("-v", "--verbose", action="store_true", help="show the judge's pytest output")

    class_command = commands.add_parser("grade-class", help="grade every submission (folder or archive) in a folder")
    class_command.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    _grading_options(class_command)
    class_command.add_argument("--json", metavar="FILE", help="write every row, per task, as JSON")
    class_command.add_argument("--csv", metavar="FILE", help="write one row per student as CSV (for a gradebook)")
    class_command.add_argument("--workers", type=int, default=2, metavar="N",
                               help="submissions graded at once on this machine (default 2)")
    class_command.add_argument("--scheduler", metavar="ADDR",
                               help="grade on this Dask cluster (e.g. tcp://host:8786) instead of the local cores")

    measure = commands.add_parser("measure-limits", help="time the teacher's solutions: the default time limits")
    measure.add_argument("--tasks", nargs="+", metavar="ID", choices=list(TASKS_BY_ID))
    measure.add_argument("--tests", metavar="DIR")

    commands.add_parser("tasks", help="list the tasks in learning order")
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    try:
        if args.command == "build":
            summary = build_student_copy(args.out_dir, source=args.source, task_ids=args.tasks, force=args.force,
                                         hidden_tests=args.hidden_tests)
            print_summary(summary)
            return 0
        if args.command in ("grade", "grade-class"):
            stop_on_signals()
            options = dict(task_ids=args.tasks, timeout=args.timeout, memory_mb=args.memory_mb, tests=args.tests,
                           teacher=args.teacher)
        if args.command == "grade":
            report = grade(args.directory, show_output=args.verbose, **options)
            if args.json != "-":
                print(format_table(report))
            if args.json:
                write_json(report, args.json)
            return exit_status(report)
        if args.command == "grade-class":
            result = grade_class(args.submissions, workers=args.workers, scheduler=args.scheduler, **options)
            if args.json:
                write_class_json(result, args.json)
            if args.csv:
                write_class_csv(result, args.csv)
            print(format_class_table(result))
            return 0 if all(row["status"] == "graded" for row in result["rows"]) else 2
        if args.command == "measure-limits":
            root = default_source_root()
            measured = limits.measure(root, args.tests or root / HIDDEN_TESTS, args.tasks)["measured_s"]
            for task_id, seconds in measured.items():
                print(f"{task_id:<28} {seconds:7.1f} s  -> limit {limits.default_limit(seconds):g} s")
            return 0
        for task in TASKS:
            depends = f"  (after {', '.join(task.depends_on)})" if task.depends_on else ""
            print(f"{task.id:<28} {task.points:>3} pts{' bonus' if task.optional else ''}  {task.title}{depends}")
        return 0
    except ClassroomError as error:
        print(f"classroom: error: {error}", file=sys.stderr)
        return 2 if args.command.startswith("grade") else 1


if __name__ == "__main__":
    sys.exit(main())
