"""A tiny instructor's tree for the classroom tests: one package, two tasks, tests per task.

`toypkg/ops.py` holds two regions of t01 (a whole function body and part of a method),
`toypkg/shapes.py` one region of t02. Every test module is marked with the task it checks; the
visible tests are the student's, the graded ones (`tests/hidden`) the teacher's.
"""

import stat
import textwrap
from pathlib import Path

import pytest

T01, T02, T09 = "t01_elementwise_backward", "t02_unbroadcast", "t09_cuda_kernel"

TOY_FILES = {
    "setup.cfg": """\
        [tool:pytest]
        testpaths = tests
        addopts = --strict-markers
        """,
    "toypkg/__init__.py": """\
        from toypkg.ops import Scale, relu_backward
        from toypkg.shapes import unbroadcast
        """,
    "toypkg/ops.py": f'''\
        """Two ops whose backward is task t01."""


        def relu_backward(grad_out, x):
            """dx = dy * (x > 0)"""
            # BEGIN SOLUTION {T01}
            return [g if v > 0 else 0.0 for g, v in zip(grad_out, x)]
            # END SOLUTION


        class Scale:
            def __init__(self, factor):
                self.factor = factor

            def backward(self, grad_out):
                """dx = dy * factor"""
                factor = self.factor
                # BEGIN SOLUTION {T01}
                grad = [g * factor for g in grad_out]
                # END SOLUTION
                return grad
        ''',
    "toypkg/shapes.py": f'''\
        def unbroadcast(grad, length):
            """Sum a list of rows back to one row of `length` numbers."""
            # BEGIN SOLUTION {T02}
            total = [0.0] * length
            for row in grad:
                total = [t + g for t, g in zip(total, row)]
            return total
            # END SOLUTION
        ''',
    "tests/conftest.py": """\
        from minigrad.classroom import register_markers


        def pytest_configure(config):
            register_markers(config)
        """,
    "tests/test_ops.py": f"""\
        import pytest

        from toypkg import Scale, relu_backward

        pytestmark = pytest.mark.{T01}


        def test_relu_backward_masks_negative_inputs():
            assert relu_backward([1.0, 2.0], [-1.0, 3.0]) == [0.0, 2.0]


        def test_relu_backward_of_empty_input():
            assert relu_backward([], []) == []


        def test_scale_backward_multiplies_by_factor():
            assert Scale(3.0).backward([1.0, 2.0]) == [3.0, 6.0]
        """,
    "tests/test_shapes.py": f"""\
        import pytest

        from toypkg import unbroadcast

        pytestmark = pytest.mark.{T02}


        def test_unbroadcast_sums_rows():
            assert unbroadcast([[1.0, 2.0], [3.0, 4.0]], 2) == [4.0, 6.0]


        def test_unbroadcast_of_no_rows_is_zero():
            assert unbroadcast([], 3) == [0.0, 0.0, 0.0]


        @pytest.mark.skip(reason="skipped tests count neither way")
        def test_skipped():
            raise AssertionError
        """,
    "tests/test_cuda_env.py": f"""\
        import os

        import pytest


        @pytest.mark.{T09}
        def test_graded_under_the_cuda_simulator():
            assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
        """,
    "tests/test_unmarked.py": """\
        def test_not_graded():
            raise AssertionError("a test without a task marker is never graded")
        """,
    # The teacher's graded tests (never shipped): they judge in the teacher's process, and run
    # the submission's code only through `student.run`, in a worker on the graded tree.
    "tests/hidden/conftest.py": """\
        from minigrad.classroom import register_markers
        from minigrad.classroom.judge import student  # noqa: F401 (the fixture graded tests ask for)


        def pytest_configure(config):
            register_markers(config)
        """,
    "tests/hidden/test_graded_ops.py": f"""\
        import pytest

        from toypkg import Scale, relu_backward

        pytestmark = pytest.mark.{T01}


        def relu_backward_of(grad_out, x):
            return relu_backward(grad_out, x)


        def scale_backward_of(factor, grad_out):
            return Scale(factor).backward(grad_out)


        def test_relu_backward_masks_negative_inputs(student):
            assert student.run(relu_backward_of, [1.0, 2.0], [-1.0, 3.0]) == [0.0, 2.0]


        def test_relu_backward_of_empty_input(student):
            assert student.run(relu_backward_of, [], []) == []


        def test_scale_backward_multiplies_by_factor(student):
            assert student.run(scale_backward_of, 3.0, [1.0, 2.0]) == [3.0, 6.0]
        """,
    "tests/hidden/test_graded_shapes.py": f"""\
        import pytest

        from toypkg import unbroadcast

        pytestmark = pytest.mark.{T02}


        def unbroadcast_of(grad, length):
            return unbroadcast(grad, length)


        def test_unbroadcast_sums_rows(student):
            assert student.run(unbroadcast_of, [[1.0, 2.0], [3.0, 4.0]], 2) == [4.0, 6.0]


        def test_unbroadcast_of_no_rows_is_zero(student):
            assert student.run(unbroadcast_of, [], 3) == [0.0, 0.0, 0.0]


        @pytest.mark.skip(reason="skipped tests count neither way")
        def test_skipped(student):
            raise AssertionError
        """,
    "tests/hidden/test_graded_cuda_env.py": f"""\
        import os

        import pytest


        def cuda_simulator_setting():
            return os.environ.get("NUMBA_ENABLE_CUDASIM")


        @pytest.mark.{T09}
        def test_graded_under_the_cuda_simulator(student):
            assert student.run(cuda_simulator_setting) == "1"
        """,
    "data/table.csv": "a,b\n1,2\n",
    "run.sh": "#!/bin/sh\necho run\n",
    # Things a student copy must not carry.
    "toypkg/__pycache__/ops.cpython-311.pyc": "junk",
    "toypkg.egg-info/PKG-INFO": "junk",
    "build/lib/toypkg/ops.py": "junk = 1\n",
    ".venv/lib/site.py": "junk = 1\n",
}


