"""Time the CPU convolution kernels against the NumPy reference and PyTorch (float32).

    python benchmarks/conv.py                       # all shapes, 5 timed runs each
    python benchmarks/conv.py --shapes 0,4 --repeat 9 --skip-reference
    python benchmarks/conv.py --cold-compile        # also time Numba's first compile, cache off

Forward is ``conv2d_forward``; forward+backward adds ``conv2d_backward`` for this project's
kernels (both gradients, what ``Conv2d.backward`` calls), ``conv2d_grad_input`` and
``conv2d_grad_weight`` for the reference (for PyTorch: ``conv2d`` then ``.backward``). Times are the median of
``--repeat`` runs after one warm-up run, in milliseconds, with the same thread count for minigrad
and PyTorch (minigrad runs each BLAS product on one thread, as it always does: its matmul
algorithms run one slice of the batch per thread themselves; the BLAS kernel that ran is printed).

PyTorch runs in a process of its own that never imports minigrad (benchmarks/conv_torch_worker.py,
started with the environment this script started with), so it runs with its own defaults:
importing minigrad would give it minigrad's allocator and OpenMP settings. Each shape gets a fresh
process: with the C allocator's defaults PyTorch's speed depends on what its process freed before
(see ``TorchWorker``), so a row must not depend on the rows timed before it. ``--reuse-memory``
gives PyTorch's process the allocator setting minigrad uses (freed memory kept for reuse), which
speeds PyTorch up, as in benchmarks/train_step.py; run both to report both. Our runs and
PyTorch's take turns (ours, theirs, ours, theirs, ...), so a change in machine load hits both
alike; the load average is printed at the start and the end.
"speedup" is PyTorch's time divided by ours (> 1: we are faster).

Peak memory: tracemalloc's peak over one forward+backward, i.e. the NumPy arrays allocated
by Python-level code (column buffers, outputs, gradients; the inputs are not counted). It does
not see the small per-task scratch buffers that Numba allocates inside the direct loops, nor
anything PyTorch allocates, so it is printed for this project's kernels and the reference only.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

# The environment before minigrad's import changes it (OMP_WAIT_POLICY, GOMP_SPINCOUNT): PyTorch's
# worker starts from this copy.
ENVIRONMENT_AT_START = dict(os.environ)
# The pause at the start of each side's turn (see interleaved_with_torch_ms).
SETTLE_SECONDS = 0.05
TORCH_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_torch_worker.py")

import numba  # noqa: E402
import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.kernels import conv, reference  # noqa: E402
from minigrad.kernels.conv.selection import ALGORITHMS, conv_algorithm  # noqa: E402
from minigrad.kernels.conv_geometry import ConvGeometry  # noqa: E402

# (N, C_in = C_out, H = W, groups, kernel size); padding is k // 2, stride 1.
SHAPES = [
    (64, 128, 32, 32, 3),
    (64, 256, 16, 32, 3),
    (64, 512, 8, 32, 3),
    (32, 512, 32, 8, 3),
    (64, 64, 32, 1, 3),
    (64, 256, 32, 1, 1),
]


def median_ms(fn, repeat):
    return interleaved_median_ms([fn], repeat)[0]


def interleaved_median_ms(functions, repeat):
    """Median time of each function in ms, timed in turn (A, B, A, B, ...) after one warm-up each."""
    for fn in functions:
        fn()  # warm-up: compilation, caches, thread pools
    times = [[] for _ in functions]
    for _ in range(repeat):
        for fn, fn_times in zip(functions, times):
            start = time.perf_counter()
            fn()
            fn_times.append(time.perf_counter() - start)
    return [1e3 * statistics.median(fn_times) for fn_times in times]


def load_average():
    """The 1, 5 and 15 minute load averages, or 'n/a' where the OS has none."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def peak_mib(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def kernel_functions(module, x, weight, grad_out, geom):
    def forward():
        return module.conv2d_forward(x, weight, geom)

    def forward_backward():
        module.conv2d_forward(x, weight, geom)
        if hasattr(module, "conv2d_backward"):
            module.conv2d_backward(x, grad_out, weight, geom)
        else:
            module.conv2d_grad_input(grad_out, weight, geom)
            module.conv2d_grad_weight(x, grad_out, geom)

    return forward, forward_backward


