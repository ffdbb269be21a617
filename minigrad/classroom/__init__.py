"""Classroom tools: build a student copy from the marked solutions, and grade it per task.

See ASSIGNMENTS.md for the tasks and `python -m minigrad.classroom --help` for the commands;
`markers.py` states the marker rules.
"""

from minigrad.classroom.tasks import TASKS, ClassroomError, Task, register_markers

__all__ = ["TASKS", "ClassroomError", "Task", "register_markers"]
