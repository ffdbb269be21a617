"""The grading report as people read it (a table, then why tests failed) and as JSON.

The report is the dict `grade.grade` returns; one row per task (`grade.task_row` says what it
holds). The table is what a student sees after `python -m minigrad.classroom grade`, then one block per
failing task with the first line of each failing test's reason and the share of points it is worth:

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
    """0 every selected test passed, 1 some failed or timed out, 2 grading was incomplete."""
    if report["collection_errors"] or any(row["status"] == "no tests ran" for row in report["tasks"]) \
            or any(code in (2, 3, 4) for code in report["pytest_exit_codes"]):
        return 2
    return 1 if any(row["status"] in ("failed", "timed out") for row in report["tasks"]) else 0


def format_table(report: dict) -> str:
    header = f"{'task':<28} {'passed':>8} {'failed':>7} {'skipped':>8} {'points':>12}"
    lines = [header, "-" * len(header)]
    for row in report["tasks"]:
        points = f"{row['points_earned']:g}/{row['points']}" + (" bonus" if row["optional"] else "")
        note = ""
        if row["status"] == "timed out":
            note = f"  (timed out after {row['timed_out']:g} s: no points)"
        elif row["status"] == "no tests ran":
            note = "  (NO TESTS RAN: no points)"
        lines.append(f"{row['id']:<28} {row['passed']:>4}/{row['total']:<3} {row['failed']:>7} "
                     f"{row['skipped']:>8} {points:>12}{note}")
    lines.append("-" * len(header))
    lines.append(f"{'total':<28} {'':>8} {'':>7} {'':>8} {report['points_earned']:>8g}/{report['points_possible']}")
    for error in report["collection_errors"]:
        lines.append(f"could not collect {error['nodeid']}: {error['message']}")
    lines += _loud_lines(report) + _reason_lines(report)
    return "\n".join(lines)


def _loud_lines(report):
    lines = []
    for row in report["tasks"]:
        if row["status"] == "no tests ran":
            found = f"all {row['skipped']} of its tests were skipped" if row["skipped"] else "no test carries its marker"
            lines.append(f"{row['id']}: no tests ran ({found}); it scores 0 and grading is incomplete")
        elif row["status"] == "timed out":
            lines.append(f"{row['id']}: timed out after {row['timed_out']:g} s; it scores 0, the other tasks "
                         "were graded in processes of their own")
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
        lines.append(f"more: `pytest -m {example}` shows full tracebacks; `grade -v` shows pytest's own output")
    return lines


def write_json(report: dict, path: str) -> None:
    text = json.dumps(report, indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")
