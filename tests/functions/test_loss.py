"""log_softmax and cross_entropy: values by the textbook formula, stability, label errors."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.functions.loss import cross_entropy, log_softmax


def f64(values, requires_grad=True):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_cross_entropy_matches_the_formula_and_its_gradient():
    logits = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    target = [1, 0]
    x = f64(logits)
    loss = cross_entropy(x, target)
    per_sample, grad = [], []
    for row, label in zip(logits, target):
        total = sum(math.exp(v) for v in row)
        per_sample.append(-math.log(math.exp(row[label]) / total))
        grad.append([(math.exp(v) / total - (k == label)) / 2 for k, v in enumerate(row)])
    assert loss.shape == () and loss.item() == pytest.approx(sum(per_sample) / 2, rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad, grad, rtol=1e-12)


def test_cross_entropy_with_extreme_logits_stays_finite():
    # logits 1e3 apart: e^1000 overflows, the shifted form does not.
    x = f64([[1e3, 0.0, -1e3], [0.0, 1e3, 1e3], [-1e3, -1e3, -1e3]])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss = cross_entropy(x, [2, 1, 0])
        loss.backward()
    # row 0: -log softmax = 1e3 - (-1e3) = 2000 ; row 1: log 2 ; row 2: log 3
    assert loss.item() == pytest.approx((2000.0 + math.log(2) + math.log(3)) / 3, rel=1e-12)
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad, np.array([[1, 0, -1], [0, -0.5, 0.5], [-2 / 3, 1 / 3, 1 / 3]]) / 3, atol=1e-12)


def test_cross_entropy_float32_stays_float32():
    x = mg.tensor([[1e3, -1e3]], requires_grad=True)
    loss = cross_entropy(x, [0])
    assert loss.dtype == np.float32 and loss.item() == 0.0
    loss.backward()
    assert x.grad.dtype == np.float32


def test_log_softmax_rows_are_normalised():
    x = f64(np.random.default_rng(0).standard_normal((3, 5)) * 50, requires_grad=False)
    for axis in (0, 1, -1):
        y = log_softmax(x, axis=axis)
        np.testing.assert_allclose(np.exp(y.data).sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(log_softmax(x, dim=0).data, log_softmax(x, axis=0).data)


def test_log_softmax_gradient_of_the_sum_is_one_minus_n_softmax():
    # L = sum_i y_i ; dL/dx_j = 1 - n * softmax_j
    values = np.array([0.0, math.log(2.0), math.log(5.0)])  # softmax = [1, 2, 5] / 8
    x = f64(values)
    log_softmax(x).sum().backward()
    np.testing.assert_allclose(x.grad, 1 - 3 * np.array([1, 2, 5]) / 8, rtol=1e-12)


@pytest.mark.parametrize(
    "logits_shape, target, error, message",
    [((2, 3), [0, 3], ValueError, r"label 3 is outside \[0, 3\)"),
     ((2, 3), [-1, 0], ValueError, r"label -1 is outside \[0, 3\)"),
     ((2, 3), [0, 1, 2], ValueError, r"logits \(2, 3\) need 2 labels, got target shape \(3,\)"),
     ((2, 3), np.array([0.0, 1.0]), TypeError, "integer class labels, got dtype float64"),
     ((6,), [0], ValueError, r"logits of shape \(N, classes\), got \(6,\)")],
)
def test_bad_labels_are_reported(logits_shape, target, error, message):
    with pytest.raises(error, match=message):
        cross_entropy(f64(np.zeros(logits_shape)), target)


def test_parity_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    values, target = rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)
    x = f64(values)
    loss = cross_entropy(x, target)
    loss.backward()
    tx = torch.tensor(values, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(target))
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 1.0])
def test_label_smoothing_matches_the_mixed_target_formula(eps):
    rng = np.random.default_rng(3)
    logits, target = rng.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 0])
    x = f64(logits)
    loss = cross_entropy(x, target, label_smoothing=eps)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    q = np.full((6, 4), eps / 4) + (1 - eps) * np.eye(4)[target]
    assert loss.item() == pytest.approx(-(q * log_p).sum(axis=1).mean(), rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad, (np.exp(log_p) - q) / 6, rtol=1e-10, atol=1e-15)


def test_label_smoothing_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    logits, target = rng.standard_normal((7, 5)), rng.integers(0, 5, size=7)
    x = f64(logits)
    ours = mg.nn.CrossEntropyLoss(label_smoothing=0.2)(x, target)
    ours.backward()
    reference = torch.tensor(logits, requires_grad=True)
    theirs = torch.nn.functional.cross_entropy(reference, torch.tensor(target), label_smoothing=0.2)
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad, reference.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.1"])
def test_label_smoothing_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\], got"):
        cross_entropy(f64([[0.0, 1.0]]), [1], label_smoothing=bad)
