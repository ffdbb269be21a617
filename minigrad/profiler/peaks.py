"""This machine's peaks, measured: how fast it multiplies matrices and how fast it streams memory.

A profile says an op ran at 12 GFLOP/s; whether that is good depends on the machine.  So the
peaks are measured here, the way minigrad itself computes, not looked up in a datasheet:

- matrix product GFLOP/s, float32 and float64: every thread minigrad uses
  (:func:`minigrad.get_num_threads`) multiplies its own 512 x 512 matrices at once, each product
  on one BLAS thread, as the convolution's batch slices do.  ``2 * 512**3`` FLOPs per product.
- streaming copy GB/s: the same threads each copy their slice of a 64 MiB array that no cache
  holds; each copied byte is read once and written once, so a copy of B bytes counts 2 * B.

The best of a few short repetitions is kept (the peak is what the machine *can* do; other
programs running at the same time lower it).  The probe takes a second or so (1.3 s on 2 busy
cores), so the result is cached per machine, thread count and BLAS kernel (threadpoolctl names
the kernel OpenBLAS picked, e.g. ``Haswell``) in
``$MINIGRAD_CACHE_DIR/peaks.json`` (default ``~/.cache/minigrad/``), with the date it was
measured.  The file is replaced atomically; a file that cannot be read back as valid peaks is
measured again, never trusted.  ``load_or_measure(remeasure=True)`` measures again on request.
"""

import datetime
import json
import math
import os
import platform
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from minigrad.kernels.threads import get_num_threads, map_on_threads
from minigrad.serialization import write_atomically

__all__ = ["Peaks", "measure", "load_or_measure", "cache_path", "blas_kernel"]

CACHE_FORMAT = 1
MATRIX_SIZE = 512
COPY_BYTES = 64 * 2**20
REPEATS = 3


@dataclass(frozen=True)
class Peaks:
    """Measured peaks of one machine at one thread count; ``ridge`` is where a roofline bends."""

    float32_gflops: float
    float64_gflops: float
    copy_gbs: float
    threads: int
    blas: str
    machine: str
    measured_at: str

    def gflops(self, dtype):
        """The matrix-product peak for ``dtype`` (float64's for float64, float32's otherwise)."""
        return self.float64_gflops if np.dtype(dtype) == np.float64 else self.float32_gflops

    def ridge(self, dtype):
        """FLOPs per byte at which an op stops being memory-bound: peak GFLOP/s / peak GB/s."""
        return self.gflops(dtype) / self.copy_gbs


def blas_kernel():
    """The BLAS NumPy calls, as threadpoolctl reports it: ``"openblas 0.3.27 Haswell"``."""
    from threadpoolctl import threadpool_info

    for library in threadpool_info():
        if library.get("user_api") == "blas":
            parts = (library.get("internal_api"), library.get("version"), library.get("architecture"))
            return " ".join(str(part) for part in parts if part)
    return "unknown"


def _machine():
    model = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as stream:
            model = next((line.split(":", 1)[1].strip() for line in stream if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{platform.node()} / {model} / {os.cpu_count()} cores"


def _best_rate(work_per_call, call, threads):
    """Run ``call`` on every thread at once, a few times; the best total of work per second."""
    map_on_threads(call, list(range(threads)))  # warm up: first touch of memory, BLAS start-up
    best = 0.0
    for _ in range(REPEATS):
        start = time.perf_counter()
        map_on_threads(call, list(range(threads)))
        best = max(best, work_per_call * threads / (time.perf_counter() - start))
    return best


def _matmul_gflops(dtype, threads):
    rng = np.random.default_rng(0)
    shape = (MATRIX_SIZE, MATRIX_SIZE)
    operands = [(rng.random(shape).astype(dtype), rng.random(shape).astype(dtype), np.empty(shape, dtype))
                for _ in range(threads)]  # each thread its own a, b and out
    products = 4

    def multiply(thread):
        a, b, out = operands[thread]
        for _ in range(products):
            np.matmul(a, b, out=out)

    return _best_rate(2 * MATRIX_SIZE**3 * products, multiply, threads) / 1e9


def _copy_gbs(threads):
    per_thread = COPY_BYTES // threads // 8
    sources = [np.ones(per_thread) for _ in range(threads)]
    targets = [np.empty(per_thread) for _ in range(threads)]
    copies = 4

    def copy(thread):
        for _ in range(copies):
            np.copyto(targets[thread], sources[thread])

    return _best_rate(2 * 8 * per_thread * copies, copy, threads) / 1e9


def measure(threads=None):
    """Measure the peaks now, at ``threads`` threads (default: the threads minigrad uses)."""
    threads = get_num_threads() if threads is None else threads
    return Peaks(
        float32_gflops=_matmul_gflops(np.float32, threads), float64_gflops=_matmul_gflops(np.float64, threads),
        copy_gbs=_copy_gbs(threads), threads=threads, blas=blas_kernel(), machine=_machine(),
        measured_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def cache_path():
    """``$MINIGRAD_CACHE_DIR/peaks.json``, or ``~/.cache/minigrad/peaks.json``."""
    folder = os.environ.get("MINIGRAD_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "minigrad")
    return os.path.join(folder, "peaks.json")


def _cache_key(threads):
    return f"{_machine()} / {threads} threads / {blas_kernel()}"


def _read_cache(path):
    """The cached entries, or None (with a warning) when the file exists but is not valid peaks."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
        if document.get("format") != CACHE_FORMAT or not isinstance(document.get("machines"), dict):
            raise ValueError(f"format {document.get('format')!r}, expected {CACHE_FORMAT}")
        return {key: _as_peaks(entry) for key, entry in document["machines"].items()}
    except (OSError, ValueError, TypeError, AttributeError) as error:
        warnings.warn(f"peaks cache {path} is not valid ({error}); measuring again", RuntimeWarning, stacklevel=3)
        return None


def _as_peaks(entry):
    peaks = Peaks(**entry)
    for name in ("float32_gflops", "float64_gflops", "copy_gbs"):
        value = getattr(peaks, name)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} = {value!r} is not a positive number")
    return peaks


def load_or_measure(threads=None, remeasure=False, path=None):
    """The cached peaks of this machine at ``threads`` threads; measured (and cached) when absent,
    when the cache is not valid, or when ``remeasure`` is true."""
    threads = get_num_threads() if threads is None else threads
    path = cache_path() if path is None else path
    entries = _read_cache(path)
    key = _cache_key(threads)
    if entries and key in entries and not remeasure:
        return entries[key]
    peaks = measure(threads)
    entries = dict(entries or {}, **{key: peaks})
    document = {"format": CACHE_FORMAT, "machines": {name: asdict(value) for name, value in entries.items()}}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomically(path, lambda stream: stream.write(json.dumps(document, indent=1).encode("utf-8")))
    return peaks
