"""N ranks as N threads of one process: the collectives of ``world.py`` without MPI.

``run_ranks(function, size)`` calls ``function(world)`` once per rank, each in its own thread with
its own ``ThreadWorld``, and returns the results in rank order. The threads meet at a barrier in
every collective, exactly where MPI ranks would wait for each other, so a data-parallel program
written against a world runs unchanged; it is how the tests and the classroom check the gradient
averaging on a machine without MPI. (It is not a way to go faster: the ranks share one Python
process and its GIL.) What a process holds once, the ranks share: ``mg.manual_seed`` seeds one
generator for all of them, so ranks that seed and then draw (build a model) must take turns, or one
rank's draws come from another's seed.

An exception in one rank breaks the barrier, so the others stop at their next collective instead
of waiting forever, and ``run_ranks`` raises the first rank's error.
"""

import threading

import numpy as np


class _Shared:
    def __init__(self, size):
        self.size = size
        self.barrier = threading.Barrier(size)
        self.slots = [None] * size


class ThreadWorld:
    def __init__(self, shared, rank):
        self._shared, self.rank, self.size = shared, rank, shared.size

    @classmethod
    def alone(cls):
        """A world of one rank, in this thread: code written for several ranks, run (and gradchecked) alone."""
        return cls(_Shared(1), 0)

    def _exchange(self, array):
        """Every rank's array, in rank order (each rank posts a copy, then all read)."""
        shared = self._shared
        shared.slots[self.rank] = np.array(array, copy=True)
        shared.barrier.wait()
        arrays = list(shared.slots)
        shared.barrier.wait()  # nobody posts the next collective's array before all have read this one
        return arrays

    def allreduce_sum(self, array):
        arrays = self._exchange(array)
        total = arrays[0].copy()
        for other in arrays[1:]:  # in rank order, so every rank adds in the same order: equal results
            total += other
        array[...] = total
        return array

    def broadcast(self, array, root=0):
        array[...] = self._exchange(array)[root]
        return array

    def maximum(self, values):
        return np.max(self._exchange(np.array(values, dtype=np.float64)), axis=0)

    def barrier(self):
        self._shared.barrier.wait()

    def ranks_on_this_machine(self):
        return self.size

    def abort(self, status=1):
        self._shared.barrier.abort()
        raise RuntimeError(f"rank {self.rank} aborted the job with status {status}")


def run_ranks(function, size):
    """``[function(world) for each rank]``, the ranks running at once in ``size`` threads."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"run_ranks needs a whole number of ranks >= 1, got {size!r}")
    shared = _Shared(size)
    results, errors = [None] * size, [None] * size

    def run(rank):
        try:
            results[rank] = function(ThreadWorld(shared, rank))
        except BaseException as error:  # noqa: BLE001 (reported to the caller below)
            errors[rank] = error
            shared.barrier.abort()

    threads = [threading.Thread(target=run, args=(rank,), name=f"rank-{rank}") for rank in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The first error that is not just another rank's broken barrier says what went wrong.
    first = next((e for e in errors if e is not None and not isinstance(e, threading.BrokenBarrierError)), None)
    first = first or next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    return results
