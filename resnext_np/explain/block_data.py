"""The numbers behind the ``forms`` and ``algorithms`` pictures, computed by the library.

``forms``: one form (c) block with random weights and BatchNorm statistics, converted to forms (a)
and (b) by :func:`resnext_np.convert.convert`; the layer shapes are read off the converted blocks'
own parameters, and the three outputs on one input are compared.

``algorithms``: :func:`minigrad.kernels.conv.choose`'s pick for one geometry, the inputs of its
rule, and the time of forward + both gradients under each algorithm that can compute the geometry.
"""

import time
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad.kernels import ConvGeometry, conv
from resnext_np.block import ResNeXtBottleneck
from resnext_np.convert import convert

# In every form the first two convolutions (in each branch, or grouped) are followed by their own
# BatchNorm and ReLU, so the branches are not linear; the last one's BatchNorm comes at the merge.
FOLLOWED_BY_BN_RELU = ("conv_reduce", "conv_conv")

__all__ = ["FormsPicture", "forms_picture", "AlgorithmsPicture", "algorithms_picture", "choice_reasons"]


# ---------------------------------------------------------------------------------------- forms
@dataclass(frozen=True)
class FormsPicture:
    """``layers[form]``: ``(name, weight shape, groups)`` per convolution, in order, with each branch
    of forms (a)/(b) once (``branches.0.conv_conv`` ...). ``input_shape``/``output_shape``: the
    block's. ``differences[form]``: the largest ``|y_form - y_c|`` over the output, for 'a' and 'b'."""

    config: dict
    layers: dict
    input_shape: tuple
    output_shape: tuple
    differences: dict


def _randomise_batchnorm(block, rng):
    """Give every BatchNorm random affine parameters and running statistics, so that converting
    them is tested too (fresh ones are 1, 0, 0, 1, which any slicing leaves unchanged)."""
    state = block.state_dict()
    for key, value in state.items():
        layer, _, name = key.rpartition(".")
        if "bn" not in layer.rpartition(".")[2]:
            continue  # a convolution's weight
        if name in ("weight", "running_var"):  # scales: positive
            state[key] = rng.uniform(0.5, 1.5, size=value.shape).astype(value.dtype)
        elif name in ("bias", "running_mean"):
            state[key] = rng.normal(0, 0.5, size=value.shape).astype(value.dtype)
    block.load_state_dict(state)


def _conv_layers(block):
    """``(name, weight shape, groups)`` of every convolution of ``block``, in registration order."""
    return [(name, tuple(module.weight.shape), module.groups) for name, module in block.named_modules()
            if hasattr(module, "groups")]


def forms_picture(in_channels=64, out_channels=64, stride=1, cardinality=4, base_width=4, widen_factor=1,
                  image=8, batch=2, seed=0):
    """Build form (c), convert it to (a) and (b), run all three in eval mode on one float64 input."""
    rng = np.random.default_rng(seed)
    block_c = ResNeXtBottleneck(in_channels, out_channels, stride, cardinality, base_width, widen_factor,
                                generator=seed)
    block_c.to(np.float64)
    _randomise_batchnorm(block_c, rng)
    block_c.eval()
    blocks = {"c": block_c, "a": convert(block_c, "a"), "b": convert(block_c, "b")}
    x = mg.tensor(rng.standard_normal((batch, in_channels, image, image)), dtype=np.float64)
    with mg.no_grad():
        outputs = {form: block(x).data for form, block in blocks.items()}
    return FormsPicture(
        config=block_c.config(),
        layers={form: _conv_layers(block) for form, block in blocks.items()},
        input_shape=tuple(x.shape), output_shape=tuple(outputs["c"].shape),
        differences={form: float(np.max(np.abs(outputs[form] - outputs["c"]))) for form in ("a", "b")},
    )


# ----------------------------------------------------------------------------------- algorithms
@dataclass(frozen=True)
class AlgorithmsPicture:
    """``choice``: what ``auto`` runs; ``reasons``: the rule's steps for this geometry;
    ``milliseconds[name]``: best time of forward + grad input + grad weight (float32);
    ``refused[name]``: why an algorithm cannot compute the geometry."""

    geom: ConvGeometry
    choice: str
    reasons: list
    milliseconds: dict
    refused: dict


