"""Time the CPU convolution kernels against the NumPy reference and PyTorch (float32).

    python benchmarks/conv.py                       # all shapes, 5 timed runs each
    python benchmarks/conv.py --shapes 0,4 --repeat 9 --skip-reference
    python benchmarks/conv.py --cold-compile        # also time Numba's first compile, cache off

Forward is ``conv2d_forward``; forward+backward adds ``conv2d_backward`` for this project's
kernels (both gradients, what ``Conv2d.backward`` calls), ``conv2d_grad_input`` and
``conv2d_grad_weight`` for the reference (for PyTorch: ``conv2d`` then ``.backward``). Times are the median of
``--repeat`` runs after one warm-up run, in milliseconds, with the same thread count for minigrad
and PyTorch (minigrad runs each BLAS product on one thread, as it always does: its matmul
algorithms run one slice of the batch per thread themselves; the BLAS kernel that ran is printed). Our runs and PyTorch's are interleaved (ours,
theirs, ours, theirs, ...), so a change in machine load hits both alike; the load average is
printed at the start and the end.
"speedup" is PyTorch's time divided by ours (> 1: we are faster).

Peak memory: tracemalloc's peak over one forward+backward, i.e. the NumPy arrays allocated
by Python-level code (column buffers, outputs, gradients; the inputs are not counted). It does
not see the small per-task scratch buffers that Numba allocates inside the direct loops, nor
anything PyTorch allocates, so it is printed for this project's kernels and the reference only.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numba
import numpy as np

# PyTorch first: importing minigrad asks OpenMP runtimes that start after it to let idle threads
# sleep (minigrad.kernels.threads), and PyTorch is to run here with its own defaults.
try:
    import torch
except ImportError:
    torch = None

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


def torch_functions(x, weight, grad_out, geom):
    x_t = torch.from_numpy(x).requires_grad_()
    weight_t = torch.from_numpy(weight).requires_grad_()
    grad_out_t = torch.from_numpy(grad_out)

    def forward():
        with torch.no_grad():
            return torch.nn.functional.conv2d(x_t, weight_t, None, 1, geom.pad_h, 1, geom.groups)

    def forward_backward():
        x_t.grad = weight_t.grad = None
        out = torch.nn.functional.conv2d(x_t, weight_t, None, 1, geom.pad_h, 1, geom.groups)
        out.backward(grad_out_t)

    return forward, forward_backward


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
    parser.add_argument("--algorithm", default="auto", choices=ALGORITHMS,
                        help="compute every shape with this algorithm (default: auto, what minigrad chooses)")
    args = parser.parse_args()
    with conv_algorithm(args.algorithm):
        run(args)


def run(args):
    mg.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    indices = range(len(SHAPES)) if args.shapes == "all" else [int(i) for i in args.shapes.split(",")]
    print(f"float32, minigrad threads = {mg.get_num_threads()}, BLAS: {blas_description()}, "
          f"torch threads = {torch.get_num_threads() if torch is not None else 'n/a (not installed)'}, "
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
        if torch is None:
            ours = interleaved_median_ms([ours_forward, ours_both], args.repeat)
            torch_text, speedup_text = f"{'-':>9} {'-':>8}", f"{'-':>11} {'-':>5}"
        else:
            torch_forward, torch_both = torch_functions(x, weight, grad_out, geom)
            *ours, torch_fwd_ms, torch_both_ms = interleaved_median_ms(
                [ours_forward, ours_both, torch_forward, torch_both], args.repeat
            )
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
