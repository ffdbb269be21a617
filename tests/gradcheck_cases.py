"""Gradient-check cases for every ``Function``, in one place, keyed by the Function's class name.

Format::

    CASES["ClassName"] = {
        "case id": (fn, make_inputs),                  # or
        "case id": (fn, make_inputs, gradcheck_kwargs),
    }

* ``fn(*inputs)`` returns one Tensor and must route through the Function named by the key
  (it may call other ops too).
* ``make_inputs(rng)`` takes a ``numpy.random.Generator`` and returns a tuple of inputs: float64
  leaves with ``requires_grad=True`` (use ``leaf``) plus anything else ``fn`` needs.  A factory,
  not ready-made tensors, so every test run perturbs fresh arrays.
* ``gradcheck_kwargs`` (optional) are passed to ``minigrad.gradcheck``, e.g.
  ``{"atol": 1e-4}`` or ``{"n_directions": 16}``.

``tests/test_function_coverage.py`` gradchecks every case (every element, float64) and fails when a
``Function`` subclass defined under ``minigrad`` has no entry here.  To cover a new op, add a key::

    CASES["Conv2d"] = {
        "groups=2, stride 2": (lambda x, w: F.conv2d(x, w, stride=2, groups=2),
                               lambda rng: (leaf(rng, 2, 4, 5, 5), leaf(rng, 6, 2, 3, 3))),
    }

Keep shapes small: every element of every input costs two forward passes.
"""

import numpy as np

import minigrad as mg
from minigrad.functions import activation, batchnorm, conv, dropout, dtypes, elementwise, loss, matmul, pooling, reduction, shape_ops
from minigrad.distributed.sync_batchnorm import SyncBatchNormFunction
from minigrad.distributed.thread_world import ThreadWorld


def leaf(rng, *shape, low=None, high=None):
    """A float64 leaf that requires grad: standard normal, or uniform in [low, high)."""
    if low is None:
        data = rng.standard_normal(shape)
    else:
        data = rng.uniform(low, high, shape)
    return mg.tensor(data, dtype=np.float64, requires_grad=True)


def positive(rng, *shape):
    """Values in [0.5, 2): away from the singularities of log, sqrt, division and x**b."""
    return leaf(rng, *shape, low=0.5, high=2.0)


def distinct(rng, *shape):
    """A permutation of well-separated values, so max has no ties and relu no kinks within eps."""
    values = rng.permutation(np.arange(np.prod(shape), dtype=np.float64) - np.prod(shape) / 2 + 0.25)
    return mg.tensor(values.reshape(shape) * 0.3, requires_grad=True)


# Shapes that make broadcasting do something: (3, 1) with (4,) stretches both operands;
# (2, 3, 4) with (3, 1) prepends an axis and stretches a size-1 axis.
BROADCAST_PAIRS = {
    "(3,1) with (4,)": ((3, 1), (4,)),
    "(2,3,4) with (3,1)": ((2, 3, 4), (3, 1)),
    "(4,) with (2,3,4)": ((4,), (2, 3, 4)),
    "same shape (2,3)": ((2, 3), (2, 3)),
}


def _binary_cases(op, make_a=leaf, make_b=leaf):
    cases = {}
    for name, (shape_a, shape_b) in BROADCAST_PAIRS.items():
        cases[name] = (op, lambda rng, sa=shape_a, sb=shape_b: (make_a(rng, *sa), make_b(rng, *sb)))
    cases["python scalar on the right"] = (lambda a: op(a, 1.5), lambda rng: (make_a(rng, 2, 3),))
    cases["python scalar on the left"] = (lambda b: op(1.5, b), lambda rng: (make_b(rng, 2, 3),))
    return cases


def _unary_cases(op, make=leaf):
    return {
        "(2,3,4)": (op, lambda rng: (make(rng, 2, 3, 4),)),
        "0-d": (op, lambda rng: (make(rng),)),
        "x used in two branches: op(x) * x": (lambda x: op(x) * x, lambda rng: (make(rng, 3, 2),)),
    }