def choice_reasons(geom):
    """``(name, steps)``: :func:`conv.choose`'s rule walked for ``geom``, one sentence per test it makes.

    The thresholds are the library's own constants; the tests check that ``name`` is ``choose(geom)``."""
    widest = max(geom.in_channels_per_group, geom.out_channels_per_group)
    is_1x1 = conv.pointwise.cannot_compute(geom) is None
    steps = [f"inputs: stride ({geom.stride_h}, {geom.stride_w}); widest group {widest} channels "
             f"(in {geom.in_channels_per_group}, out {geom.out_channels_per_group}); "
             f"1x1 without padding: {'yes' if is_1x1 else 'no'}; output {geom.out_h}x{geom.out_w} = "
             f"{geom.out_h * geom.out_w} pixels"]
    if (geom.stride_h, geom.stride_w) != (1, 1):
        if is_1x1:
            return _one_by_one(geom, steps + ["strided, 1x1 kernel without padding: "
                                              "a 1x1 kernel is already a matrix product"])
        limit = conv.NARROW_GROUP_CHANNELS_STRIDED
        if widest <= limit:
            return "direct", steps + [f"strided, and the widest group {widest} <= {limit} channels: direct loops"]
        return "im2col", steps + [f"strided, and the widest group {widest} > {limit} channels: im2col + matmul"]
    limit = conv.NARROW_GROUP_CHANNELS
    if widest <= limit:
        return "direct", steps + [f"stride 1, and the widest group {widest} <= {limit} channels: direct loops"]
    steps.append(f"stride 1, and the widest group {widest} > {limit} channels: a matrix product pays")
    if is_1x1:
        return _one_by_one(geom, steps + ["1x1 kernel without padding: a matrix product per image"])
    pixels, large = geom.out_h * geom.out_w, conv.LARGE_IMAGE_PIXELS
    if pixels >= large:
        return "direct", steps + [f"output {pixels} >= {large} pixels: direct loops win on large images"]
    return "shifted", steps + [f"output {pixels} < {large} pixels: one matmul per tap on a shifted view"]


def _one_by_one(geom, steps):
    """The 1x1 rule's last step (:func:`conv.one_by_one`): which threads run the products."""
    name = conv.one_by_one(geom)
    if name == "pointwise_prange":
        return name, steps + ["NumPy's BLAS can be called from Numba: the products run on Numba's threads (pointwise_prange)"]
    return name, steps + [f"the products run on Python threads (pointwise); pointwise_prange cannot: "
                          f"{conv.pointwise_prange.cannot_compute(geom)}"]


def _time_algorithm(name, x, weight, grad_out, geom, repeats):
    with mg.conv_algorithm(name):
        best = float("inf")
        for attempt in range(repeats + 1):  # the first run compiles and warms up; it is not counted
            start = time.perf_counter()
            conv.conv2d_forward(x, weight, geom)
            conv.conv2d_grad_input(grad_out, weight, geom)
            conv.conv2d_grad_weight(x, grad_out, geom)
            if attempt:
                best = min(best, time.perf_counter() - start)
    return 1000 * best


def algorithms_picture(geom, repeats=3, seed=0):
    """Time every algorithm that can compute ``geom`` on random float32 arrays (best of ``repeats``)."""
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be >= 1")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(geom.input_shape).astype(np.float32)
    weight = rng.standard_normal(geom.weight_shape).astype(np.float32)
    grad_out = rng.standard_normal(geom.output_shape).astype(np.float32)
    milliseconds, refused = {}, {}
    for name, module in conv.ALGORITHMS.items():
        reason = module.cannot_compute(geom)
        if reason is None:
            milliseconds[name] = _time_algorithm(name, x, weight, grad_out, geom, repeats)
        else:
            refused[name] = reason
    choice, reasons = choice_reasons(geom)
    if choice != conv.choose(geom):
        raise AssertionError(f"the explanation says {choice!r} but conv.choose picks {conv.choose(geom)!r}")
    return AlgorithmsPicture(geom, conv.choose(geom), reasons, milliseconds, refused)
