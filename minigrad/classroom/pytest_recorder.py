"""Run pytest and record every selected test's markers and outcome as JSON.

grade.py runs this file in a fresh Python process whose working directory is the project being
graded:  python -c "<runpy one-liner>" pytest_recorder.py RESULTS.json [pytest args...]
It imports nothing from minigrad on purpose: a student's half-finished framework must not break
the grader before the first test runs, and the counts come from pytest's own reports, not from
its printed text.
"""

import json
import sys

import pytest


class OutcomeRecorder:
    def __init__(self):
        self.tests = {}  # nodeid -> {"markers": [...], "points": {...}, "outcome": ..., "message": ...}
        self.collection_errors = []

    def pytest_collection_finish(self, session):
        # session.items is final here: -m deselection has already happened.
        for item in session.items:
            markers = sorted({mark.name for mark in item.iter_markers()})
            self.tests[item.nodeid] = {"markers": markers, "points": _points(item), "outcome": "not run",
                                       "message": ""}

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append({"nodeid": report.nodeid, "message": _last_line(report)})

    def pytest_runtest_logreport(self, report):
        test = self.tests.setdefault(report.nodeid, {"markers": [], "points": {}, "outcome": "not run", "message": ""})
        if test["outcome"] in ("failed", "error"):
            return  # keep the first failure; a teardown after it adds nothing
        if report.failed:
            test["outcome"] = "failed" if report.when == "call" else "error"
            test["message"] = _crash_message(report)
        elif report.skipped:
            test["outcome"] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
            test["message"] = _last_line(report)
        elif report.when == "call":
            test["outcome"] = "xpassed" if hasattr(report, "wasxfail") else "passed"


def _points(item):
    """{marker: points} for markers written with a weight, ``@pytest.mark.t12_sgd(points=3)``.

    The closest marker wins (a function's over its module's), as pytest's own lookup does.
    The value is passed on as written; grade.py checks it.
    """
    points = {}
    for mark in item.iter_markers():
        if "points" in mark.kwargs and mark.name not in points:
            points[mark.name] = mark.kwargs["points"] if isinstance(mark.kwargs["points"], (int, float)) \
                else repr(mark.kwargs["points"])
    return points


def _crash_message(report):
    crash = getattr(report.longrepr, "reprcrash", None)  # "NotImplementedError: t01_...: ..."
    return crash.message if crash is not None else _last_line(report)


def _last_line(report):
    if isinstance(report.longrepr, tuple):  # skips are reported as (file, line, reason)
        return str(report.longrepr[-1])
    lines = [line for line in str(report.longrepr or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def main(argv):
    results_path, pytest_args = argv[0], argv[1:]
    recorder = OutcomeRecorder()
    exit_code = pytest.main(pytest_args, plugins=[recorder])
    with open(results_path, "w", encoding="utf-8") as results:
        json.dump({"exit_code": int(exit_code), "tests": recorder.tests,
                   "collection_errors": recorder.collection_errors}, results, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