CASES = {
    # ------------------------------------------------------------ elementwise
    "Add": {
        **_binary_cases(lambda a, b: a + b),
        "x + x (one tensor, two uses)": (lambda x: x + x, lambda rng: (leaf(rng, 3, 4),)),
    },
    "Sub": {
        **_binary_cases(lambda a, b: a - b),
        "x - x*x (two branches)": (lambda x: x - x * x, lambda rng: (leaf(rng, 3, 4),)),
    },
    "Mul": {
        **_binary_cases(lambda a, b: a * b),
        "x * x (one tensor, two uses)": (lambda x: x * x, lambda rng: (leaf(rng, 3, 4),)),
        "(x * 2) * (x + 1) (two branches)": (lambda x: (x * 2) * (x + 1), lambda rng: (leaf(rng, 5),)),
    },
    "Div": {
        **_binary_cases(lambda a, b: a / b, make_b=positive),
        "x / x (one tensor, two uses)": (lambda x: x / x, lambda rng: (positive(rng, 3, 2),)),
    },
    "Pow": {
        **_binary_cases(lambda a, b: a**b, make_a=positive),
        "x ** 3": (lambda x: x**3, lambda rng: (leaf(rng, 2, 3),)),
        "x ** x (one tensor, two uses)": (lambda x: x**x, lambda rng: (positive(rng, 4),)),
    },
    "Neg": _unary_cases(lambda x: -x),
    "Exp": _unary_cases(elementwise.exp),
    "Sin": _unary_cases(elementwise.sin),
    "Cos": _unary_cases(elementwise.cos),
    "Log": _unary_cases(elementwise.log, make=positive),
    "Sqrt": _unary_cases(elementwise.sqrt, make=positive),
    "ReLU": _unary_cases(activation.relu, make=distinct),
    "Sigmoid": {
        **_unary_cases(elementwise.sigmoid),
        "large |x| (both branches)": (elementwise.sigmoid, lambda rng: (leaf(rng, 6, low=-30, high=30),)),
    },
    "Tanh": _unary_cases(elementwise.tanh),
    # ------------------------------------------------------------- reductions
    "Sum": {
        "all axes": (reduction.sum, lambda rng: (leaf(rng, 2, 3, 4),)),
        "axis=1": (lambda x: reduction.sum(x, axis=1), lambda rng: (leaf(rng, 2, 3, 4),)),
        "axis=(0, 2), keepdims": (
            lambda x: reduction.sum(x, axis=(0, 2), keepdims=True), lambda rng: (leaf(rng, 2, 3, 4),)),
        "axis=-1 then broadcast back: x - x.sum(-1, keepdims)": (
            lambda x: x - reduction.sum(x, axis=-1, keepdims=True), lambda rng: (leaf(rng, 3, 4),)),
    },
    "Mean": {
        "all axes": (reduction.mean, lambda rng: (leaf(rng, 2, 3, 4),)),
        "axis=0": (lambda x: reduction.mean(x, axis=0), lambda rng: (leaf(rng, 2, 3, 4),)),
        "axis=(1, 2), keepdims": (
            lambda x: reduction.mean(x, axis=(1, 2), keepdims=True), lambda rng: (leaf(rng, 2, 3, 4),)),
    },
    "Max": {
        "all axes": (reduction.max, lambda rng: (distinct(rng, 2, 3, 4),)),
        "axis=1": (lambda x: reduction.max(x, axis=1), lambda rng: (distinct(rng, 2, 3, 4),)),
        "axis=(0, 2), keepdims": (
            lambda x: reduction.max(x, axis=(0, 2), keepdims=True), lambda rng: (distinct(rng, 2, 3, 4),)),
        "x - max(x) (softmax shift)": (
            lambda x: x - reduction.max(x, axis=-1, keepdims=True), lambda rng: (distinct(rng, 3, 4),)),
    },
    # ------------------------------------------------------------- shape ops
    "Reshape": {
        "(2,3,4) -> (4,6)": (lambda x: shape_ops.reshape(x, (4, 6)), lambda rng: (leaf(rng, 2, 3, 4),)),
        "flatten(1)": (lambda x: shape_ops.flatten(x, 1), lambda rng: (leaf(rng, 2, 3, 4),)),
        "flatten() of 0-d": (lambda x: shape_ops.flatten(x), lambda rng: (leaf(rng),)),
        "flatten(0, 1) * weights": (
            lambda x: shape_ops.flatten(x, 0, 1) * np.arange(4.0), lambda rng: (leaf(rng, 2, 3, 4),)),
    },
    "Permute": {
        "permute (2, 0, 1)": (lambda x: shape_ops.permute(x, (2, 0, 1)), lambda rng: (leaf(rng, 2, 3, 4),)),
        "transpose() reverses": (lambda x: shape_ops.transpose(x), lambda rng: (leaf(rng, 2, 3, 4),)),
        "transpose(0, -1) swaps": (lambda x: shape_ops.transpose(x, 0, -1), lambda rng: (leaf(rng, 2, 3, 4),)),
        "x @ x.T (two uses)": (lambda x: x @ x.T, lambda rng: (leaf(rng, 3, 2),)),
    },
    "Pad": {
        "int padding": (lambda x: shape_ops.pad(x, 1), lambda rng: (leaf(rng, 2, 3),)),
        "per-axis padding": (lambda x: shape_ops.pad(x, ((0, 0), (2, 1), (0, 3))), lambda rng: (leaf(rng, 2, 3, 2),)),
    },
    "Concatenate": {
        "three tensors, axis 1": (
            lambda a, b, c: shape_ops.concatenate([a, b, c], axis=1),
            lambda rng: (leaf(rng, 2, 1, 3), leaf(rng, 2, 4, 3), leaf(rng, 2, 2, 3))),
        "[x, x * 2] (one tensor, two uses)": (
            lambda x: shape_ops.concatenate([x, x * 2], axis=0), lambda rng: (leaf(rng, 2, 3),)),
        "stack along a new middle axis": (
            lambda a, b: shape_ops.stack([a, b], axis=1), lambda rng: (leaf(rng, 2, 3), leaf(rng, 2, 3))),
        "minigrad.stack (torch.stack), dim -1": (
            lambda a, b, c: mg.stack([a, b, c], dim=-1), lambda rng: (leaf(rng, 2, 3), leaf(rng, 2, 3), leaf(rng, 2, 3))),
        "minigrad.cat (torch.cat) of x and x[1:], dim 0": (
            lambda x: mg.cat([x, x[1:]], dim=0) * mg.cat([x, x[:2]]), lambda rng: (leaf(rng, 3, 2),)),
        "stack(split(x)) reassembled in a different order": (
            lambda x: shape_ops.stack(list(reversed(shape_ops.split(x, 2, axis=1)[:2])), axis=-1),
            lambda rng: (leaf(rng, 3, 5),)),
    },
    "GetItem": {
        "basic slices, None and step": (lambda x: x[:, None, 1:, ::2], lambda rng: (leaf(rng, 2, 3, 4),)),
        "repeated integer indices accumulate": (lambda x: x[[0, 2, 0, 0]], lambda rng: (leaf(rng, 3, 2),)),
        "repeated integer pairs": (lambda x: x[[1, 1, 0], [2, 2, 2]], lambda rng: (leaf(rng, 2, 3),)),
        "boolean mask": (lambda x: x[np.array([True, False, True])], lambda rng: (leaf(rng, 3, 2),)),
        "ellipsis and negative int": (lambda x: x[..., -1], lambda rng: (leaf(rng, 2, 3, 4),)),
        "split into uneven pieces, recombined": (
            lambda x: sum_of_pieces(shape_ops.split(x, [1, 3, 1], axis=0)), lambda rng: (leaf(rng, 5, 2),)),
    },
    # ---------------------------------------------------------------- matmul
    "MatMul": {
        "2-D": (matmul.matmul, lambda rng: (leaf(rng, 3, 4), leaf(rng, 4, 2))),
        "batched (2,3,4) @ (2,4,5)": (matmul.matmul, lambda rng: (leaf(rng, 2, 3, 4), leaf(rng, 2, 4, 5))),
        "broadcast batch (2,1,3,4) @ (3,4,2)": (matmul.matmul, lambda rng: (leaf(rng, 2, 1, 3, 4), leaf(rng, 3, 4, 2))),
        "matrix @ vector": (matmul.matmul, lambda rng: (leaf(rng, 2, 3, 4), leaf(rng, 4))),
        "vector @ matrix": (matmul.matmul, lambda rng: (leaf(rng, 3), leaf(rng, 2, 3, 4))),
        "vector @ vector": (matmul.matmul, lambda rng: (leaf(rng, 4), leaf(rng, 4))),
        "x @ x (one tensor, two uses)": (lambda x: x @ x, lambda rng: (leaf(rng, 3, 3),)),
    },
    # ------------------------------------------------------------------ loss
    "LogSoftmax": {
        "last axis": (loss.log_softmax, lambda rng: (leaf(rng, 3, 4),)),
        "axis 0": (lambda x: loss.log_softmax(x, axis=0), lambda rng: (leaf(rng, 3, 4),)),
        "logits near 1e3": (
            loss.log_softmax, lambda rng: (mg.tensor(1e3 + rng.standard_normal((2, 3)), requires_grad=True),)),
    },
    "Softmax": {
        "dim 1": (lambda x: loss.softmax(x, dim=1), lambda rng: (leaf(rng, 3, 4),)),
        "dim 0, weighted sum": (lambda x, w: (loss.softmax(x, dim=0) * w).sum(),
                                lambda rng: (leaf(rng, 3, 4), leaf(rng, 3, 4))),
        "logits near 1e3": (lambda x: loss.softmax(x, dim=-1),
                            lambda rng: (mg.tensor(1e3 + rng.standard_normal((2, 3)), requires_grad=True),)),
    },
    "CrossEntropy": {
        "4 samples, 3 classes": (
            lambda logits: loss.cross_entropy(logits, np.array([0, 2, 1, 2])), lambda rng: (leaf(rng, 4, 3),)),
        "logits of size 1e3": (
            lambda logits: loss.cross_entropy(logits, np.array([1, 0])),
            lambda rng: (mg.tensor(1e3 * np.array([[1.0, 0.9, -1.0], [1.0, 1.0, -1.0]]), requires_grad=True),)),
        "label smoothing 0.1": (
            lambda logits: loss.cross_entropy(logits, np.array([0, 2, 1, 2, 4]), label_smoothing=0.1),
            lambda rng: (leaf(rng, 5, 5),)),
        "label smoothing 1 (uniform target)": (
            lambda logits: loss.cross_entropy(logits, np.array([1, 0]), label_smoothing=1.0),
            lambda rng: (leaf(rng, 2, 3),)),
    },
}


