"""The judge: a pytest plugin in the teacher's process that runs a submission's code elsewhere.

`grade.py` runs the teacher's graded tests (``tests/hidden``) in a pytest process of the teacher's
installation with this plugin. A graded test asks for the ``student`` fixture and hands it a
function of its own module; the function runs in a worker process (`worker.py`) on the
submission's tree, and only its result comes back, as data. The test then compares that result
with the reference, here, where no code of the submission ever ran:

    def forward_of(x, w):                                  # runs in the worker, on the submission
        with mg.conv_algorithm("im2col"):
            return conv.conv2d_forward(x, w, geometry(x, w))

    @pytest.mark.t05_grouped_conv_forward
    def test_forward_matches_the_reference(student):       # runs here, in the judge
        x, w = ...
        np.testing.assert_allclose(student.run(forward_of, x, w), reference.conv2d_forward(x, w, ...))

Each task has its own worker, time limit (all its calls together, start-up and Numba's
compilation included) and memory limit. A worker that runs out of time, dies (a signal,
``os._exit``) or raises MemoryError stops its task: every test of that task fails, and the task
scores 0 with that reason; the other tasks go on. An exception the submission raises comes back
as `StudentError` ("ValueError: ..."), which fails the test unless the test expects it.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from minigrad.classroom import worker as wire

CONFIG_ENV = "MINIGRAD_CLASSROOM_JUDGE"  # path of the JSON file grade.py writes: tree, limits, memory
WORKER_FILE = str(Path(__file__).with_name("worker.py"))
# `python -c` puts the working directory (the submission's tree) first on sys.path.
RUN_FILE = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
PR_SET_PDEATHSIG = 1


class StudentError(Exception):
    """The submission's code raised; str() is "Type: message", as pytest prints it."""

    def __init__(self, type_name, message, traceback_text=""):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.traceback = type_name, message, traceback_text


class TaskWorker:
    """One task's worker process and what is left of its time."""

    def __init__(self, task_id, tree, limit_s, memory_mb, environment, log_folder):
        self.task_id, self.tree, self.limit_s, self.memory_mb = task_id, tree, limit_s, memory_mb
        self.environment, self.log_path = environment, Path(log_folder) / f"{task_id}.log"
        self.process = None
        self.used_s = 0.0
        self.status = None  # None while the task runs, then "timed out" or "crashed: ..."

    def run(self, function, args, kwargs):
        if self.status:
            pytest.fail(f"{self.task_id} {self.status}: not run", pytrace=False)
        started = time.monotonic()
        deadline = started + self.limit_s - self.used_s
        try:
            if self.process is None:
                self._start()
            wire.send(self.request_fd, {"module": function.__globals__["__file__"],
                                        "function": function.__qualname__,
                                        "args": wire.encode(list(args)), "kwargs": wire.encode(dict(kwargs))})
            reply = wire.receive(self.reply_fd, deadline)
        except TimeoutError:
            self.stop(f"timed out after {self.limit_s:g} s")
        except (wire.ChannelError, BrokenPipeError):
            self.stop(self._crash_reason())
        finally:
            self.used_s += time.monotonic() - started
        if self.status:
            pytest.fail(f"{self.task_id} {self.status}", pytrace=False)
        if "error" in reply:
            error = reply["error"]
            if error["type"] == "MemoryError":
                self.stop(f"crashed: MemoryError (memory limit {self.memory_mb} MiB)")
                pytest.fail(f"{self.task_id} {self.status}", pytrace=False)
            raise StudentError(error["type"], error["message"], error.get("traceback", ""))
        try:
            return wire.decode(reply["value"])
        except (KeyError, TypeError, ValueError) as problem:
            raise StudentError("InvalidReply", f"the worker sent something that is not a result ({problem})") from None

    def _start(self):
        request_read, self.request_fd = os.pipe()
        self.reply_fd, reply_write = os.pipe()
        env = {key: value for key, value in os.environ.items() if key not in (CONFIG_ENV, "PYTHONPATH")}
        env.update(self.environment)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", RUN_FILE, WORKER_FILE, self.tree, str(request_read), str(reply_write)],
                cwd=self.tree, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(request_read, reply_write), preexec_fn=self._limit_child)
        os.close(request_read)
        os.close(reply_write)

    def _limit_child(self):
        # In the child before exec: die with the judge, and stay under the memory limit.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        limit = self.memory_mb * (1 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def _crash_reason(self):
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "crashed: the worker stopped answering"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else "?"
            return f"crashed: signal {-code} ({name})"
        return f"crashed: exit status {code}"

    def stop(self, status=None):
        if status and not self.status:
            self.status = status
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for name in ("request_fd", "reply_fd"):
            if getattr(self, name, None) is not None:
                os.close(getattr(self, name))
                setattr(self, name, None)


