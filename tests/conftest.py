"""Project-wide pytest set-up: one marker per classroom task (see minigrad/classroom/tasks.py)."""

from minigrad.classroom.tasks import register_markers


def pytest_configure(config):
    register_markers(config)