class TorchWorker:
    """PyTorch in a process of its own (benchmarks/conv_torch_worker.py), timing its calls on request.

    One worker per shape (``with TorchWorker(...) as worker:``). glibc's malloc serves a block
    above its mmap threshold with fresh pages from the system and hands them back when it is
    freed; freeing such a block raises the threshold to the block's size (up to 32 MiB on 64-bit
    Linux); blocks below it come from the heap, where freed memory is kept. So with the defaults
    PyTorch's speed depends on the largest block its process has freed so far. Measured on 2
    cores, PyTorch's forward of 64 x 512ch x 8x8 (groups 32) in a fresh script (medians of 35):
    18-21 ms as it is, or after a 9 MiB NumPy array was freed; 9.4 and 16 ms after a 12 MiB one;
    6.6-9.7 ms after a 16, 20 or 31 MiB one; 16-20 ms after a 33 MiB one (above the cap). With
    one worker for every shape, that row's PyTorch forward + backward took 20.6 ms after the two
    larger shapes and 35-44 ms when it was the only shape. ``--reuse-memory`` sets both
    thresholds once (``minigrad/allocator.py``), and PyTorch then runs at its fastest whatever
    came before.
    """

    def __init__(self, threads, reuse_memory):
        command = [sys.executable, TORCH_WORKER, "--threads", str(threads)] + (["--reuse-memory"] if reuse_memory else [])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env=ENVIRONMENT_AT_START)
        self.folder = tempfile.TemporaryDirectory()
        self.threads = threads

    def _ask(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise SystemExit(f"conv.py: PyTorch's worker stopped (its error is above) when asked {line!r}")
        return json.loads(answer)

    def load(self, x, weight, grad_out, geom):
        """Hand the worker this shape's arrays; it builds its calls and runs each once."""
        path = os.path.join(self.folder.name, "arrays.npz")
        np.savez(path, x=x, weight=weight, grad_out=grad_out, padding=geom.pad_h, groups=geom.groups)
        threads = self._ask(f"load {path}")["threads"]
        if threads != self.threads:
            raise SystemExit(f"conv.py: PyTorch's worker runs {threads} threads, not the {self.threads} asked for")

    def run(self):
        """Seconds of one PyTorch forward and one forward + backward."""
        return self._ask("run")

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.folder.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()


def interleaved_with_torch_ms(functions, worker, repeat):
    """Median ms of each of our functions and of PyTorch's two calls, taking turns.

    After its turn a process's idle OpenMP threads spin for a while before they sleep, taking the
    cores from the other side's calls: our 64 x 512ch x 8x8 forward (groups 32), 7 ms alone, took
    10-14 ms in the first one or two calls after PyTorch's turn. So each side's turn starts with
    a pause of :data:`SETTLE_SECONDS` (the other side's threads fall asleep) and each timed call
    follows an untimed call of the same function (its own threads are awake, as in a training
    step, where calls follow each other).
    """
    times = [[] for _ in range(len(functions) + 2)]
    for _ in range(repeat):
        time.sleep(SETTLE_SECONDS)
        for fn, fn_times in zip(functions, times):
            fn()
            start = time.perf_counter()
            fn()
            fn_times.append(time.perf_counter() - start)
        for seconds, fn_times in zip(worker.run(), times[len(functions):]):
            fn_times.append(seconds)
    return [1e3 * statistics.median(fn_times) for fn_times in times]


def blas_description():
    """NumPy's BLAS as threadpoolctl sees it: library, kernel (CPU architecture) and threads per product."""
    from threadpoolctl import threadpool_info

    found = [f"{p['internal_api']} {p.get('architecture', '?')} kernels, {p['num_threads']} thread(s) per product"
             for p in threadpool_info() if p["user_api"] == "blas"]
    return "; ".join(found) or "not visible to threadpoolctl"


def cold_compile_seconds():
    """First-call time of every kernel of every path for float32 and float64 in a fresh process
    with an empty Numba cache: what a fresh CI clone pays once."""
    code = (
        "import time, numpy as np\n"
        "start = time.perf_counter()\n"
        "from minigrad.kernels import conv\n"
        "from minigrad.kernels.conv_geometry import ConvGeometry\n"
        "cases = [(4, 4, 4, 3, 1, 1), (4, 4, 4, 3, 2, 1), (64, 64, 1, 3, 1, 1), (64, 64, 1, 3, 2, 1), (32, 32, 1, 1, 1, 0)]\n"
        "paths = set()\n"
        "for dtype in (np.float32, np.float64):\n"
        "    for channels, out_channels, groups, kernel, stride, padding in cases:\n"
        "        x = np.ones((2, channels, 5, 5), dtype); w = np.ones((out_channels, channels // groups, kernel, kernel), dtype)\n"
        "        geom = ConvGeometry.from_shapes(x.shape, w.shape, stride=stride, padding=padding, groups=groups)\n"
        "        paths.add(conv.choose(geom))\n"
        "        y = conv.conv2d_forward(x, w, geom)\n"
        "        conv.conv2d_grad_input(y, w, geom); conv.conv2d_grad_weight(x, y, geom)\n"
        "assert paths == {'direct', 'shifted', 'im2col', conv.one_by_one(geom)}, paths  # the last case is 1x1\n"
        "print(time.perf_counter() - start)\n"
    )
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="all", help="comma-separated indices into SHAPES, or 'all'")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--reference-repeat", type=int, default=1, help="timed runs for the slow NumPy reference")
    parser.add_argument("--skip-reference", action="store_true", help="do not time the NumPy reference")
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS, help="Numba and PyTorch threads")
    parser.add_argument("--cold-compile", action="store_true", help="also time a cold Numba compile")
    parser.add_argument("--reuse-memory", action="store_true",
                        help="PyTorch's process keeps freed memory for reuse, as minigrad's does "
                             "(minigrad.allocator.reuse_freed_memory); default: PyTorch with the C allocator's defaults")
    parser.add_argument("--algorithm", default="auto", choices=ALGORITHMS,
                        help="compute every shape with this algorithm (default: auto, what minigrad chooses)")
    args = parser.parse_args()
    with conv_algorithm(args.algorithm):
        run(args)


