"""Classroom task t14: the training loop of resnext_np/fit.py, graded by what training does on a
tiny synthetic set (vertical against horizontal stripes), not by how the loop is written.

The model has one 3x3 conv layer before a global average pool and a linear head. The filters must
move: a loop that trained only the head (frozen random filters) fails, however well it scores.
Convolutions run as im2col + matmul (tasks t04-t06), so the graded loop calls no direct loops (t10).
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.data import ArrayDataset, DataLoader
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import MultiStepLR
from resnext_np.fit import evaluate, fit, train_one_epoch

pytestmark = pytest.mark.t14_training_loop


@pytest.fixture(autouse=True)
def im2col_path():
    with mg.conv_algorithm("im2col"):
        yield


def stripes(count, seed):
    """``count`` noisy 8x8 images: label 0 vertical stripes, label 1 horizontal, random phase."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    phase = rng.integers(0, 2, count)[:, None, None]
    rows, cols = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    pattern = np.where(labels[:, None, None] == 0, (cols + phase) % 2, (rows + phase) % 2).astype(np.float32)
    images = pattern + 0.3 * rng.standard_normal((count, 8, 8)).astype(np.float32)
    return images[:, None], labels


def loaders(batch_size=16):
    train, test = stripes(96, seed=0), stripes(64, seed=1)
    return (DataLoader(ArrayDataset(*train), batch_size=batch_size, shuffle=True, seed=2),
            DataLoader(ArrayDataset(*test), batch_size=batch_size))


def small_model(seed=0):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, generator=seed), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 2, generator=seed))


@pytest.fixture(scope="module")
def trained():
    with mg.conv_algorithm("im2col"):
        model = small_model()
        first_filters = model[0].weight.data.copy()
        train_loader, test_loader = loaders()
        optimizer = SGD(model.parameters(), lr=0.5, momentum=0.9)
        scheduler = MultiStepLR(optimizer, milestones=[6], gamma=0.2)
        history = fit(model, train_loader, test_loader, optimizer, scheduler, epochs=8)
    return model, first_filters, history, optimizer


def test_history_has_one_record_per_epoch_and_follows_the_schedule(trained):
    _, _, history, optimizer = trained
    assert len(history) == 8
    assert [epoch["lr"] for epoch in history] == pytest.approx([0.5] * 6 + [0.1] * 2)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)  # stepped after each of the 8 epochs


def test_training_loss_decreases(trained):
    losses = [epoch["train_loss"] for epoch in trained[2]]
    assert losses[0] > 0.3  # the first epoch starts near log 2 = 0.69 (two balanced classes)
    assert losses[-1] < 0.5 * losses[0], losses


def test_accuracy_is_well_above_chance(trained):
    assert trained[2][-1]["test_accuracy"] >= 0.85, trained[2]


def test_the_conv_filters_moved(trained):
    model, first_filters, _, _ = trained
    change = np.linalg.norm(model[0].weight.data - first_filters) / np.linalg.norm(first_filters)
    assert change > 0.2, f"the conv filters changed by {change:.3f} of their norm: only the head was trained?"


def test_evaluate_averages_over_examples_in_eval_mode_without_a_graph():
    model = small_model(seed=3).train()
    images, labels = stripes(20, seed=4)
    loss, accuracy = evaluate(model, DataLoader(ArrayDataset(images, labels), batch_size=8))  # 8 + 8 + 4
    assert not model.training
    with mg.no_grad():
        logits = model(mg.tensor(images))
    log_probabilities = logits.data - np.log(np.exp(logits.data).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_probabilities[np.arange(20), labels].mean(), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(logits.data.argmax(axis=1) == labels))
    assert all(parameter.grad is None for parameter in model.parameters())


def test_one_epoch_takes_one_step_per_batch():
    model = small_model(seed=5)
    optimizer = SGD(model.parameters(), lr=0.1)
    steps = []
    original_step = optimizer.step
    optimizer.step = lambda: (steps.append(1), original_step())
    images, labels = stripes(20, seed=6)
    loss = train_one_epoch(model, DataLoader(ArrayDataset(images, labels), batch_size=8), optimizer)
    assert len(steps) == 3 and model.training and 0.0 < loss < 5.0
