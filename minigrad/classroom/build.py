"""Build the student copy of the project: every solution region becomes a NotImplementedError.

The build runs in two passes so that nothing is half-written: first every Python file is read
and its markers validated (all errors are reported together), then the copy is written into a
staging folder next to OUT_DIR and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from minigrad.classroom.markers import MarkerError, Region, check_stubs, find_regions, student_text
from minigrad.classroom.tasks import TASKS, ClassroomError, get_task

STUDENT_STAMP = ".classroom-student"
SKIPPED_ANYWHERE = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ipynb_checkpoints",
                    ".venv", "venv", ".tox", ".eggs"}
SKIPPED_AT_ROOT = {"build", "dist", "runs"}  # packaging output and training runs
STAGING_INFIX = ".classroom-build-"
HIDDEN_TESTS = "tests/hidden"  # the teacher's tests: graded (`grade --with-hidden`), never shipped


def default_source_root() -> Path:
    """The project that holds this `minigrad` package, recognised by its packaging file."""
    root = Path(__file__).resolve().parents[2]  # minigrad/classroom/build.py -> project root
    if (root / "setup.cfg").is_file() or (root / "pyproject.toml").is_file():
        return root
    raise ClassroomError(f"minigrad is installed from {root}, which is not a project checkout; pass --source DIR")


def build_student_copy(out_dir, source=None, task_ids=None, force=False, hidden_tests=HIDDEN_TESTS) -> dict:
    """Write the student copy to `out_dir`; return a summary (stubbed tasks, regions per task).

    `task_ids=None` stubs every task that has a region; otherwise only the given tasks are
    stubbed and the rest keep their solutions. The folder `hidden_tests` (relative to the
    source) is left out of the copy: those tests exist only in the teacher's tree and in the
    grading run (`grade(..., hidden_tests=...)`).
    """
    source = Path(source).resolve() if source else default_source_root()
    out_dir = Path(out_dir).resolve()
    _check_paths(source, out_dir, force)
    for task_id in task_ids or ():
        get_task(task_id)  # unknown ids fail before any work

    hidden = _hidden_folder(source, hidden_tests)
    files = list_project_files(source, out_dir)
    hidden_files = [rel_path for rel_path in files if hidden and hidden in (source / rel_path).parents]
    files = [rel_path for rel_path in files if rel_path not in set(hidden_files)]
    regions_by_file = _find_all_regions(source, files)
    regions_per_task = {}
    for rel_path, regions in regions_by_file.items():
        for region in regions:
            regions_per_task.setdefault(region.task_id, []).append(f"{rel_path}:{region.begin_line}")
    if task_ids is None:
        stub_tasks = [task.id for task in TASKS if task.id in regions_per_task]
    else:
        missing = [task_id for task_id in task_ids if task_id not in regions_per_task]
        if missing:
            raise ClassroomError(f"no solution region is marked for {', '.join(missing)} in {source}")
        stub_tasks = [task.id for task in TASKS if task.id in task_ids]  # registry order

    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{STAGING_INFIX}", dir=out_dir.parent))
    try:
        shutil.copymode(source, staging)  # mkdtemp makes it private (0700)
        _write_copy(source, staging, files, regions_by_file, set(stub_tasks))
        # The digests let grading name the files a student changed outside the task regions.
        shipped = {rel_path: file_digest(staging / rel_path) for rel_path in files
                   if (staging / rel_path).is_file() and not (staging / rel_path).is_symlink()}
        stamp = {"note": "student copy built by `python -m minigrad.classroom build`; it cannot be built from again",
                 "stubbed_tasks": stub_tasks, "hidden_tests_left_out": len(hidden_files), "shipped_files": shipped}
        (staging / STUDENT_STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
        _move_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"out_dir": str(out_dir), "stubbed_tasks": stub_tasks, "regions": regions_per_task,
            "unmarked_tasks": [task.id for task in TASKS if task.id not in regions_per_task],
            "hidden_tests": str(hidden.relative_to(source)) if hidden else None, "hidden_files": hidden_files}


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hidden_folder(source: Path, hidden_tests) -> Path | None:
    """The hidden tests' folder inside `source`, or None when there is none (nothing to leave out)."""
    if hidden_tests is None:
        return None
    folder = (source / hidden_tests).resolve()
    if source != folder and source not in folder.parents:
        raise ClassroomError(f"the hidden tests folder {hidden_tests} is not inside the source {source}")
    return folder if folder.is_dir() else None


def list_project_files(source: Path, out_dir: Path | None = None) -> list[str]:
    """Relative paths of the files that belong in a student copy.

    In a git checkout these are the tracked files plus untracked ones git does not ignore, so
    datasets, checkpoints and local junk stay out; elsewhere the tree is walked. Either way the
    skip rules below apply.
    """
    listed = _git_listed_files(source)
    if listed is None:
        listed = _walked_files(source)
    # Earlier student copies inside the tree (recognised by their stamp) are not copied again.
    student_roots = {(source / rel_path).parent for rel_path in listed
                     if Path(rel_path).name == STUDENT_STAMP and Path(rel_path).parent != Path(".")}
    kept = []
    for rel_path in listed:
        path = source / rel_path
        if not (path.is_file() or path.is_symlink()) or _is_skipped(rel_path):
            continue
        if out_dir and (path == out_dir or out_dir in path.parents):
            continue
        if any(root in path.parents for root in student_roots):
            continue
        kept.append(rel_path)
    return sorted(kept)