def sum_of_pieces(pieces):
    """Combine pieces of different lengths into one scalar per piece, weighted so that order matters."""
    return shape_ops.stack([reduction.sum(piece * (k + 1)) for k, piece in enumerate(pieces)])


def iter_cases():
    """Yield ``(function_name, case_id, fn, make_inputs, gradcheck_kwargs)`` for every case."""
    for function_name, cases in CASES.items():
        for case_id, case in cases.items():
            fn, make_inputs, *rest = case
            yield function_name, case_id, fn, make_inputs, (rest[0] if rest else {})


# ------------------------------------------------------ convolution, batch norm, pooling
# (the full grids live in tests/functions/test_conv.py, test_batchnorm.py, test_pooling.py)
CASES["Conv2d"] = {
    "groups=2, stride 2, padding 1, bias": (
        lambda x, w, b: conv.conv2d(x, w, b, stride=2, padding=1, groups=2),
        lambda rng: (leaf(rng, 2, 4, 5, 4), leaf(rng, 4, 2, 3, 3), leaf(rng, 4))),
    "depthwise, dilation 2, padding 2, non-square kernel": (
        lambda x, w: conv.conv2d(x, w, padding=2, dilation=2, groups=3),
        lambda rng: (leaf(rng, 1, 3, 5, 6), leaf(rng, 3, 1, 3, 2))),
    "1x1 kernel, stride (1, 2)": (
        lambda x, w: conv.conv2d(x, w, stride=(1, 2)), lambda rng: (leaf(rng, 2, 3, 4, 5), leaf(rng, 2, 3, 1, 1))),
}
CASES["BatchNorm"] = {
    "training, 4-D, affine": (
        lambda x, w, b: batchnorm.batch_norm(x, None, None, w, b, training=True),
        lambda rng: (leaf(rng, 2, 3, 3, 2), positive(rng, 3), leaf(rng, 3))),
    "training, 2-D, no affine, running stats updated": (
        lambda x: batchnorm.batch_norm(x, np.zeros(3), np.ones(3), training=True), lambda rng: (leaf(rng, 5, 3),)),
    "x used twice: bn(x) * x": (
        lambda x: batchnorm.batch_norm(x, None, None, training=True) * x, lambda rng: (leaf(rng, 4, 2, 2, 1),)),
}
CASES["BatchNormReLU"] = {
    # random inputs put no BatchNorm output within a finite-difference step of ReLU's kink
    "training, 4-D, affine": (
        lambda x, w, b: batchnorm.batch_norm_relu(x, None, None, w, b, training=True),
        lambda rng: (leaf(rng, 2, 3, 3, 2), positive(rng, 3), leaf(rng, 3))),
    "training, 2-D, running stats updated, then used twice": (
        lambda x: batchnorm.batch_norm_relu(x, np.zeros(3), np.ones(3), training=True) * x,
        lambda rng: (leaf(rng, 5, 3),)),
}
CASES["BatchNormAddReLU"] = {
    "training, 4-D, affine": (
        lambda x, r, w, b: batchnorm.batch_norm_add_relu(x, r, None, None, w, b, training=True),
        lambda rng: (leaf(rng, 2, 3, 3, 2), leaf(rng, 2, 3, 3, 2), positive(rng, 3), leaf(rng, 3))),
    "training, 2-D, running stats updated, the residual also used after": (
        lambda x, r: batchnorm.batch_norm_add_relu(x, r, np.zeros(3), np.ones(3), training=True) * r,
        lambda rng: (leaf(rng, 5, 3), leaf(rng, 5, 3))),
}
CASES["BatchNormEval"] = {
    # evaluation: the running statistics are constants; random inputs keep ReLU's kink away
    "eval, 4-D, affine": (
        lambda x, w, b: batchnorm.batch_norm(x, np.array([0.3, -1.0, 2.0]), np.array([0.5, 1.5, 4.0]), w, b),
        lambda rng: (leaf(rng, 2, 3, 3, 2), positive(rng, 3), leaf(rng, 3))),
    "eval, relu, 2-D, x used again": (
        lambda x, w: batchnorm.batch_norm_relu(x, np.zeros(3), np.full(3, 2.0), w) * x,
        lambda rng: (leaf(rng, 5, 3), positive(rng, 3))),
    "eval, residual and relu, 4-D": (
        lambda x, r, w, b: batchnorm.batch_norm_add_relu(x, r, np.array([0.1, 0.2]), np.array([1.0, 3.0]), w, b),
        lambda rng: (leaf(rng, 2, 2, 3, 3), leaf(rng, 2, 2, 3, 3), positive(rng, 2), leaf(rng, 2))),
}
# The same formulas with the sums over ranks: here a world of one rank (tests/data_parallel checks several).
CASES["SyncBatchNormFunction"] = {
    "one rank, 4-D, affine, running stats updated": (
        lambda x, w, b: SyncBatchNormFunction.apply(x, w, b, world=ThreadWorld.alone(), running_mean=np.zeros(3),
                                                    running_var=np.ones(3)),
        lambda rng: (leaf(rng, 2, 3, 3, 2), positive(rng, 3), leaf(rng, 3))),
}
CASES["MaxPool2d"] = {
    "3x3, stride 2, padding 1 (overlapping)": (
        lambda x: pooling.max_pool2d(x, 3, 2, 1), lambda rng: (distinct(rng, 2, 2, 5, 4),)),
    "(2, 3) kernel, stride 1": (lambda x: pooling.max_pool2d(x, (2, 3), 1), lambda rng: (distinct(rng, 1, 2, 4, 5),)),
}
CASES["AvgPool2d"] = {
    "3x3, stride 1, padding 1 (overlapping)": (
        lambda x: pooling.avg_pool2d(x, 3, 1, 1), lambda rng: (leaf(rng, 2, 2, 4, 5),)),
    "(3, 2) kernel, stride (2, 1), padding (1, 0)": (
        lambda x: pooling.avg_pool2d(x, (3, 2), (2, 1), (1, 0)), lambda rng: (leaf(rng, 1, 2, 5, 4),)),
    "adaptive_avg_pool2d to (2, 3)": (
        lambda x: pooling.adaptive_avg_pool2d(x, (2, 3)), lambda rng: (leaf(rng, 1, 2, 4, 6),)),
}
CASES["Cast"] = {
    # A float32 round trip rounds a 1e-6 step away, so this case steps by 1e-2: central differences
    # of a quadratic are exact at any step, and float32 rounding then costs about 1e-5.
    "float64 -> float32 -> float64, squared": (
        lambda x: dtypes.cast(dtypes.cast(x, np.float32), np.float64) ** 2,
        lambda rng: (leaf(rng, 3, 4),),
        {"eps": 1e-2, "atol": 1e-4}),
}
CASES["Dropout"] = {
    # a generator seeded inside fn: every forward of the check draws the same mask
    "p=0.3, x used twice: dropout(x) * x": (
        lambda x: dropout.dropout(x, 0.3, generator=np.random.default_rng(5)) * x, lambda rng: (leaf(rng, 4, 5),)),
    "nn.Dropout(p=0.5) in training mode": (
        lambda x: mg.nn.Dropout(0.5, generator=7)(x), lambda rng: (leaf(rng, 2, 3, 4),)),
}
