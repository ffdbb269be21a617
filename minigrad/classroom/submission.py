"""What a submission contributes to its grade: the code of its tasks' regions, and nothing else.

A submission is a student copy (`build.py`) the student worked in. Its files carry no markers; in
their place each region of a stubbed task was two lines (a TODO comment and a raise), and the
student replaced them with code. `read_submission` aligns each file with the copy as the teacher's
current tree would build it (a line diff, so code the teacher moved since keeps its place) and
takes, for every stub, the lines the student put where it stood. A tree that still has its
markers (the teacher's own, say) gives the code between them. Everything else in the submission
(tests, conftest.py, setup.cfg, the grader itself, an added file) is compared with what the copy
shipped, and each file that differs is named in a warning; none of it is used.

`build_graded_tree` writes a fresh tree from the teacher's files with those lines in place of
the regions: that tree, not the submission, is what the worker processes import.
"""

from __future__ import annotations

import difflib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from minigrad.classroom.build import (HIDDEN_TESTS, STUDENT_STAMP, _find_all_regions, _hidden_folder,
                                      file_digest, list_project_files)
from minigrad.classroom.markers import MarkerError, find_regions, rewrite
from minigrad.classroom.tasks import TASKS, ClassroomError, get_task

NOT_COPIED_TO_THE_GRADED_TREE = ("tests",)  # the judge runs the teacher's tests from the teacher's tree


@dataclass
class Submission:
    root: Path
    task_ids: list[str]
    # (file, BEGIN line of the region in the teacher's file) -> the lines the submission put there
    code: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def graded_task_ids(root: Path, task_ids=None) -> list[str]:
    """`task_ids`, else those the copy was built to stub (its stamp), else every task."""
    if task_ids is not None:
        return [get_task(task_id).id for task_id in task_ids]
    stamp = root / STUDENT_STAMP
    if stamp.is_file():
        try:
            return [get_task(task_id).id for task_id in json.loads(stamp.read_text(encoding="utf-8"))["stubbed_tasks"]]
        except (ValueError, KeyError, TypeError) as error:
            raise ClassroomError(f"{stamp} is not a student copy's stamp ({error})") from None
    return [task.id for task in TASKS]


def read_submission(root, teacher_root, task_ids=None, hidden_tests=HIDDEN_TESTS) -> Submission:
    root, teacher_root = Path(root).resolve(), Path(teacher_root).resolve()
    if not root.is_dir():
        raise ClassroomError(f"{root} is not a folder")
    submission = Submission(root, graded_task_ids(root, task_ids))
    teacher_files = _teacher_files(teacher_root, hidden_tests)
    regions_by_file = _find_all_regions(teacher_root, teacher_files)
    shipped = _shipped_digests(root)
    instructions = {task.id: task.instruction for task in TASKS}
    changed = []
    for rel_path in teacher_files:
        theirs = root / rel_path
        if rel_path in regions_by_file:
            text = (teacher_root / rel_path).read_text(encoding="utf-8")
            regions = regions_by_file[rel_path]
            stubbed = [region for region in regions if region.task_id in submission.task_ids]
            if not stubbed:
                continue
            outside = _take_region_code(submission, rel_path, text, regions, stubbed, theirs, instructions)
            if outside:
                changed.append(f"{rel_path} (outside its regions: {outside})")
        elif theirs.is_file() and rel_path in shipped and file_digest(theirs) != shipped[rel_path]:
            changed.append(rel_path)
        elif theirs.is_file() and rel_path not in shipped and theirs.read_bytes() != (teacher_root / rel_path).read_bytes():
            changed.append(rel_path)
    added = sorted(set(list_project_files(root)) - set(list_project_files(teacher_root)) - {STUDENT_STAMP})
    if changed:
        submission.warnings.append("changed outside the task regions, not graded: " + ", ".join(changed))
    if added:
        submission.warnings.append("added files, not graded: " + ", ".join(added))
    return submission


def _teacher_files(teacher_root, hidden_tests):
    hidden = _hidden_folder(teacher_root, hidden_tests)
    return [rel_path for rel_path in list_project_files(teacher_root)
            if not (hidden and hidden in (teacher_root / rel_path).parents)]


