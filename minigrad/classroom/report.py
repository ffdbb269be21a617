"""The grading report as people read it (a table, then why tests failed) and as JSON.

The report is the dict `grade.grade` returns; one row per task (`grade.task_row` says what it
holds). The table is what `python -m minigrad.classroom grade` prints: the tasks, what the total
means, why tests skipped, warnings, then one block per failing task with the first line of each
failing test's reason and the share of points it is worth:

    task                           passed  failed  skipped       points
    t12_sgd_momentum                7/8         1        0      8.75/10
    ...
    t12_sgd_momentum: 1 failing test(s), first line of each reason:
      tests/optim/test_sgd_task.py::test_dampening_... (1.25 pts): AssertionError: ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REASONS_SHOWN = 5  # failing tests listed per task; the JSON has them all


def exit_status(report: dict) -> int:
    """0 every selected test passed, 1 some failed, timed out or crashed, 2 grading was incomplete."""
    if report["collection_errors"] or any(row["status"] in ("no tests ran", "not graded") for row in report["tasks"]) \
            or any(code in (2, 3, 4) for code in report["pytest_exit_codes"]):
        return 2
    return 1 if any(row["status"] in ("failed", "timed out", "crashed") for row in report["tasks"]) else 0


def format_table(report: dict) -> str:
    header = f"{'task':<28} {'passed':>8} {'failed':>7} {'skipped':>8} {'points':>12}"
    lines = [f"graded by {report['grader']} with the teacher's hidden tests in {report['hidden_tests']}",
             header, "-" * len(header)]
    for row in report["tasks"]:
        points = f"{row['points_earned']:g}/{row['points']}" + (" bonus" if row["optional"] else "")
        note = ""
        if row["reason"]:
            note = f"  ({row['reason']}: no points)"
        elif row["status"] == "no tests ran":
            note = "  (NO TESTS RAN: no points)"
        lines.append(f"{row['id']:<28} {row['passed']:>4}/{row['total']:<3} {row['failed']:>7} "
                     f"{row['skipped']:>8} {points:>12}{note}")
    lines.append("-" * len(header))
    lines.append(f"{'total':<28} {'':>8} {'':>7} {'':>8} {report['points_earned']:>8g}/{report['points_possible']}")
    bonus = [row for row in report["tasks"] if row["optional"]]
    if bonus:
        lines.append(f"bonus tasks ({', '.join(row['id'] for row in bonus)}) count on top of the "
                     f"{report['points_possible']} possible: a total above it is bonus points")
    hidden = sum(row["total"] for row in report["tasks"])
    lines.append(f"hidden tests: {hidden} ran" + (" (none ran: nothing was graded)" if not hidden else ""))
    for error in report["collection_errors"]:
        lines.append(f"could not collect {error['nodeid']}: {error['message']}")
    lines += [f"warning: {warning}" for warning in report["warnings"]]
    lines += _skip_lines(report) + _loud_lines(report) + _reason_lines(report)
    return "\n".join(lines)


def _skip_lines(report):
    lines = []
    for row in report["tasks"]:
        reasons = sorted({test["message"].removeprefix("Skipped: ") for test in row["tests"] if test["outcome"] in ("skipped", "xfailed")})
        if reasons:
            lines.append(f"{row['id']}: {row['skipped']} test(s) skipped, not counted: {'; '.join(reasons)}")
    return lines


def _loud_lines(report):
    lines = []
    for row in report["tasks"]:
        if row["status"] == "no tests ran":
            found = f"all {row['skipped']} of its tests were skipped" if row["skipped"] else "no test carries its marker"
            lines.append(f"{row['id']}: no tests ran ({found}); it scores 0 and grading is incomplete")
        elif row["reason"]:
            lines.append(f"{row['id']}: {row['reason']}; it scores 0, the other tasks were graded as usual")
    return lines


def _reason_lines(report):
    lines, failing = [], [row for row in report["tasks"] if row["failed"]]
    for row in failing:
        failed = [test for test in row["tests"] if test["outcome"] in ("failed", "error", "not run")]
        lines.append(f"{row['id']}: {len(failed)} failing test(s), first line of each reason:")
        for test in failed[:REASONS_SHOWN]:
            reason = (test["message"].strip().splitlines() or ["(no message)"])[0]
            lines.append(f"  {test['nodeid']} ({test['points']:g} pts): {reason}")
        if len(failed) > REASONS_SHOWN:
            lines.append(f"  ... and {len(failed) - REASONS_SHOWN} more (all of them are in --json)")
    if failing:
        example = failing[0]["id"]
        lines.append(f"more: `grade -v` shows the judge's pytest output; `pytest -m {example}` in the copy runs "
                     "its visible tests")
    return lines


def write_json(report: dict, path: str) -> None:
    text = json.dumps(report, indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")
