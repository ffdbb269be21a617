"""Building a student copy of a small instructor's tree (see conftest.py), plus the registry."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minigrad.classroom import build as build_module
from minigrad.classroom.build import STUDENT_STAMP, build_student_copy, default_source_root
from minigrad.classroom.grade import grade
from minigrad.classroom.tasks import TASKS, ClassroomError, dependency_closure

T01, T02, T09 = "t01_elementwise_backward", "t02_unbroadcast", "t09_cuda_kernel"
INSTRUCTION_T01 = next(task.instruction for task in TASKS if task.id == T01)
REPO_ROOT = Path(__file__).resolve().parents[2]
SIMULATED_THREAD = r"tid=\[[\d, ]*\] ctaid=\[[\d, ]*\]: "


def tree_listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def leftovers(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if ".classroom-" in name]


def break_file(project: Path, rel_path: str, old: str, new: str) -> None:
    path = project / rel_path
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_build_stubs_every_marked_task_and_copies_everything_else(toy_project, tmp_path):
    out = tmp_path / "student"
    summary = build_student_copy(out, source=toy_project)

    assert summary["stubbed_tasks"] == [T01, T02]
    assert summary["regions"] == {T01: ["toypkg/ops.py:6", "toypkg/ops.py:18"], T02: ["toypkg/shapes.py:3"]}
    assert tree_listing(out) == sorted([
        STUDENT_STAMP, "setup.cfg", "run.sh", "data/table.csv", "toypkg/__init__.py", "toypkg/ops.py",
        "toypkg/shapes.py", "tests/conftest.py", "tests/test_ops.py", "tests/test_shapes.py",
        "tests/test_cuda_env.py", "tests/test_unmarked.py"])
    for verbatim in ("data/table.csv", "tests/test_ops.py", "toypkg/__init__.py"):
        assert (out / verbatim).read_bytes() == (toy_project / verbatim).read_bytes()
    assert os.access(out / "run.sh", os.X_OK)

    ops = (out / "toypkg/ops.py").read_text().splitlines()
    stub = f'raise NotImplementedError("{T01}: {INSTRUCTION_T01}")'
    assert ops[3:6] == ['def relu_backward(grad_out, x):', '    """dx = dy * (x > 0)"""',
                        f"    # TODO({T01}): {INSTRUCTION_T01}"]
    assert ops[6] == "    " + stub
    assert ops[-4:] == ["        factor = self.factor", f"        # TODO({T01}): {INSTRUCTION_T01}",
                        "        " + stub, "        return grad"]
    assert "SOLUTION" not in (out / "toypkg/ops.py").read_text()
    assert "total = [0.0] * length" not in (out / "toypkg/shapes.py").read_text()
    assert leftovers(tmp_path) == []


def test_student_copy_imports_cleanly_and_stubs_raise_naming_their_task(toy_project, tmp_path):
    out = tmp_path / "student"
    build_student_copy(out, source=toy_project)
    probe = ("import toypkg\n"
             "try:\n    toypkg.unbroadcast([], 1)\n"
             "except NotImplementedError as error:\n    print(error)\n")
    run = subprocess.run([sys.executable, "-c", probe], cwd=out, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(out)))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{T02}: ")


def test_tasks_option_stubs_only_the_named_tasks(toy_project, tmp_path):
    out = tmp_path / "student"
    summary = build_student_copy(out, source=toy_project, task_ids=[T02])
    assert summary["stubbed_tasks"] == [T02]
    ops = (out / "toypkg/ops.py").read_text()
    assert "NotImplementedError" not in ops and "SOLUTION" not in ops
    assert "grad = [g * factor for g in grad_out]" in ops
    assert f'raise NotImplementedError("{T02}: ' in (out / "toypkg/shapes.py").read_text()


def test_a_task_without_regions_is_refused_when_asked_for(toy_project, tmp_path):
    with pytest.raises(ClassroomError, match=f"no solution region is marked for {T09}"):
        build_student_copy(tmp_path / "student", source=toy_project, task_ids=[T02, T09])
    assert not (tmp_path / "student").exists()


MALFORMED = {
    "unclosed": ("toypkg/ops.py", "        # END SOLUTION\n", "", "toypkg/ops.py:18: ", "never closed"),
    "unknown id": ("toypkg/shapes.py", f"SOLUTION {T02}", "SOLUTION t99_nope", "toypkg/shapes.py:3: ", "unknown task id"),
    "end without begin": ("toypkg/ops.py", f"    # BEGIN SOLUTION {T01}\n    return", "    return",
                          "toypkg/ops.py:7: ", "without a BEGIN"),
    "nested": ("toypkg/shapes.py", "    for row", f"    # BEGIN SOLUTION {T01}\n    for row", "toypkg/shapes.py:5: ", "nested"),
    "invalid result": ("toypkg/ops.py", "        factor = self.factor\n",
                       f"        if self.factor:\n        # BEGIN SOLUTION {T02}\n            factor = self.factor\n"
                       "        # END SOLUTION\n", "toypkg/ops.py:18: ", "invalid Python"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_markers_fail_with_file_and_line_and_write_nothing(toy_project, tmp_path, case):
    rel_path, old, new, location, words = MALFORMED[case]
    break_file(toy_project, rel_path, old, new)
    out = tmp_path / "student"
    with pytest.raises(ClassroomError) as caught:
        build_student_copy(out, source=toy_project)
    assert location in str(caught.value) and words in str(caught.value)
    assert not out.exists() and leftovers(tmp_path) == []


def test_errors_in_several_files_are_reported_together(toy_project, tmp_path):
    break_file(toy_project, "toypkg/ops.py", f"SOLUTION {T01}", "SOLUTION t99_nope")
    break_file(toy_project, "toypkg/shapes.py", "    # END SOLUTION\n", "")
    with pytest.raises(ClassroomError) as caught:
        build_student_copy(tmp_path / "student", source=toy_project)
    assert "toypkg/ops.py:6: " in str(caught.value) and "toypkg/shapes.py:3: " in str(caught.value)


def test_failed_rebuild_leaves_the_earlier_copy_untouched(toy_project, tmp_path):
    out = tmp_path / "student"
    build_student_copy(out, source=toy_project)
    before = {name: (out / name).read_bytes() for name in tree_listing(out)}
    break_file(toy_project, "toypkg/shapes.py", "    # END SOLUTION\n", "")
    with pytest.raises(ClassroomError):
        build_student_copy(out, source=toy_project, force=True)
    assert {name: (out / name).read_bytes() for name in tree_listing(out)} == before


def test_a_crash_while_writing_removes_the_staging_folder(toy_project, tmp_path, monkeypatch):
    def fail_midway(*args):
        raise OSError("disk full")
    monkeypatch.setattr(build_module, "_write_copy", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        build_student_copy(tmp_path / "student", source=toy_project)
    assert not (tmp_path / "student").exists() and leftovers(tmp_path) == []


def test_building_from_a_student_copy_is_refused(toy_project, tmp_path):
    build_student_copy(tmp_path / "student", source=toy_project)
    with pytest.raises(ClassroomError, match=r"is a student copy \(\.classroom-student is there\)"):
        build_student_copy(tmp_path / "again", source=tmp_path / "student")
    assert not (tmp_path / "again").exists()


def test_a_non_empty_out_dir_needs_force_and_force_replaces_only_a_student_copy(toy_project, tmp_path):
    out = tmp_path / "student"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ClassroomError, match="not empty; pass --force"):
        build_student_copy(out, source=toy_project)
    with pytest.raises(ClassroomError, match="not a student copy"):
        build_student_copy(out, source=toy_project, force=True)
    assert tree_listing(out) == ["notes.txt"]

    shutil.rmtree(out)
    build_student_copy(out, source=toy_project)
    (out / "student-work.txt").write_text("old copy")
    build_student_copy(out, source=toy_project, force=True)
    assert not (out / "student-work.txt").exists() and (out / "toypkg/ops.py").exists()
    assert leftovers(tmp_path) == []


def test_an_empty_out_dir_is_used(toy_project, tmp_path):
    (tmp_path / "student").mkdir()
    build_student_copy(tmp_path / "student", source=toy_project)
    assert (tmp_path / "student" / STUDENT_STAMP).exists()


def test_an_out_dir_inside_the_source_is_not_copied_into_itself(toy_project):
    out = toy_project / "student"
    build_student_copy(out, source=toy_project)
    build_student_copy(toy_project / "student2", source=toy_project)
    assert not any(name.startswith(("student", ".student")) for name in os.listdir(toy_project / "student2"))


def test_an_out_dir_that_would_contain_the_source_is_refused(toy_project):
    with pytest.raises(ClassroomError, match="would contain the source"):
        build_student_copy(toy_project.parent, source=toy_project, force=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_in_a_git_checkout_only_files_git_knows_are_copied(toy_project, tmp_path):
    (toy_project / ".gitignore").write_text("data/\n")
    (toy_project / "NOTES.md").write_text("untracked but not ignored\n")
    subprocess.run(["git", "init", "-q"], cwd=toy_project, check=True)
    subprocess.run(["git", "add", "toypkg", "tests", "setup.cfg", ".gitignore"], cwd=toy_project, check=True)
    build_student_copy(tmp_path / "student", source=toy_project)
    listing = tree_listing(tmp_path / "student")
    assert "NOTES.md" in listing and "toypkg/ops.py" in listing
    assert "data/table.csv" not in listing and not any(name.startswith(".git/") for name in listing)


def test_cli_build_reports_and_fails_with_a_clear_message(toy_project, tmp_path):
    out = tmp_path / "student"
    command = [sys.executable, "-m", "minigrad.classroom", "build", str(out), "--source", str(toy_project)]
    first = subprocess.run(command + ["--tasks", T01], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert f"{T01}: stubbed 2 region(s)" in first.stdout and f"solutions kept for: {T02}" in first.stdout
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 1
    assert again.stderr.startswith("classroom: error: ") and "--force" in again.stderr


def test_the_default_source_is_the_project_holding_minigrad():
    assert default_source_root() == REPO_ROOT


# --- the registry and its pages ---------------------------------------------------------------

def test_registry_has_at_least_eight_tasks_in_learning_order():
    ids = [task.id for task in TASKS]
    assert len(ids) >= 8 and len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # tNN_ prefixes follow the learning order
    for position, task in enumerate(TASKS):
        assert task.id.isidentifier() and task.points > 0
        assert set(task.depends_on) <= set(ids[:position])


def assignment_pages() -> dict[str, str]:
    text = (REPO_ROOT / "ASSIGNMENTS.md").read_text()
    parts = re.split(r"^## (t\d\d_\w+)", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_assignments_md_has_a_page_per_task_with_its_points_and_files():
    pages = assignment_pages()
    assert list(pages) == [task.id for task in TASKS]
    for task in TASKS:
        page = pages[task.id]
        assert f"**Points:** {task.points}" in page, task.id
        for heading in ("Learning goal", "Files to edit", "Formulas to derive", "Hints"):
            assert heading in page, (task.id, heading)
        for path in task.files:
            assert f"`{path}`" in page, (task.id, path)


# --- the real tree --------------------------------------------------------------------------

# A student copy ships these tests too; there, building is refused by design.
instructor_tree_only = pytest.mark.skipif((REPO_ROOT / STUDENT_STAMP).exists(), reason="this is a student copy")


@instructor_tree_only
def test_every_marked_region_of_the_real_tree_lies_in_a_file_its_task_lists(tmp_path):
    summary = build_student_copy(tmp_path / "student", source=default_source_root())
    for task in TASKS:
        for location in summary["regions"].get(task.id, []):
            assert location.rsplit(":", 1)[0] in task.files, (task.id, location, "add the file to tasks.py and ASSIGNMENTS.md")

