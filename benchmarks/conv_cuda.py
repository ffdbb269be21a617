"""Time the numba.cuda convolution kernels on a GPU.

    python benchmarks/conv_cuda.py            # the ResNeXt shapes below, float32
    python benchmarks/conv_cuda.py --repeats 5

Two figures per direction:

* ``kernels``: the data already on the GPU (``conv2d_*_on_device``), so this is the kernels alone:
  im2col, the grouped matrix product, the layout swap (and col2im in backward).
* ``with copies``: the NumPy-in, NumPy-out functions the autograd Function calls, so host->device
  and device->host copies included.

"forward+backward" is forward, grad_input and grad_weight, as one training step of the layer
needs. Where PyTorch with CUDA is installed, its ``conv2d`` (cuDNN) is timed on the same shapes
for scale. Needs a GPU: the simulator would take hours.
"""

import argparse
import time

import numpy as np

# (N, C_in = C_out, H = W, groups, kernel size): the grouped 3x3 convolutions of a ResNeXt on
# CIFAR at its three widths, a wide 8-group one, a plain 3x3 and a 1x1.
SHAPES = [
    (64, 128, 32, 32, 3),
    (64, 256, 16, 32, 3),
    (64, 512, 8, 32, 3),
    (32, 512, 32, 8, 3),
    (64, 64, 32, 1, 3),
    (64, 256, 32, 1, 1),
]


def _median_ms(step, repeats):
    """Median wall time of ``step()`` in milliseconds; ``step`` must wait for the GPU itself."""
    step()  # warm-up: compiles the kernels for these types
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def time_cuda_conv(batch, channels, size, groups, kernel, dtype=np.float32, repeats=10):
    """``{"forward": ms, "forward_backward": ms, "forward_copies": ms, "forward_backward_copies": ms}``."""
    from numba import cuda

    from minigrad.kernels import cuda as conv_cuda
    from minigrad.kernels.conv_geometry import ConvGeometry

    geom = ConvGeometry.from_shapes(
        (batch, channels, size, size), (channels, channels // groups, kernel, kernel),
        padding=kernel // 2, groups=groups,
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal(geom.input_shape).astype(dtype)
    weight = (rng.standard_normal(geom.weight_shape) * 0.1).astype(dtype)
    grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
    x_gpu, weight_gpu, grad_out_gpu = (cuda.to_device(a) for a in (x, weight, grad_out))

    def forward_on_device():
        conv_cuda.conv2d_forward_on_device(x_gpu, weight_gpu, geom)
        cuda.synchronize()

    def forward_backward_on_device():
        conv_cuda.conv2d_forward_on_device(x_gpu, weight_gpu, geom)
        conv_cuda.conv2d_grad_input_on_device(grad_out_gpu, weight_gpu, geom)
        conv_cuda.conv2d_grad_weight_on_device(x_gpu, grad_out_gpu, geom)
        cuda.synchronize()

    def forward_with_copies():
        conv_cuda.conv2d_forward(x, weight, geom)

    def forward_backward_with_copies():
        conv_cuda.conv2d_forward(x, weight, geom)
        conv_cuda.conv2d_grad_input(grad_out, weight, geom)
        conv_cuda.conv2d_grad_weight(x, grad_out, geom)

    return {
        "forward": _median_ms(forward_on_device, repeats),
        "forward_backward": _median_ms(forward_backward_on_device, repeats),
        "forward_copies": _median_ms(forward_with_copies, repeats),
        "forward_backward_copies": _median_ms(forward_backward_with_copies, repeats),
    }


def time_torch_conv(batch, channels, size, groups, kernel, dtype=np.float32, repeats=10):
    """The same for PyTorch on the GPU (cuDNN, data on the device), or ``None`` without it."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    x = torch.randn(batch, channels, size, size, device="cuda", dtype=torch_dtype, requires_grad=True)
    weight = torch.randn(channels, channels // groups, kernel, kernel, device="cuda", dtype=torch_dtype,
                         requires_grad=True)
    grad_out = torch.randn(batch, channels, size, size, device="cuda", dtype=torch_dtype)

    def forward():
        with torch.no_grad():
            torch.nn.functional.conv2d(x, weight, padding=kernel // 2, groups=groups)
        torch.cuda.synchronize()

    def forward_backward():
        y = torch.nn.functional.conv2d(x, weight, padding=kernel // 2, groups=groups)
        y.backward(grad_out)
        torch.cuda.synchronize()

    return {"forward": _median_ms(forward, repeats), "forward_backward": _median_ms(forward_backward, repeats)}


def cuda_table(shapes=SHAPES, dtype=np.float32, repeats=10):
    """Rows of text, one per shape: the CUDA figures, and PyTorch's when it has a GPU."""
    lines = [
        f"{'N':>3} {'C':>4} {'HxW':>5} {'G':>3} {'k':>1} | {'fwd':>8} {'fwd+bwd':>8} | "
        f"{'fwd+copy':>8} {'f+b+copy':>8} | {'torch fwd':>9} {'torch f+b':>9}   (ms, {np.dtype(dtype).name})"
    ]
    for batch, channels, size, groups, kernel in shapes:
        ours = time_cuda_conv(batch, channels, size, groups, kernel, dtype, repeats)
        theirs = time_torch_conv(batch, channels, size, groups, kernel, dtype, repeats)
        torch_text = (
            f"{theirs['forward']:9.3f} {theirs['forward_backward']:9.3f}" if theirs else f"{'-':>9} {'-':>9}"
        )
        lines.append(
            f"{batch:>3} {channels:>4} {size:>2}x{size:<2} {groups:>3} {kernel:>1} | "
            f"{ours['forward']:8.3f} {ours['forward_backward']:8.3f} | "
            f"{ours['forward_copies']:8.3f} {ours['forward_backward_copies']:8.3f} | {torch_text}"
        )
    return lines


def gpu_available():
    """True only for a real GPU (the simulator is far too slow to time)."""
    from numba import cuda

    from minigrad.kernels.cuda.device import simulator_enabled

    return cuda.is_available() and not simulator_enabled()


def print_cuda_section(shapes=SHAPES, repeats=10):
    """The hook ``benchmarks/conv.py`` calls: print the CUDA table when a real GPU is present."""
    if not gpu_available():
        print("CUDA: no GPU here (or only the simulator), CUDA section skipped")
        return
    from numba import cuda

    name = cuda.get_current_device().name
    print(f"\nCUDA kernels on {name.decode() if isinstance(name, bytes) else name}:")
    for line in cuda_table(shapes, repeats=repeats):
        print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--float64", action="store_true", help="time float64 instead of float32")
    args = parser.parse_args()
    if not gpu_available():
        raise SystemExit("no CUDA GPU here (or the simulator is on): nothing to time")
    from numba import cuda

    name = cuda.get_current_device().name
    print("device:", name.decode() if isinstance(name, bytes) else name)
    for line in cuda_table(dtype=np.float64 if args.float64 else np.float32, repeats=args.repeats):
        print(line, flush=True)


if __name__ == "__main__":
    main()
