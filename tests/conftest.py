"""Project-wide pytest set-up.

* One marker per classroom task (see minigrad/classroom/tasks.py), so ``pytest -m <task-id>`` works.
* Tests run in importlib mode (setup.cfg), which leaves sys.path alone; shared helper modules of
  the tests (``gradcheck_cases.py``) are made importable here.
"""

import os
import sys

from minigrad.classroom.tasks import register_markers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    register_markers(config)
