"""The teacher's graded tests: they decide the marks, and are never shipped.

`python -m minigrad.classroom build` leaves this folder out of the student copy, and
`python -m minigrad.classroom grade SUBMISSION` runs it in the teacher's process (the judge):
each test hands a function of its module to the ``student`` fixture, the function runs in a
worker process on the submission's code, and the test compares what comes back with the
reference, here (minigrad/classroom/judge.py; ASSIGNMENTS.md "For teachers" shows how to add one).
In this project's own test run ``student`` runs the functions in-process on this tree.

They check cases the visible tests show and some they do not (another geometry, a dtype, an edge
case), so code fitted to the visible tests does not earn full marks. They import only the
project's packages (no helper modules of tests/), since they run from outside the graded tree;
markers are registered here for the same reason. `time_limits.json` holds the seconds the
teacher's solutions took (`python -m minigrad.classroom measure-limits`): the default time limits.
"""

from minigrad.classroom import register_markers
from minigrad.classroom.judge import student  # noqa: F401 (the fixture graded tests ask for)


def pytest_configure(config):
    register_markers(config)