def pytorch_is_installed():
    """Whether PyTorch can be imported (by the worker: this process never imports it)."""
    return importlib.util.find_spec("torch") is not None


def run(args):
    mg.set_num_threads(args.threads)
    run_shapes(args, with_pytorch=pytorch_is_installed())


def run_shapes(args, with_pytorch):
    indices = range(len(SHAPES)) if args.shapes == "all" else [int(i) for i in args.shapes.split(",")]
    torch_text = (f"PyTorch: {args.threads} threads in a process of its own for each shape, "
                  f"{'freed memory reused' if args.reuse_memory else 'its allocator defaults'}"
                  if with_pytorch else "PyTorch: n/a (not installed)")
    print(f"float32, minigrad threads = {mg.get_num_threads()}, BLAS: {blas_description()}, {torch_text}, "
          f"repeat = {args.repeat} (median), times in ms, load average {load_average()}")  # fmt: skip
    header = (
        f"{'N,C,HW,G,k':>17} {'algorithm':>16} | {'ours fwd':>8} {'f+b':>8} {'MiB':>5} | {'ref fwd':>8} {'f+b':>8} "
        f"{'MiB':>5} | {'torch fwd':>9} {'f+b':>8} | {'speedup fwd':>11} {'f+b':>5}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for index in indices:
        batch, channels, size, groups, kernel = SHAPES[index]
        x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        weight = rng.standard_normal((channels, channels // groups, kernel, kernel), dtype=np.float32)
        geom = ConvGeometry.from_shapes(x.shape, weight.shape, padding=kernel // 2, groups=groups)
        grad_out = rng.standard_normal(geom.output_shape, dtype=np.float32)

        ours_forward, ours_both = kernel_functions(conv, x, weight, grad_out, geom)
        if not with_pytorch:
            ours = interleaved_median_ms([ours_forward, ours_both], args.repeat)
            torch_text, speedup_text = f"{'-':>9} {'-':>8}", f"{'-':>11} {'-':>5}"
        else:
            with TorchWorker(args.threads, args.reuse_memory) as worker:  # a fresh process per shape
                worker.load(x, weight, grad_out, geom)
                *ours, torch_fwd_ms, torch_both_ms = interleaved_with_torch_ms([ours_forward, ours_both], worker,
                                                                               args.repeat)
            torch_text = f"{torch_fwd_ms:9.1f} {torch_both_ms:8.1f}"
            speedup_text = f"{torch_fwd_ms / ours[0]:11.2f} {torch_both_ms / ours[1]:5.2f}"
        ours_mib = peak_mib(ours_both)
        if args.skip_reference:
            ref_text = f"{'-':>8} {'-':>8} {'-':>5}"
        else:
            ref_forward, ref_both = kernel_functions(reference, x, weight, grad_out, geom)
            ref = (median_ms(ref_forward, args.reference_repeat), median_ms(ref_both, args.reference_repeat))
            ref_text = f"{ref[0]:8.1f} {ref[1]:8.1f} {peak_mib(ref_both):5.0f}"
        path = conv.algorithm_for(geom)
        print(
            f"{f'{batch},{channels},{size},g{groups},{kernel}':>17} {path:>16} | {ours[0]:8.1f} {ours[1]:8.1f} "
            f"{ours_mib:5.0f} | {ref_text} | {torch_text} | {speedup_text}",
            flush=True,
        )
    print(f"load average at the end: {load_average()}")
    # CUDA section (benchmarks/conv_cuda.py): printed only where numba.cuda sees a GPU.
    from conv_cuda import print_cuda_section

    print_cuda_section([SHAPES[index] for index in indices], args.repeat)
    if args.cold_compile:
        print(f"cold compile (fresh process, empty cache, all kernels, float32 + float64): {cold_compile_seconds():.1f} s")


if __name__ == "__main__":
    main()
