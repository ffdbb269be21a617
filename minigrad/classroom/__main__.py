"""Command line of the classroom tools.

    python -m minigrad.classroom build OUT_DIR [--tasks ID ...] [--source DIR] [--force] [--hidden-tests DIR]
    python -m minigrad.classroom grade [DIR] [--tasks ID ...] [--with-hidden DIR] [--json FILE] [--timeout S] [-v]
    python -m minigrad.classroom tasks
"""

from __future__ import annotations

import argparse
import sys

from minigrad.classroom.build import HIDDEN_TESTS, build_student_copy, print_summary
from minigrad.classroom.grade import DEFAULT_TASK_TIMEOUT, exit_status, format_table, grade, write_json
from minigrad.classroom.tasks import TASKS, TASKS_BY_ID, ClassroomError


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
                       help=f"folder of the teacher's hidden tests, relative to the source, kept out of the copy "
                            f"(default {HIDDEN_TESTS})")

    grade_command = commands.add_parser("grade", help="run each task's tests and print a points table")
    grade_command.add_argument("directory", metavar="DIR", nargs="?", default=".", help="project to grade (default: .)")
    grade_command.add_argument("--tasks", nargs="+", metavar="ID", choices=list(TASKS_BY_ID), help="grade only these tasks")
    grade_command.add_argument("--with-hidden", metavar="DIR",
                               help="also run the teacher's hidden tests in DIR (e.g. the instructor's tests/hidden) "
                                    "against the graded copy")
    grade_command.add_argument("--json", metavar="FILE", help="also write the report as JSON ('-' for stdout)")
    grade_command.add_argument("--timeout", type=float, metavar="S", default=DEFAULT_TASK_TIMEOUT,
                               help="time limit per task in seconds: a task whose tests run longer scores 0 and is "
                                    f"reported as timed out (default {DEFAULT_TASK_TIMEOUT:g})")
    grade_command.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output")

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
        if args.command == "grade":
            report = grade(args.directory, task_ids=args.tasks, timeout=args.timeout, show_output=args.verbose,
                           hidden_tests=args.with_hidden)
            if args.json != "-":
                print(format_table(report))
            if args.json:
                write_json(report, args.json)
            return exit_status(report)
        for task in TASKS:
            depends = f"  (after {', '.join(task.depends_on)})" if task.depends_on else ""
            print(f"{task.id:<28} {task.points:>3} pts{' bonus' if task.optional else ''}  {task.title}{depends}")
        return 0
    except ClassroomError as error:
        print(f"classroom: error: {error}", file=sys.stderr)
        return 2 if args.command == "grade" else 1


if __name__ == "__main__":
    sys.exit(main())
