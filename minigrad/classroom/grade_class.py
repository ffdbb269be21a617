"""Grade a whole class: every submission in a folder, several at once, one row per student.

    python -m minigrad.classroom grade-class SUBMISSIONS_DIR --json class.json --csv class.csv [--workers N]

A submission is a folder (a student copy) or an archive of one (.zip, .tar, .tar.gz, .tgz,
.tar.bz2, .tar.xz, unpacked into a scratch folder with every path checked). Each is graded by
`grade.grade`, on the local cores (`--workers`, threads that each wait on a judge process) or on
a Dask cluster (`--scheduler tcp://host:8786`, the optional ``dask`` extra: every Dask worker
needs this installation and the submissions folder at the same paths). A submission that cannot
be graded (an archive that does not open, a folder without a student copy) gets a row saying why;
the others are graded as usual, and the JSON and CSV are always written.
"""

from __future__ import annotations

import csv
import json
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path, PurePosixPath

from minigrad.classroom.build import STUDENT_STAMP
from minigrad.classroom.grade import grade
from minigrad.classroom.tasks import ClassroomError

ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar")
MAX_UNPACKED_BYTES = 500 * (1 << 20)  # a student copy is a few MiB; more is not a copy
TASK_FILE = "minigrad/functions/elementwise.py"  # a tree without a stamp is recognised by a task file


def find_submissions(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ClassroomError(f"the submissions folder {folder} does not exist")
    return sorted(path for path in folder.iterdir() if not path.name.startswith(".")
                  and (path.is_dir() or path.name.lower().endswith(ARCHIVE_SUFFIXES)))


def student_name(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def grade_one(path, options) -> dict:
    """One student's row; never raises for a broken submission (the row says why)."""
    path, started = Path(path), time.monotonic()
    row = {"student": student_name(path), "submission": str(path)}
    try:
        with tempfile.TemporaryDirectory(prefix="classroom-unpacked-") as scratch:
            root = unpack(path, Path(scratch)) if path.is_file() else path
            report = grade(copy_root(root), **options)
        row.update(status="graded", points_earned=report["points_earned"], points_possible=report["points_possible"],
                   tasks={task["id"]: {"points": task["points_earned"], "status": task["status"],
                                       "reason": task["reason"]} for task in report["tasks"]},
                   warnings=report["warnings"])
    except Exception as error:  # noqa: BLE001 (one broken submission must not stop the class)
        why = str(error) if isinstance(error, (ClassroomError, OSError)) else f"{type(error).__name__}: {error}"
        row.update(status=f"not graded: {why}", points_earned=0.0, points_possible=None, tasks={}, warnings=[])
    row["seconds"] = round(time.monotonic() - started, 1)
    return row


def unpack(archive: Path, into: Path) -> Path:
    """Unpack `archive` into `into`, refusing absolute paths, '..', links and oversized content."""
    try:
        _unpack(archive, into)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        raise ClassroomError(f"the archive does not open ({type(error).__name__}: {error})") from None
    return into


def _unpack(archive, into):
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as opened:
            members = opened.infolist()
            _check_members([(info.filename, info.file_size, (info.external_attr >> 28) == 0xA) for info in members])
            opened.extractall(into)
    else:
        with tarfile.open(archive) as opened:
            members = opened.getmembers()
            _check_members([(info.name, info.size, not (info.isfile() or info.isdir())) for info in members])
            opened.extractall(into, filter="data")


def _check_members(members):
    total = 0
    for name, size, is_link in members:
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or is_link:
            raise ClassroomError(f"the archive holds {name!r}, which would land outside its folder or is a link")
        total += size
    if total > MAX_UNPACKED_BYTES:
        raise ClassroomError(f"the archive unpacks to {total} bytes, over the limit of {MAX_UNPACKED_BYTES}")
    if not members:
        raise ClassroomError("the archive is empty")


def copy_root(folder: Path) -> Path:
    """The student copy in `folder`: the folder itself, or its one sub-folder (how archives are made)."""
    for candidate in [folder] + [sub for sub in sorted(folder.iterdir()) if sub.is_dir() and not sub.name.startswith((".", "__"))]:
        if (candidate / STUDENT_STAMP).is_file() or (candidate / TASK_FILE).is_file():
            return candidate
    raise ClassroomError(f"no student copy in it (no {STUDENT_STAMP} file and no {TASK_FILE})")


def grade_class(folder, workers=2, scheduler=None, progress=sys.stderr, **options) -> dict:
    """Grade every submission in `folder`; return {"rows": [...], ...} in the folder's order."""
    paths = find_submissions(folder)
    if not (isinstance(workers, int) and workers >= 1):
        raise ClassroomError(f"--workers must be a whole number >= 1, got {workers}")
    started, rows = time.monotonic(), {}

    def done(row):
        rows[row["submission"]] = row
        total = f"{row['points_earned']:g}/{row['points_possible']}" if row["status"] == "graded" else row["status"]
        print(f"[{len(rows)}/{len(paths)}] {row['student']}: {total} ({row['seconds']:g} s)", file=progress, flush=True)

    if scheduler:
        _grade_on_dask(scheduler, paths, options, done)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                for future in as_completed([pool.submit(grade_one, path, options) for path in paths]):
                    done(future.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    ordered = [rows[str(path)] for path in paths]
    task_ids = list(dict.fromkeys(task for row in ordered for task in row["tasks"]))
    return {"submissions_dir": str(Path(folder).resolve()), "task_ids": task_ids, "rows": ordered,
            "wall_seconds": round(time.monotonic() - started, 1), "workers": workers, "scheduler": scheduler}


def _grade_on_dask(scheduler, paths, options, done):
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise ClassroomError("--scheduler needs Dask's distributed: pip install -e '.[dask]'") from None
    with Client(scheduler) as client:
        futures = [client.submit(grade_one, str(path), options, pure=False, key=f"grade-{i}-{path.name}")
                   for i, path in enumerate(paths)]
        for future in dask_completed(futures):
            done(future.result())


def write_class_json(result, path) -> None:
    Path(path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def write_class_csv(result, path) -> None:
    """One row per student: name, status, total, possible, each task's points, then notes."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["student", "status", "total", "possible"] + result["task_ids"] + ["notes"])
        for row in result["rows"]:
            notes = [f"{task_id} {task['reason']}" for task_id, task in row["tasks"].items() if task["reason"]]
            writer.writerow([row["student"], row["status"], row["points_earned"], row["points_possible"]]
                            + [row["tasks"].get(task_id, {}).get("points", "") for task_id in result["task_ids"]]
                            + ["; ".join(notes + row["warnings"])])


def format_class_table(result) -> str:
    width = max([len(row["student"]) for row in result["rows"]] + [7])
    lines = [f"{'student':<{width}}  {'points':>12}  status"]
    for row in result["rows"]:
        points = f"{row['points_earned']:g}/{row['points_possible']}" if row["status"] == "graded" else "-"
        stopped = [f"{task_id} {task['status']}" for task_id, task in row["tasks"].items() if task["reason"]]
        lines.append(f"{row['student']:<{width}}  {points:>12}  {row['status']}"
                     + (f" ({', '.join(stopped)})" if stopped else "") + (" [warnings]" if row["warnings"] else ""))
    count = len(result["rows"])
    lines.append(f"{count} submission(s) in {result['wall_seconds']:g} s")
    return "\n".join(lines)
