"""The teacher's hidden tests: graded, never shipped.

`python -m minigrad.classroom build` leaves this folder out of the student copy, and
`python -m minigrad.classroom grade STUDENT_COPY --with-hidden tests/hidden` runs it against the
copy's code with the copy's own tests. Each task has at least one test here that checks something
its visible tests do not (another geometry, a dtype, an edge case), so code fitted to the visible
tests does not earn full marks. The tests import only the project's packages (no helper modules
of tests/), since they run from outside the graded tree; markers are registered here for the same
reason.
"""

from minigrad.classroom import register_markers


def pytest_configure(config):
    register_markers(config)
