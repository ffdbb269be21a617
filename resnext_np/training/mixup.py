"""Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): train on blends of two photos.

Each training step draws one weight ``lam`` from Beta(alpha, alpha) and a shuffled order of the
batch, blends every image with its partner, and scores the blend against both labels::

    mixed_i = lam * x_i + (1 - lam) * x_partner(i)
    loss    = lam * CE(logits, y) + (1 - lam) * CE(logits, y_partner)

(the loss is linear in the target, so this equals the cross-entropy against the blended labels).
With a small alpha (0.2) most weights lie near 0 or 1: most blends are one photo with a faint
second one over it. The network can no longer fit each training photo exactly, so a long run
over few photos overfits less. The training accuracy the loop reports counts predictions of the
first label only, so with mixup it reads lower than the network's fit.

The draws come from a generator seeded by the run's seed, the rank, the epoch and the step, so a
resumed run blends exactly as the uninterrupted one did (and no two ranks blend alike).
"""

import numpy as np

import minigrad as mg


def step_generator(seed, rank, epoch, step):
    """The generator of one step's draws: the same for the same step of the same run, wherever it runs."""
    return np.random.default_rng([seed, rank, epoch, step])


def mix(images, alpha, generator):
    """``(N, C, H, W) images -> (blended images, partner (N,) indices, lam)``; ``alpha > 0``."""
    lam = float(generator.beta(alpha, alpha))
    partner = generator.permutation(len(images))
    blended = lam * images + (1.0 - lam) * images[partner]
    return blended.astype(images.dtype, copy=False), partner, lam


def mixed_cross_entropy(logits, labels, partner, lam, label_smoothing=0.0):
    """``lam * CE(logits, labels) + (1 - lam) * CE(logits, labels[partner])``, a differentiable scalar."""
    loss = mg.functional.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if lam == 1.0:
        return loss
    partner_loss = mg.functional.cross_entropy(logits, labels[partner], label_smoothing=label_smoothing)
    return loss * lam + partner_loss * (1.0 - lam)
