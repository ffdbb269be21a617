"""Marker parsing and the student text of one file (no file system, no subprocess)."""

import ast
import textwrap

import pytest

from minigrad.classroom.markers import MarkerError, check_stubs, find_regions, student_text
from minigrad.classroom.tasks import TASKS

INSTRUCTIONS = {task.id: task.instruction for task in TASKS}
T01, T02 = "t01_elementwise_backward", "t02_unbroadcast"
STUB_T01 = f'raise NotImplementedError("{T01}: {INSTRUCTIONS[T01]}")'

SOURCE = textwrap.dedent(f'''\
    import numpy as np


    def relu_backward(grad_out, x):
        """dx = dy * (x > 0)"""
        # BEGIN SOLUTION {T01}
        mask = x > 0
        return grad_out * mask
        # END SOLUTION


    class Mul:
        @staticmethod
        def backward(ctx, grad_out):
            """dx = dy * y, dy = dy * x"""
            x, y = ctx.saved
            # BEGIN SOLUTION {T01}
            grad_x = grad_out * y
            grad_y = grad_out * x
            # END SOLUTION {T01}
            return grad_x, grad_y


    def unbroadcast(grad, shape):
        # BEGIN SOLUTION {T02}
        while grad.ndim > len(shape):
            grad = grad.sum(axis=0)
        return grad
        # END SOLUTION
''')


def stub(text, tasks=(T01, T02)):
    regions = find_regions("ops.py", text)
    check_stubs("ops.py", text, regions, INSTRUCTIONS)
    return student_text(text, regions, set(tasks), INSTRUCTIONS)


def test_regions_are_found_with_their_lines_and_indentation():
    regions = find_regions("ops.py", SOURCE)
    assert [(r.task_id, r.begin_line, r.end_line, r.indent) for r in regions] == [
        (T01, 6, 9, " " * 4), (T01, 17, 20, " " * 8), (T02, 25, 29, " " * 4)]


def test_stubs_sit_at_the_begin_lines_indentation_and_keep_signatures_and_docstrings():
    student = stub(SOURCE)
    lines = student.splitlines()
    assert f"    {STUB_T01}" in lines  # function body, 4 spaces
    assert f"        {STUB_T01}" in lines  # method body, 8 spaces
    assert f"        # TODO({T01}): {INSTRUCTIONS[T01]}" in lines
    for kept in ("def relu_backward(grad_out, x):", '    """dx = dy * (x > 0)"""',
                 '        """dx = dy * y, dy = dy * x"""', "        x, y = ctx.saved",
                 "        return grad_x, grad_y", "def unbroadcast(grad, shape):"):
        assert kept in lines
    for gone in ("mask = x > 0", "grad_x = grad_out * y", "grad.sum(axis=0)", "BEGIN SOLUTION", "END SOLUTION"):
        assert gone not in student
    ast.parse(student)


def test_stubs_raise_naming_the_task_when_called():
    namespace = {}
    exec(compile(stub(SOURCE), "ops.py", "exec"), namespace)  # module level must not raise
    with pytest.raises(NotImplementedError, match=f"^{T01}: "):
        namespace["relu_backward"](1.0, 2.0)
    with pytest.raises(NotImplementedError, match=f"^{T02}: "):
        namespace["unbroadcast"](None, ())


def test_tasks_not_stubbed_keep_their_solution_without_marker_lines():
    student = stub(SOURCE, tasks=(T02,))
    assert "grad_x = grad_out * y" in student and "mask = x > 0" in student
    assert "grad.sum(axis=0)" not in student
    assert "SOLUTION" not in student.replace(f"{T02}: ", "")
    assert student.count("raise NotImplementedError") == 1


def test_stubbing_nothing_only_drops_marker_lines():
    student = stub(SOURCE, tasks=())
    expected = "".join(line for line in SOURCE.splitlines(keepends=True) if "SOLUTION" not in line)
    assert student == expected


def test_windows_line_endings_are_kept():
    student = stub(SOURCE.replace("\n", "\r\n"))
    assert f"    {STUB_T01}\r\n" in student
    assert "\n" not in student.replace("\r\n", "")


def test_files_without_markers_have_no_regions():
    assert find_regions("plain.py", "def f():\n    return 1\n") == []


def test_marker_text_inside_strings_and_docstrings_is_not_a_marker():
    text = textwrap.dedent(f'''\
        def f():
            """Example:
            # BEGIN SOLUTION {T01}
            # END SOLUTION
            """
            return "# BEGIN SOLUTION t99_unknown"
    ''')
    assert find_regions("doc.py", text) == []
    assert stub(text) == text


# Each case: source text, line the error must name, words the message must contain.
MALFORMED = {
    "unclosed": (f"def f():\n    # BEGIN SOLUTION {T01}\n    return 1\n", 2, "never closed"),
    "nested": (f"def f():\n    # BEGIN SOLUTION {T01}\n    # BEGIN SOLUTION {T02}\n    return 1\n"
               "    # END SOLUTION\n    # END SOLUTION\n", 3, "nested"),
    "end without begin": ("def f():\n    return 1\n    # END SOLUTION\n", 3, "without a BEGIN"),
    "unknown task id": ("def f():\n    # BEGIN SOLUTION t99_nope\n    return 1\n    # END SOLUTION\n", 2, "unknown task id 't99_nope'"),
    "missing task id": ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", 2, "<task-id>"),
    "end names another task": (f"def f():\n    # BEGIN SOLUTION {T01}\n    return 1\n    # END SOLUTION {T02}\n", 4, "names"),
    "end indented differently": (f"def f():\n    # BEGIN SOLUTION {T01}\n    return 1\n# END SOLUTION\n", 4, "indented"),
    "empty region": (f"def f():\n    x = 1\n    # BEGIN SOLUTION {T01}\n    # END SOLUTION\n", 3, "empty"),
    "marker after code": (f"def f():\n    x = 1  # BEGIN SOLUTION {T01}\n    return x\n", 2, "own"),
    "region leaves invalid python": (f"def f(a):\n    if a:\n    # BEGIN SOLUTION {T01}\n        return 1\n"
                                     "    # END SOLUTION\n    return 0\n", 3, "invalid Python"),
    "region at module level": (f"# BEGIN SOLUTION {T01}\nTABLE = [1, 2]\n# END SOLUTION\n", 1, "function body"),
    "region in a class body": (f"class A:\n    # BEGIN SOLUTION {T01}\n    size = 2\n    # END SOLUTION\n", 2, "function body"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_markers_are_reported_with_file_and_line(case):
    text, line, words = MALFORMED[case]
    with pytest.raises(MarkerError) as caught:
        stub(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"ops.py:{line}: ")
    assert words in str(caught.value)