class _Runs:
    def timed(self, function, *args, **kwargs):
        """(result, seconds) with the seconds measured here, by the judge's clock."""
        started = time.perf_counter()
        result = self.run(function, *args, **kwargs)
        return result, time.perf_counter() - started


class Student(_Runs):
    """What a graded test holds: `run(function, *args, **kwargs)` runs `function` on the submission."""

    def __init__(self, task_worker):
        self._worker = task_worker

    def run(self, function, *args, **kwargs):
        """`function(*args, **kwargs)` in the task's worker; its result as data, or StudentError.

        `function` must be defined at the top level of the test's module (the worker imports the
        module by its file); arguments and result are arrays, numbers, strings, None, and lists,
        tuples and str-keyed dicts of them.
        """
        if "<locals>" in function.__qualname__ or "__file__" not in function.__globals__:
            raise TypeError(f"student.run needs a function defined at the top level of a test module, "
                            f"got {function.__qualname__}")
        return self._worker.run(function, args, kwargs)


class InProcess(_Runs):
    """`student` outside grading (this project's own test run): the functions run here, on this
    tree, under the same rules for what goes in and out, so a graded test also runs as a test."""

    def run(self, function, *args, **kwargs):
        args, kwargs = wire.decode(wire.encode(list(args))), wire.decode(wire.encode(dict(kwargs)))
        try:
            result = function(*args, **kwargs)
        except Exception as error:
            raise StudentError(type(error).__name__, str(error)) from error
        return wire.decode(wire.encode(result))


JUDGE = pytest.StashKey["Judge"]()


@pytest.fixture
def student(request):
    """The submission's code, for graded tests: import this fixture in the graded tests' conftest.py."""
    judge = request.config.stash.get(JUDGE, None)
    return judge.student_for(request.node) if judge else InProcess()


class Judge:
    """The plugin: one TaskWorker per task, started at its first call, all stopped at the end."""

    def __init__(self, config):
        self.config = config
        self.workers: dict[str, TaskWorker] = {}
        self.log_folder = config.get("log_folder") or tempfile.mkdtemp(prefix="classroom-judge-")

    def worker_for(self, task_id):
        if task_id not in self.workers:
            self.workers[task_id] = TaskWorker(
                task_id, self.config["tree"], self.config["limits"][task_id], self.config["memory_mb"],
                self.config["environments"].get(task_id, {}), self.log_folder)
        return self.workers[task_id]

    def pytest_configure(self, config):
        config.stash[JUDGE] = self

    def student_for(self, item):
        task_ids = {mark.name for mark in item.iter_markers() if mark.name in self.config["limits"]}
        if len(task_ids) != 1:
            raise pytest.UsageError(f"{item.nodeid}: a graded test carries exactly one task marker, "
                                    f"found {sorted(task_ids) or 'none'}")
        return Student(self.worker_for(task_ids.pop()))

    def pytest_sessionfinish(self):
        self.stop_all()

    def stop_all(self):
        for task_worker in self.workers.values():
            task_worker.stop()

    def task_report(self):
        """{task: {"status": None | reason, "seconds": time its worker used}}."""
        return {task_id: {"status": w.status, "seconds": round(w.used_s, 3)} for task_id, w in self.workers.items()}


def load_config():
    with open(os.environ[CONFIG_ENV], encoding="utf-8") as file:
        return json.load(file)


def stop_on_sigterm(judge):
    """On SIGTERM (grade was stopped) end every worker before the judge goes."""
    def handler(signum, frame):
        judge.stop_all()
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
