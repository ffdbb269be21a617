"""The worker threads that run slices of a batch side by side, and how many there are.

minigrad spreads its work over the cores in two ways, and both use the same number of threads:

* Numba's parallel loops (``prange``), which run on Numba's own thread pool;
* a small pool of Python threads, each running a whole matmul path on its own slice of the
  batch (see :mod:`minigrad.kernels.conv.batches`). NumPy's matrix products and the ``nogil``
  Numba kernels release the GIL, so those threads really do run at once.

The pool's lifecycle, in full:

* it is created on first use, with one worker per slice asked for;
* asked for more slices than it has workers, it is replaced by a larger one; the old pool is shut
  down without waiting (work already handed to it still finishes, then its threads exit);
* in a child made by ``os.fork`` the parent's worker threads do not exist, so the child forgets
  the pool (and its lock, which another thread may have held at the fork) and makes a new one;
* several Python threads may call it at once: creating and replacing the pool happens under a
  lock, and ``ThreadPoolExecutor.map`` is itself thread-safe.
"""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba

__all__ = ["map_on_threads", "worker_count", "limit_blas_threads"]

_lock = threading.Lock()
_pool = None
_pool_workers = 0


def worker_count():
    """How many threads minigrad's kernels use: Numba's thread count for the calling thread."""
    return numba.get_num_threads()


def map_on_threads(function, items):
    """``[function(item) for item in items]``, on the pool's threads when there are several items."""
    if len(items) == 1:
        return [function(items[0])]
    return list(_pool_with_workers(len(items)).map(function, items))


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
    """A context in which BLAS (OpenBLAS, via NumPy) runs each matrix product on at most ``threads`` threads.

    The CPU convolution already runs its matrix products on every core, one slice of the batch
    per thread (see :mod:`minigrad.kernels.conv.batches`), so one BLAS thread per product is what
    it wants. More BLAS threads oversubscribe the cores, and OpenBLAS's threads keep spinning
    after each product, slowing down the Numba kernels that run next. The training command and
    the benchmarks run inside ``limit_blas_threads(1)``. Needs the optional package
    threadpoolctl (installed by ".[dev]" and ".[train]"); without it this changes nothing.

    >>> with limit_blas_threads(1):
    ...     pass
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")
