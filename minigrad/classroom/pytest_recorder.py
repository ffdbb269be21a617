"""The judge's process: run the teacher's graded tests and record every test's markers and outcome.

grade.py runs this file in a fresh Python process of the teacher's installation, in the teacher's
tree:  python -c "<runpy one-liner>" pytest_recorder.py RESULTS.json [pytest args...]
with the judge plugin (`judge.py`) that runs the submission's code in worker processes. The
counts come from pytest's own reports, not from its printed text. grade.py writes a secret key to
this process's stdin; the results are signed with it (HMAC), so a file written by anyone else,
say a process a submission left behind, is refused.
"""

import hashlib
import hmac
import json
import sys

import pytest

from minigrad.classroom.judge import Judge, StudentError, load_config, stop_on_sigterm


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
    message = crash.message if crash is not None else _last_line(report)
    return message.removeprefix(f"{StudentError.__module__}.{StudentError.__name__}: ")  # the student's own words


def _last_line(report):
    if isinstance(report.longrepr, tuple):  # skips are reported as (file, line, reason)
        return str(report.longrepr[-1])
    lines = [line for line in str(report.longrepr or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def main(argv):
    results_path, pytest_args = argv[0], argv[1:]
    key = sys.stdin.buffer.read().strip()  # before any worker starts: workers get no stdin
    recorder, judge = OutcomeRecorder(), Judge(load_config())
    stop_on_sigterm(judge)
    try:
        exit_code = pytest.main(pytest_args, plugins=[recorder, judge])
    finally:
        judge.stop_all()
    text = json.dumps({"exit_code": int(exit_code), "tests": recorder.tests, "tasks": judge.task_report(),
                       "collection_errors": recorder.collection_errors}, indent=1)
    with open(results_path, "w", encoding="utf-8") as results:
        json.dump({"results": text, "signature": sign(key, text)}, results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