def make_toy_project(root: Path) -> Path:
    for rel_path, text in TOY_FILES.items():
        path = root / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    script = root / "run.sh"
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return root


@pytest.fixture
def toy_project(tmp_path):
    """A fresh instructor's tree in tmp_path/instructor."""
    return make_toy_project(tmp_path / "instructor")


# What a student writes in place of each stub of the toy copy, in file order (indentation added).
TOY_SOLUTIONS = {
    "toypkg/ops.py": ["return [g if v > 0 else 0.0 for g, v in zip(grad_out, x)]\n",
                      "grad = [g * factor for g in grad_out]\n"],
    "toypkg/shapes.py": ["total = [0.0] * length\nfor row in grad:\n    total = [t + g for t, g in zip(total, row)]\n"
                         "return total\n"],
}


def write_solutions(copy: Path, rel_path: str, bodies=None) -> None:
    """Replace the stubs of `rel_path` in a student copy, in order, with `bodies` (default: the right code)."""
    path = copy / rel_path
    lines = path.read_text().splitlines(keepends=True)
    bodies = list(TOY_SOLUTIONS[rel_path] if bodies is None else bodies)
    out, i = [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith("# TODO(") and i + 1 < len(lines) and "NotImplementedError" in lines[i + 1]:
            indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
            out += [indent + line if line.strip() else line for line in bodies.pop(0).splitlines(keepends=True)]
            i += 2
        else:
            out.append(lines[i])
            i += 1
    assert not bodies, f"{rel_path} has fewer stubs than solutions given"
    path.write_text("".join(out))


@pytest.fixture
def student_copy(toy_project, tmp_path):
    """A fresh student copy of the toy tree, every task stubbed, in tmp_path/student."""
    from minigrad.classroom.build import build_student_copy

    build_student_copy(tmp_path / "student", source=toy_project)
    return tmp_path / "student"


@pytest.fixture
def solve():
    """`solve(copy, rel_path, bodies=None)` writes a student's code in place of a copy's stubs."""
    return write_solutions