def _walked_files(source: Path) -> list[str]:
    listed = []
    for folder, subfolders, names in os.walk(source):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_ANYWHERE]  # prune early
        relative_folder = Path(folder).relative_to(source)
        listed += [str(relative_folder / name) for name in names]
    return listed


def _is_skipped(rel_path: str) -> bool:
    parts = Path(rel_path).parts
    if parts[0] in SKIPPED_AT_ROOT and len(parts) > 1:
        return True
    return any(part in SKIPPED_ANYWHERE or part.endswith(".egg-info") or STAGING_INFIX in part
               or part.endswith(".pyc") for part in parts)


def _git_listed_files(source: Path) -> list[str] | None:
    if shutil.which("git") is None:
        return None
    inside = subprocess.run(["git", "-C", str(source), "rev-parse", "--is-inside-work-tree"],
                            capture_output=True, text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.split("\0") if name]


def _check_paths(source: Path, out_dir: Path, force: bool) -> None:
    if not source.is_dir():
        raise ClassroomError(f"source {source} is not a folder")
    if (source / STUDENT_STAMP).exists():
        raise ClassroomError(f"{source} is a student copy ({STUDENT_STAMP} is there); "
                             "build from the instructor's tree, which holds the solutions")
    if out_dir == source or out_dir in source.parents:
        raise ClassroomError(f"OUT_DIR {out_dir} would contain the source {source}; choose another folder")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ClassroomError(f"OUT_DIR {out_dir} exists and is not a folder")
        if any(out_dir.iterdir()):
            if not force:
                raise ClassroomError(f"OUT_DIR {out_dir} is not empty; pass --force to replace an earlier student copy")
            if not (out_dir / STUDENT_STAMP).exists():
                raise ClassroomError(f"refusing to replace {out_dir}: it is not a student copy (no {STUDENT_STAMP})")
    if not out_dir.parent.is_dir():
        raise ClassroomError(f"the parent folder of OUT_DIR, {out_dir.parent}, does not exist")


def _find_all_regions(source: Path, files: list[str]) -> dict[str, list[Region]]:
    instructions = {task.id: task.instruction for task in TASKS}
    regions_by_file, errors = {}, []
    for rel_path in files:
        path = source / rel_path
        if not rel_path.endswith(".py") or path.is_symlink():
            continue
        raw = path.read_bytes()
        if b"SOLUTION" not in raw:
            continue
        try:
            text = raw.decode("utf-8")
            regions = find_regions(rel_path, text)
            check_stubs(rel_path, text, regions, instructions)
        except UnicodeDecodeError as error:
            errors.append(f"{rel_path}:1: not UTF-8 ({error.reason})")
            continue
        except MarkerError as error:
            errors.append(str(error))
            continue
        if regions:
            regions_by_file[rel_path] = regions
    if errors:
        raise ClassroomError("malformed solution markers, nothing was written:\n  " + "\n  ".join(errors))
    return regions_by_file


def _write_copy(source, staging, files, regions_by_file, stub_tasks) -> None:
    instructions = {task.id: task.instruction for task in TASKS}
    for rel_path in files:
        origin, target = source / rel_path, staging / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel_path in regions_by_file:
            text = origin.read_bytes().decode("utf-8")
            target.write_bytes(student_text(text, regions_by_file[rel_path], stub_tasks, instructions).encode("utf-8"))
            shutil.copymode(origin, target)
        else:
            shutil.copy2(origin, target, follow_symlinks=False)


def _move_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    # Replace an earlier copy (checked by _check_paths) in two renames, so OUT_DIR is always
    # either the whole old copy or the whole new one.
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.classroom-old-", dir=out_dir.parent))
    os.rename(out_dir, retired / "copy")
    os.rename(staging, out_dir)
    shutil.rmtree(retired, ignore_errors=True)


def print_summary(summary: dict, stream=sys.stdout) -> None:
    print(f"student copy written to {summary['out_dir']}", file=stream)
    for task_id in summary["stubbed_tasks"]:
        print(f"  {task_id}: stubbed {len(summary['regions'][task_id])} region(s)", file=stream)
    kept = [t for t in summary["regions"] if t not in summary["stubbed_tasks"]]
    if kept:
        print(f"  solutions kept for: {', '.join(kept)}", file=stream)
    if summary["hidden_files"]:
        print(f"  hidden tests left out: {len(summary['hidden_files'])} file(s) under {summary['hidden_tests']}",
              file=stream)
    if summary["unmarked_tasks"]:
        print(f"  note: no region is marked yet for: {', '.join(summary['unmarked_tasks'])}", file=stream)
