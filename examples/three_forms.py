"""The paper's 256-d block (C=32, d=4) built three ways -- Fig. 3 (a), (b), (c) of Xie et al. 2017.

    python examples/three_forms.py [--batch 4] [--size 28] [--repeats 2]      (about a minute on 2 cores)

1. builds form (c), a 1x1 → grouped 3x3 → 1x1 bottleneck, with random weights and BN statistics;
2. converts it exactly into (a) 32 branches summed and (b) 32 branches concatenated;
3. prints each form's layers and shapes (branch 0 stands for all 32) with parameters and
   multiply-adds -- identical for the three;
4. shows the largest |difference| between their outputs (float64, train and eval mode);
5. times a forward and a forward+backward pass of each (float32), showing why form (c) is the
   one used in practice: 3 large convolutions instead of 3*32 small ones plus the bookkeeping.
"""

import argparse
import time

import numpy as np

import minigrad as mg
from resnext_np import EarlyConcatBlock, ResNeXtBottleneck, SplitTransformMergeBlock
from resnext_np.convert import convert
from resnext_np.summary import summary

FORM_NAMES = {
    "a": "split-transform-merge: 32 branches, outputs summed",
    "b": "early concatenation: 32 branches up to the 3x3, then one 1x1",
    "c": "grouped convolution: 1x1, 3x3 with groups=32, 1x1",
}
PAPER_BLOCK = dict(in_channels=256, out_channels=256, stride=1, cardinality=32, base_width=4, widen_factor=4)


def randomize_batchnorm(block, rng):
    """Give every BN non-trivial affine parameters and running statistics (fresh ones are 1/0)."""
    for module in block.modules():
        if isinstance(module, mg.nn.BatchNorm2d):
            size = module.num_features
            module.weight.data[...] = rng.uniform(0.5, 1.5, size)
            module.bias.data[...] = rng.normal(0.0, 0.2, size)
            module.running_mean[...] = rng.normal(0.0, 0.2, size)
            module.running_var[...] = rng.uniform(0.5, 2.0, size)


def print_layers(form, block, input_shape):
    table = summary(block, input_shape)
    print(f"\n({form}) {type(block).__name__}: {FORM_NAMES[form]}")
    hidden = 0
    for row in table.rows:
        if row.name.startswith("branches.") and not row.name.startswith("branches.0."):
            hidden += 1
            continue
        if row.kind == "Sequential":  # the identity shortcut
            continue
        print(f"    {row.name:<26} {row.kind:<12} {str(row.output_shape):<20} "
              f"{row.parameters:>8,} params {row.multiply_adds:>14,} multiply-adds")
    if hidden:
        print(f"    ... and the same layers in branches 1..{block.cardinality - 1} ({hidden} more rows)")
    print(f"    total: {table.total_parameters:,} parameters, {table.total_multiply_adds:,} multiply-adds")


def best_time(fn, repeats):
    fn()  # warm-up: Numba compiles (or loads from cache) the kernels for these shapes
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=28, help="input height and width (the paper's 256-d block sees 56x56)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    input_shape = (args.batch, 256, args.size, args.size)

    block_c = ResNeXtBottleneck(**PAPER_BLOCK, generator=0)
    randomize_batchnorm(block_c, rng)
    forms = {"a": convert(block_c, SplitTransformMergeBlock), "b": convert(block_c, EarlyConcatBlock), "c": block_c}
    print(f"ResNeXtBottleneck({', '.join(f'{k}={v}' for k, v in PAPER_BLOCK.items())}): "
          f"d = {block_c.branch_width} channels per branch, D = {block_c.bottleneck_width}")
    for form, block in forms.items():
        print_layers(form, block, (1,) + input_shape[1:])

    print("\nSame function (float64, max |output - output of (c)| on a random input):")
    x64 = mg.tensor(rng.standard_normal((2, 256, 8, 8)))
    for training in (True, False):
        outputs = {}
        for form, block in forms.items():
            copy = convert(block, form).double().train(training)  # a float64 copy; statistics untouched
            outputs[form] = copy(x64).data
        differences = ", ".join(f"({form}) {np.abs(outputs[form] - outputs['c']).max():.1e}" for form in "ab")
        print(f"    {'train' if training else 'eval '} mode: {differences}")

    print(f"\nTime on input {input_shape} (float32, best of {args.repeats}):")
    x = mg.randn(*input_shape, generator=1)
    upstream = np.random.default_rng(2).standard_normal(input_shape).astype(np.float32)
    for form, block in forms.items():
        block.train()

        def forward(block=block):
            with mg.no_grad():
                block(x)

        def forward_backward(block=block):
            block.zero_grad()
            block(x).backward(upstream)

        print(f"    ({form}) forward {best_time(forward, args.repeats) * 1e3:8.1f} ms   "
              f"forward+backward {best_time(forward_backward, args.repeats) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