def _shipped_digests(root):
    stamp = root / STUDENT_STAMP
    if not stamp.is_file():
        return {}
    try:
        return dict(json.loads(stamp.read_text(encoding="utf-8")).get("shipped_files", {}))
    except (ValueError, TypeError, AttributeError):
        return {}


def _take_region_code(submission, rel_path, text, regions, stubbed, theirs, instructions):
    """Record the submission's lines for each region of `stubbed`; return the changed lines outside them."""
    pristine, origin = rewrite(text, regions, {region.task_id for region in stubbed}, instructions)
    pristine_lines = pristine.splitlines(keepends=True)
    spans = {region.begin_line: [i for i, line in enumerate(origin) if line == region.begin_line] for region in stubbed}
    spans = {begin: (lines[0], lines[-1] + 1) for begin, lines in spans.items()}
    if not theirs.is_file():
        for begin, (start, stop) in spans.items():
            submission.code[(rel_path, begin)] = pristine_lines[start:stop]
        return "the file is missing"
    their_text = theirs.read_bytes().decode("utf-8", errors="replace")
    marked = _marked_code(rel_path, their_text, regions, stubbed)
    if marked is not None:
        submission.code.update(marked)
        return ""
    their_lines = their_text.splitlines(keepends=True)
    taken = {begin: [] for begin in spans}
    outside = []
    matcher = difflib.SequenceMatcher(None, pristine_lines, their_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for begin, (start, stop) in spans.items():
            if tag == "equal" and i1 < stop and start < i2:
                taken[begin] += range(j1 + max(start, i1) - i1, j1 + min(stop, i2) - i1)
            elif tag != "equal" and (i1 < stop and start < i2 or (i1 == i2 and start <= i1 <= stop)):
                taken[begin] += range(j1, j2)
                if i1 < start or i2 > stop:
                    outside.append(f"lines {j1 + 1}-{j2}")
                break
        else:
            if tag != "equal" and j2 > j1:  # lines only the teacher's tree has are not the student's doing
                outside.append(f"line {j1 + 1}" if j2 - j1 <= 1 else f"lines {j1 + 1}-{j2}")
    for begin, indices in taken.items():
        lines = [their_lines[j] for j in sorted(set(indices))]
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        start, stop = spans[begin]
        submission.code[(rel_path, begin)] = lines if any(line.strip() for line in lines) else pristine_lines[start:stop]
    return ", ".join(outside)


def _marked_code(rel_path, their_text, regions, stubbed):
    """The code between a tree's own markers, when it has the same regions (the teacher's tree)."""
    try:
        theirs = find_regions(rel_path, their_text)
    except MarkerError:
        return None
    if [region.task_id for region in theirs] != [region.task_id for region in regions]:
        return None
    lines = their_text.splitlines(keepends=True)
    return {(rel_path, mine.begin_line): lines[own.begin_line:own.end_line - 1]
            for mine, own in zip(regions, theirs) if mine in stubbed}


def build_graded_tree(teacher_root, submission: Submission, out_dir, hidden_tests=HIDDEN_TESTS) -> Path:
    """The teacher's files, with the submission's code in its tasks' regions, written to `out_dir`."""
    teacher_root, out_dir = Path(teacher_root).resolve(), Path(out_dir)
    files = [rel_path for rel_path in _teacher_files(teacher_root, hidden_tests)
             if Path(rel_path).parts[0] not in NOT_COPIED_TO_THE_GRADED_TREE]
    regions_by_file = _find_all_regions(teacher_root, files)
    instructions = {task.id: task.instruction for task in TASKS}
    for rel_path in files:
        target = out_dir / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel_path not in regions_by_file:
            shutil.copy2(teacher_root / rel_path, target, follow_symlinks=False)
            continue
        code = {begin: lines for (path, begin), lines in submission.code.items() if path == rel_path}
        text = (teacher_root / rel_path).read_text(encoding="utf-8")
        target.write_text(rewrite(text, regions_by_file[rel_path], set(), instructions, code)[0], encoding="utf-8")
    return out_dir
