"""How minigrad uses the cores: how many threads, who runs them, and BLAS on one thread.

minigrad spreads its work over the cores in two ways, and both use the same number of threads,
:func:`get_num_threads` (all the cores unless :func:`set_num_threads` says otherwise):

* Numba's parallel loops (``prange``: the direct convolution loops, ReLU, BatchNorm), which run on
  Numba's own thread pool. Numba counts threads per calling thread, so every parallel kernel
  calls :func:`use_numba_threads` first: the setting then holds whichever Python thread calls.
* a small pool of Python threads, each running a whole matmul algorithm on its own slice of the
  batch (:mod:`minigrad.kernels.conv.batches`). NumPy's matrix products and the ``nogil`` Numba
  kernels release the GIL, so those threads really do run at once.

So every matrix product runs on one BLAS thread: minigrad already runs one product per core.
More BLAS threads oversubscribe the cores, and OpenBLAS's idle threads keep spinning after each
product, taking a core from the Numba loops that run next (a small MLP ran 20x slower). That is
decided once, for the whole process, when minigrad is imported (:func:`take_charge_of_the_cores`):
NumPy's BLAS runs each product on one thread, also in your own NumPy code. To run your own large
products on more threads, use ``with limit_blas_threads(n):`` around them.

The same call asks OpenMP (the runtime of Numba's parallel loops here) to let idle threads sleep
instead of spinning, unless ``OMP_WAIT_POLICY`` is already set: a spinning OpenMP thread takes a
core from the batch-slice threads and from BLAS. But waking a sleeping one is slow: a parallel
loop over almost nothing took 80-100 us asleep, 5 us awake, and a training step starts ~40
of them. So with GNU OpenMP (libgomp, what Numba's wheels use on Linux) an idle thread first
spins :data:`OPENMP_SPIN_COUNT` times (~0.1-0.2 ms here), which catches the next loop of the
same step, then sleeps (``GOMP_SPINCOUNT``; unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is
set already). Measured on 2 cores, the default model's training step against sleeping at once
(two processes, alternating bursts): batch 32 1.035x (faster in 42 of 60 pairs), batch 128
1.027x (15 of 20); spinning 10 times longer was 0.85x, the spin taking a core from BLAS.

The pool's lifecycle, in full:

* it is created on first use, with one worker per item asked for beyond the caller's first;
* asked for more items than it has workers (plus the caller), it is replaced by a larger one; the old pool is shut
  down without waiting (work already handed to it still finishes, then its threads exit);
* in a child made by ``os.fork`` the parent's worker threads do not exist, so the child forgets
  the pool (and its lock, which another thread may have held at the fork) and makes a new one;
* several Python threads may call it at once: creating and replacing the pool happens under a
  lock, and ``ThreadPoolExecutor.submit`` is itself thread-safe.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numba

__all__ = ["set_num_threads", "get_num_threads", "use_numba_threads", "map_on_threads", "limit_blas_threads"]

# Spins of an idle GNU OpenMP thread before it sleeps (see the module docstring).
OPENMP_SPIN_COUNT = 10_000

MAX_THREADS = numba.config.NUMBA_NUM_THREADS  # the threads Numba starts: every core it found
_num_threads = MAX_THREADS
_lock = threading.Lock()
_pool = None
_pool_workers = 0


def set_num_threads(threads):
    """Use ``threads`` threads for minigrad's kernels, from every Python thread (PyTorch's name).

    >>> import minigrad as mg
    >>> mg.set_num_threads(1); mg.get_num_threads()
    1
    >>> mg.set_num_threads(mg.kernels.threads.MAX_THREADS)
    """
    global _num_threads
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"set_num_threads takes an int, got {threads!r}")
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(
            f"set_num_threads({threads}): the number of threads must be between 1 and {MAX_THREADS} "
            f"(Numba's thread count, NUMBA_NUM_THREADS, fixed when the process started)"
        )
    _num_threads = threads
    use_numba_threads()


def get_num_threads():
    """How many threads minigrad's kernels use."""
    return _num_threads


def use_numba_threads():
    """Make Numba's next parallel loop, called from this Python thread, use :func:`get_num_threads` threads."""
    if numba.get_num_threads() != _num_threads:
        numba.set_num_threads(_num_threads)


def map_on_threads(function, items):
    """``[function(item) for item in items]``, the first item on the calling thread and each other
    one on a thread of the pool, all at once.

    The caller is awake already: giving it the first item, rather than waiting idle while T pool
    threads wake up, saves one thread hand-off per call (~0.1 ms; a training step makes ~24 such
    calls). Measured on 2 cores, the default model's training step against handing every item to
    the pool (two processes, alternating bursts): batch 32 1.071 and 1.035 in two runs (faster in
    26 and 24 of 40 pairs), batch 128 1.015 (13 of 20).
    """
    if len(items) == 1:
        return [function(items[0])]
    pool = _pool_with_workers(len(items) - 1)
    futures = [pool.submit(function, item) for item in items[1:]]
    try:
        first = function(items[0])
    finally:
        wait(futures)  # never return, or raise, while a worker still writes; the first item's error wins
    return [first] + [future.result() for future in futures]


def _pool_with_workers(workers):
    global _pool, _pool_workers
    with _lock:
        if _pool_workers < workers:
            retired = _pool
            _pool, _pool_workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minigrad-worker"), workers
            if retired is not None:
                retired.shutdown(wait=False)
        return _pool


def _forget_pool_in_child():
    global _lock, _pool, _pool_workers
    _lock, _pool, _pool_workers = threading.Lock(), None, 0


os.register_at_fork(after_in_child=_forget_pool_in_child)


def limit_blas_threads(threads):
    """A context in which NumPy's BLAS runs each matrix product on at most ``threads`` threads,
    restoring the setting after (threadpoolctl's ``threadpool_limits``).

    >>> with limit_blas_threads(2):
    ...     pass
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def take_charge_of_the_cores():
    """One BLAS thread per product, and OpenMP threads that spin briefly, then sleep, when idle
    (see the module docstring).

    Called once, when minigrad is imported. Returns what it set, for the record.
    """
    from threadpoolctl import threadpool_limits

    # Read by OpenMP when Numba first starts it. GOMP_SPINCOUNT, when set, overrides the spin
    # count that libgomp derives from OMP_WAIT_POLICY (0 for PASSIVE).
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(OPENMP_SPIN_COUNT)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    threadpool_limits(limits=1, user_api="blas")  # lasts for the process (nothing restores it)
    return {"blas_threads_per_product": 1, "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT")}
