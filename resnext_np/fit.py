"""A training loop in three functions: one epoch of optimisation, an evaluation, and the epochs.

The training command (``python -m resnext_np.train``, whose loop is ``resnext_np/training/loop.py``)
grows this loop into a long run: a per-step schedule, checkpoints, progress bars, checks for
NaN. Here only the loop is left, so that the four lines of one optimisation step stand out
(classroom task t14)::

    optimizer.zero_grad()                      # gradients accumulate (+=): clear last step's
    loss = cross_entropy(model(images), labels)
    loss.backward()                            # dL/dp for every parameter p
    optimizer.step()                           # p <- p - lr * (SGD's update of dL/dp)

Evaluation runs the model in eval mode (BatchNorm uses its running statistics) without
recording a graph, and the learning-rate schedule moves once per epoch, after the epoch's steps.

>>> import numpy as np, minigrad as mg
>>> from minigrad.data import ArrayDataset, DataLoader
>>> rng = np.random.default_rng(0)
>>> images, labels = rng.standard_normal((8, 2)).astype(np.float32), np.array([0, 1] * 4)
>>> loader = DataLoader(ArrayDataset(images, labels), batch_size=4)
>>> model = mg.nn.Linear(2, 2)
>>> optimizer = mg.optim.SGD(model.parameters(), lr=0.1)
>>> history = fit(model, loader, loader, optimizer, epochs=2)
>>> [sorted(epoch) for epoch in history][0]
['lr', 'test_accuracy', 'test_loss', 'train_loss']
"""

import minigrad as mg
from minigrad import functional as F

__all__ = ["train_one_epoch", "evaluate", "fit"]


def train_one_epoch(model, loader, optimizer):
    """One pass over ``loader`` with one optimiser step per batch; returns the mean batch loss."""
    model.train()
    losses = []
    for images, labels in loader:
        # BEGIN SOLUTION t14_training_loop
        optimizer.zero_grad()
        loss = F.cross_entropy(model(mg.tensor(images)), labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
        # END SOLUTION
    if not losses:
        raise ValueError("the training loader yielded no batch")
    return sum(losses) / len(losses)


def evaluate(model, loader):
    """``(mean loss, accuracy)`` of ``model`` on ``loader``, in eval mode and without a graph.

    Both are averaged over examples (a smaller last batch weighs less), accuracy is the
    fraction of examples whose largest logit is at their label.
    """
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    # BEGIN SOLUTION t14_training_loop
    with mg.no_grad():
        for images, labels in loader:
            logits = model(mg.tensor(images))
            total_loss += float(F.cross_entropy(logits, labels).item()) * len(labels)
            correct += int((logits.data.argmax(axis=1) == labels).sum())
            count += len(labels)
    # END SOLUTION
    if count == 0:
        raise ValueError("the evaluation loader yielded no batch")
    return total_loss / count, correct / count


def fit(model, train_loader, test_loader, optimizer, scheduler=None, epochs=1):
    """Train for ``epochs``; return one dict per epoch: train_loss, test_loss, test_accuracy and the
    learning rate the epoch trained with (``lr``). ``scheduler.step()`` runs once after each epoch."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    history = []
    for _ in range(epochs):
        # BEGIN SOLUTION t14_training_loop
        lr = optimizer.param_groups[0]["lr"]
        train_loss = train_one_epoch(model, train_loader, optimizer)
        test_loss, test_accuracy = evaluate(model, test_loader)
        if scheduler is not None:
            scheduler.step()
        # END SOLUTION
        history.append({"lr": lr, "train_loss": train_loss, "test_loss": test_loss, "test_accuracy": test_accuracy})
    return history
