"""PyTorch's side of benchmarks/conv.py, in a process of its own that never imports minigrad.

    python benchmarks/conv_torch_worker.py --threads 2 [--reuse-memory]

Importing minigrad changes the process it runs in: glibc keeps freed memory for reuse
(``minigrad/allocator.py``), NumPy's BLAS runs on one thread per product, and OpenMP runtimes
started after it spin briefly, then sleep. PyTorch timed in that process is timed with minigrad's
settings, not its own: a grouped 3x3 forward on 64 x 512ch x 8x8 images (groups 32) took 6.9 ms
there, 16-18 ms in a script of its own, and 7.9 ms in a script of its own with minigrad's
allocator setting alone. So benchmarks/conv.py starts this worker (with the environment it
started with), a fresh one for each shape (its ``TorchWorker`` says why), and has it time
PyTorch's calls, taking turns with its own.
``--reuse-memory`` gives PyTorch minigrad's allocator setting too, as benchmarks/train_step.py's
option does.

The protocol, one line each way: ``load PATH`` (an ``.npz`` with ``x``, ``weight``, ``grad_out``
and the geometry) builds PyTorch's two calls, runs each once to warm up, and answers
``{"ready": true, "threads": N}``; ``run`` pauses for the other process's threads to fall
asleep, times one forward and one forward + backward, each right after an untimed call of its
own, and answers their seconds as a JSON list. The worker exits at the end of its input.
"""

import argparse
import json
import os
import sys
import time


# A pause before each turn, for the other process's idle threads to fall asleep (benchmarks/conv.py's
# interleaved_with_torch_ms says why).
SETTLE_SECONDS = 0.05


def _load_allocator_module():
    """minigrad/allocator.py on its own, without importing the minigrad package."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "minigrad", "allocator.py")
    spec = importlib.util.spec_from_file_location("allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_functions(torch, arrays):
    """PyTorch's forward (under ``no_grad``) and forward + backward (both gradients) on the arrays."""
    x = torch.from_numpy(arrays["x"]).requires_grad_()
    weight = torch.from_numpy(arrays["weight"]).requires_grad_()
    grad_out = torch.from_numpy(arrays["grad_out"])
    padding, groups = int(arrays["padding"]), int(arrays["groups"])

    def forward():
        with torch.no_grad():
            return torch.nn.functional.conv2d(x, weight, None, 1, padding, 1, groups)

    def forward_backward():
        x.grad = weight.grad = None
        out = torch.nn.functional.conv2d(x, weight, None, 1, padding, 1, groups)
        out.backward(grad_out)

    return forward, forward_backward


def seconds_after_an_untimed_call(function):
    """Seconds of a call of ``function`` that follows another (see benchmarks/conv.py's ``interleaved_with_torch_ms``)."""
    function()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def serve(threads, reuse_memory, lines=sys.stdin, answer=print):
    import numpy as np

    if reuse_memory:
        _load_allocator_module().reuse_freed_memory()
    import torch

    torch.set_num_threads(threads)
    functions = None
    for line in lines:
        command, _, argument = line.strip().partition(" ")
        if command == "load":
            with np.load(argument) as arrays:
                functions = torch_functions(torch, {name: arrays[name] for name in arrays.files})
            for function in functions:
                function()
            answer(json.dumps({"ready": True, "threads": torch.get_num_threads()}), flush=True)
        elif command == "run" and functions is not None:
            time.sleep(SETTLE_SECONDS)
            answer(json.dumps([seconds_after_an_untimed_call(function) for function in functions]), flush=True)
        else:
            raise SystemExit(f"conv_torch_worker: expected 'load PATH' or (after a load) 'run', got {line.strip()!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--reuse-memory", action="store_true")
    options = parser.parse_args()
    serve(options.threads, options.reuse_memory)
