"""The run folder (``--out``): one run at a time, writable, and tidy.

``RunFolder(path)`` is a context manager held for the whole run. On entry it

* creates the folder and checks that a file can be written there (a read-only or missing
  folder is reported at once, not after the first epoch's work);
* takes an exclusive lock (``fcntl.flock`` on ``.lock``): a second run with the same ``--out``
  is refused with the first run's pid. The operating system drops the lock when its process
  ends, however it ends, so the lock of a killed run (``kill -9``) is simply taken over;
* removes ``.tmp-*`` files that a run killed in the middle of an atomic write left behind
  (only with the lock held, so never a live run's).

Without ``--out``, runs are numbered: ``new_run_folder("runs/synthetic-m")`` is the first of
``runs/synthetic-m``, ``runs/synthetic-m-2``, ``-3``, ... that holds no checkpoint, and
``latest_run_folder`` the highest-numbered one that does.
"""

import errno
import fcntl
import glob
import os

from resnext_np.training.checkpoint import CHECKPOINT_NAME, existing_checkpoint, load_for_resume

LOCK_NAME = ".lock"
TEMPORARY_PATTERN = ".tmp-*"


class RunFolderError(Exception):
    """The folder cannot be used: locked by another run, or not writable."""


def numbered_folder(base, number):
    return base if number == 1 else f"{base}-{number}"


def new_run_folder(base):
    """The first of base, base-2, base-3, ... that holds no checkpoint."""
    number = 1
    while existing_checkpoint(numbered_folder(base, number)):
        number += 1
    return numbered_folder(base, number)


def latest_run_folder(base):
    """The highest-numbered of base, base-2, ... that holds a checkpoint; RunFolderError if none does."""
    parent, name = os.path.split(base)
    numbers = [1 if entry == name else int(entry[len(name) + 1:])
               for entry in (os.listdir(parent) if os.path.isdir(parent) else [])
               if entry == name or (entry.startswith(f"{name}-") and entry[len(name) + 1:].isdigit())]
    with_checkpoints = [number for number in numbers if existing_checkpoint(numbered_folder(base, number))]
    if not with_checkpoints:
        raise RunFolderError(f"no run to resume in {base}[-N]; run without --resume first (or give --out)")
    return numbered_folder(base, max(with_checkpoints))


def choose_folder_and_checkpoint(args):
    """Set ``args.out`` (a fresh numbered folder, or with ``--resume`` the latest one, unless given)
    and return the checkpoint to resume (None for a new run); RunFolderError if they do not fit."""
    if args.out is None:
        base = os.path.join("runs", f"{args.dataset}-{args.model}")
        args.out = latest_run_folder(base) if args.resume else new_run_folder(base)
    found = existing_checkpoint(args.out)
    if not args.resume and found:
        raise RunFolderError(f"{found} already exists: pass --resume to continue it, or choose another --out")
    if args.resume and not found:
        raise RunFolderError(f"no checkpoint in {args.out}; run without --resume first (or give the right --out)")
    return load_for_resume(os.path.join(args.out, CHECKPOINT_NAME), vars(args)) if args.resume else None


class RunFolder:
    def __init__(self, path):
        self.path = path
        self.lock_path = os.path.join(path, LOCK_NAME)
        self.removed_temporaries = []
        self._lock_file = None

    def __enter__(self):
        self._created = not os.path.isdir(self.path)  # removed again if the run ends without writing anything
        try:
            os.makedirs(self.path, exist_ok=True)
            _check_writable(self.path)
        except OSError as error:
            raise RunFolderError(f"cannot write to the run folder {self.path}: {error.strerror or error}") from None
        self._lock()
        for temporary in sorted(glob.glob(os.path.join(glob.escape(self.path), TEMPORARY_PATTERN))):
            os.unlink(temporary)
            self.removed_temporaries.append(os.path.basename(temporary))
        return self

    def _lock(self):
        while True:
            lock_file = open(self.lock_path, "a+")
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                lock_file.seek(0)
                owner = lock_file.read().strip() or "unknown"
                lock_file.close()
                raise RunFolderError(f"another run (pid {owner}) is using {self.path}; wait for it to finish, "
                                     f"or choose another --out") from None
            # The previous owner may have removed the file between our open and our lock: then we
            # hold a lock on a deleted file, and must start again on the new one.
            try:
                same_file = os.path.samestat(os.fstat(lock_file.fileno()), os.stat(self.lock_path))
            except FileNotFoundError:
                same_file = False
            if same_file:
                break
            lock_file.close()
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file

    def __exit__(self, *exc):
        if self._lock_file is not None:
            os.unlink(self.lock_path)  # while still locked: a waiting run then retries on a fresh file
            self._lock_file.close()
            self._lock_file = None
        if self._created and not os.listdir(self.path):
            os.rmdir(self.path)  # a run that failed before its first write leaves no empty folder behind
        return False


def _check_writable(folder):
    probe = os.path.join(folder, f".write-probe-{os.getpid()}")
    with open(probe, "wb") as stream:
        stream.write(b"probe")
    os.unlink(probe)
