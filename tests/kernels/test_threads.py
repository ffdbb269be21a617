"""minigrad.kernels.threads: the thread count, the worker pool, and the process-wide settings
that ``import minigrad`` makes (checked in fresh interpreters)."""

import json
import os
import subprocess
import sys
import threading
import time

import numba
import pytest

import minigrad as mg
from minigrad.kernels import threads
from minigrad.kernels.conv import batches


@pytest.fixture
def restore_threads():
    before = mg.get_num_threads()
    yield
    mg.set_num_threads(before)


def test_set_num_threads_is_seen_by_every_python_thread(restore_threads):
    mg.set_num_threads(1)
    assert mg.get_num_threads() == 1 and numba.get_num_threads() == 1
    seen = {}

    def in_another_thread():
        seen["before"] = numba.get_num_threads()  # Numba's own count is per thread: still the default
        threads.use_numba_threads()  # what every parallel kernel calls first
        seen["after"] = numba.get_num_threads()
        seen["slices"] = len(batches._slices_per_thread(8))

    worker = threading.Thread(target=in_another_thread)
    worker.start()
    worker.join()
    assert seen == {"before": threads.MAX_THREADS, "after": 1, "slices": 1}


@pytest.mark.skipif(threads.MAX_THREADS < 2, reason="needs 2 cores")
def test_the_batch_is_cut_into_one_slice_per_thread(restore_threads):
    mg.set_num_threads(2)
    assert batches._slices_per_thread(5) == [slice(0, 3), slice(3, 5)]
    assert batches._slices_per_thread(1) == [slice(0, 1)]


@pytest.mark.parametrize(
    "value, error, message",
    [
        (0, ValueError, r"set_num_threads\(0\): the number of threads must be between 1 and"),
        (threads.MAX_THREADS + 1, ValueError, rf"set_num_threads\({threads.MAX_THREADS + 1}\): .* between 1 and {threads.MAX_THREADS}"),
        (2.0, TypeError, "set_num_threads takes an int, got 2.0"),
        (True, TypeError, "set_num_threads takes an int, got True"),
    ],
)
def test_set_num_threads_refuses_what_it_cannot_do(value, error, message, restore_threads):
    with pytest.raises(error, match=message):
        mg.set_num_threads(value)
    assert mg.get_num_threads() == threads.MAX_THREADS


def test_the_caller_runs_the_first_item_and_the_pool_the_others_at_once():
    callers = {}
    barrier = threading.Barrier(3, timeout=10)  # only passes if all three items run at the same time

    def record(item):
        callers[item] = threading.get_ident()
        barrier.wait()
        return item * 10

    assert threads.map_on_threads(record, [0, 1, 2]) == [0, 10, 20]
    assert callers[0] == threading.get_ident()
    assert len({callers[1], callers[2], callers[0]}) == 3


@pytest.mark.parametrize("worker_fails_too", [False, True])
def test_a_failing_first_item_still_waits_for_the_others_and_its_error_is_raised(worker_fails_too):
    finished = []

    def work(item):
        if item == 0:
            raise ValueError("first item failed")
        time.sleep(0.2)
        finished.append(item)
        if worker_fails_too:
            raise KeyError("worker failed")

    with pytest.raises(ValueError, match="first item failed"):
        threads.map_on_threads(work, [0, 1])
    assert finished == [1], "map_on_threads returned while a worker was still running"


def test_a_worker_error_is_raised_when_the_first_item_succeeds():
    def work(item):
        if item == 1:
            raise KeyError("worker failed")
        return item

    with pytest.raises(KeyError, match="worker failed"):
        threads.map_on_threads(work, [0, 1])


def test_a_larger_pool_replaces_the_old_one_whose_threads_then_exit():
    assert threads.map_on_threads(lambda n: n * n, [1, 2]) == [1, 4]
    first_pool = threads._pool
    many = list(range(threads._pool_workers + 3))
    assert threads.map_on_threads(lambda n: n + 1, many) == [n + 1 for n in many]
    assert threads._pool is not first_pool and threads._pool_workers == len(many) - 1  # the caller takes the first
    deadline = time.monotonic() + 10
    while any(t.is_alive() for t in first_pool._threads) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first_pool._threads and not [t for t in first_pool._threads if t.is_alive()], "the replaced pool's threads are still running"


def fresh_interpreter(code, **env):
    """Run ``code`` in a new Python with ``env`` added to this environment, less the OpenMP
    settings that importing minigrad put there (a fresh process must decide them itself)."""
    inherited = {name: value for name, value in os.environ.items() if name not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**inherited, **env}, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


SETTINGS = (
    "import json, os, threadpoolctl, minigrad\n"
    "blas = [p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']\n"
    "with minigrad.kernels.threads.limit_blas_threads(2):\n"
    "    inside = [p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']\n"
    "after = [p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']\n"
    "print(json.dumps({'blas': blas, 'inside': inside, 'after': after, 'omp': os.environ.get('OMP_WAIT_POLICY'),\n"
    "                  'spin': os.environ.get('GOMP_SPINCOUNT')}))\n"
)


def test_importing_minigrad_runs_blas_on_one_thread_and_lets_openmp_sleep():
    settings = fresh_interpreter(SETTINGS)
    if not settings["blas"]:
        pytest.skip("numpy's BLAS is not visible to threadpoolctl here")
    assert set(settings["blas"]) == {1} and set(settings["after"]) == {1}
    assert set(settings["inside"]) == {min(2, os.cpu_count())} or os.cpu_count() == 1
    assert settings["omp"] == "PASSIVE"
    assert settings["spin"] == str(threads.OPENMP_SPIN_COUNT)


def test_a_users_own_openmp_wait_policy_is_kept():
    settings = fresh_interpreter(SETTINGS, OMP_WAIT_POLICY="ACTIVE")
    assert settings["omp"] == "ACTIVE" and settings["spin"] is None  # no spin count to override theirs


def test_a_users_own_spin_count_is_kept():
    settings = fresh_interpreter(SETTINGS, GOMP_SPINCOUNT="0")
    assert settings["spin"] == "0" and settings["omp"] == "PASSIVE"
