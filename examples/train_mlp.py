"""Train a small MLP with minigrad on two interleaved spirals.

The data is generated from a seed, so the example needs no download and every run with the same
arguments prints the same numbers.  A straight line cannot separate two spirals; two hidden ReLU
layers can, which makes this the smallest problem where the network visibly learns.

    python examples/train_mlp.py --epochs 300 --seed 0 --hidden 64

``main`` returns the final training accuracy (a fraction in [0, 1]).
"""

import argparse
import math

import numpy as np

import minigrad as mg
from minigrad import nn


def two_spirals(points_per_class=200, turns=1.5, noise=0.1, seed=0):
    """Points (x, y) on two spirals of ``turns`` turns, the second the first rotated by 180 degrees.

    Returns ``(inputs, labels)``: float32 inputs of shape (2 * points_per_class, 2), scaled to
    about [-1, 1], and int64 labels 0 or 1.
    """
    rng = np.random.default_rng(seed)
    # sqrt spreads the points evenly along the arc rather than bunching them at the centre
    angle = np.sqrt(rng.random(points_per_class)) * turns * 2 * math.pi
    radius = angle / (turns * 2 * math.pi)
    inputs, labels = [], []
    for label in (0, 1):
        rotated = angle + label * math.pi
        points = np.stack([radius * np.cos(rotated), radius * np.sin(rotated)], axis=1)
        inputs.append(points + noise * radius[:, None] * rng.standard_normal(points.shape))
        labels.append(np.full(points_per_class, label))
    return np.concatenate(inputs).astype(np.float32), np.concatenate(labels).astype(np.int64)


def make_mlp(hidden, seed):
    generator = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Linear(2, hidden, generator=generator),
        nn.ReLU(),
        nn.Linear(hidden, hidden, generator=generator),
        nn.ReLU(),
        nn.Linear(hidden, 2, generator=generator),
    )


def accuracy(model, inputs, labels):
    with mg.no_grad():
        predictions = model(inputs).argmax(axis=1).data
    return float(np.mean(predictions == labels))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train an MLP on two spirals with minigrad.")
    parser.add_argument("--epochs", type=int, default=300, help="full-batch training steps (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights")
    parser.add_argument("--hidden", type=int, default=64, help="units in each of the two hidden layers")
    parser.add_argument("--lr", type=float, default=0.02, help="Adam learning rate")
    parser.add_argument("--log-every", type=int, default=50, help="print progress every this many epochs")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    inputs_array, labels = two_spirals(seed=args.seed)
    inputs = mg.tensor(inputs_array)
    model = make_mlp(args.hidden, args.seed)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    print(f"two spirals: {len(labels)} points; MLP 2-{args.hidden}-{args.hidden}-2; "
          f"{sum(p.numel() for p in model.parameters())} parameters")

    for epoch in range(1, args.epochs + 1):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()
        if epoch % args.log_every == 0 or epoch == args.epochs:
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}  accuracy {accuracy(model, inputs, labels):.1%}")

    final = accuracy(model, inputs, labels)
    print(f"final training accuracy: {final:.1%}")
    return final


if __name__ == "__main__":
    main()
