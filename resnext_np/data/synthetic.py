"""The built-in synthetic image set: textures that a linear classifier cannot tell apart and a
small conv net can."""

from typing import NamedTuple

import numpy as np

from resnext_np.data.images import LabeledImages

# ---------------------------------------------------------------------------------------------
# Synthetic textures
# ---------------------------------------------------------------------------------------------
#
# Each image is a flat background with one square patch of a class-specific texture, at a
# random place and size, in random colours, plus pixel noise.  Why this is a good test set:
#
# * A linear classifier on pixels sits near chance (10%): the patch can be anywhere, and which
#   of the two colours is the ink is a coin flip, so the *average* image of every class is the
#   same flat grey.  A linear score w . x only sees such averages.
# * A small conv net with global average pooling learns it in a few epochs: each texture has
#   its own 3x3-scale signature (edge orientations, periods, corners, curves) that a conv
#   filter detects wherever the patch is, whatever its colours.
# * Every class is closed under left-right mirroring (diagonal stripes come in both
#   orientations), so the usual RandomHorizontalFlip augmentation does not mix classes up.

SYNTHETIC_CLASS_NAMES = (
    "horizontal stripes",
    "vertical stripes",
    "diagonal stripes",
    "checkerboard",
    "dots",
    "grid",
    "diagonal grid",
    "concentric rings",
    "solid square",
    "square outline",
)

_SIDE = 32
_DARKEST_LIGHT = 160.0  # light colours in 160..255, dark ones in 0..(160 - minimum contrast)


class Difficulty(NamedTuple):
    min_half_side: int    # the patch's side is 2 * half_side + 1 pixels
    max_half_side: int
    min_contrast: float   # between the dark and the light colour, in 0..255 units
    noise_std: float      # Gaussian pixel noise, in 0..255 units


# "clear": large patches, high contrast, little noise: a small conv net learns it in an epoch or
#          two (the API's default, and what the tests of the data pipeline use).
# "noisy": small patches (7..11 pixels), low contrast and strong noise, so a texture is hard to see:
#          the training command's quick start uses it, because learning it takes epochs (about 0.9
#          test accuracy after 12 epochs of 1,000 images, where "clear" is learnt in one).
DIFFICULTIES = {
    "clear": Difficulty(6, 10, 60.0, 8.0),
    "noisy": Difficulty(3, 5, 30.0, 80.0),
}


def _texture(label, rows, cols, half_side, coin):
    """Boolean "ink" mask of class ``label`` inside the patch.

    ``rows``/``cols`` are each pixel's offsets from the patch centre, already shifted by a
    random phase for the periodic textures; ``half_side`` is the patch's half width; ``coin``
    picks the orientation of the diagonal stripes.  Most textures have a period of 4 pixels.
    """
    if label == 0:
        return rows % 4 < 2
    if label == 1:
        return cols % 4 < 2
    if label == 2:  # "\" or "/" at random
        return np.where(coin, (rows - cols) % 4 < 2, (rows + cols) % 4 < 2)
    if label == 3:  # 3x3 cells: a coarser scale than the stripes
        return (rows // 3 + cols // 3) % 2 == 0
    if label == 4:
        return (rows % 4 < 2) & (cols % 4 < 2)
    if label == 5:
        return (rows % 4 == 0) | (cols % 4 == 0)
    if label == 6:
        return ((rows - cols) % 4 == 0) | ((rows + cols) % 4 == 0)
    if label == 7:
        return np.rint(np.hypot(rows, cols)) % 4 < 2
    if label == 8:
        return np.ones(rows.shape, dtype=bool)
    if label == 9:  # a 2-pixel border
        return np.maximum(np.abs(rows), np.abs(cols)) >= half_side - 1
    raise ValueError(f"no synthetic class {label}")


def synthetic_images(num_images, seed=0, train=True, difficulty="clear"):
    """Generate one split of the synthetic 10-class texture set (see the comment above).

    ``difficulty``: ``"clear"`` or ``"noisy"`` (see ``DIFFICULTIES``).
    Deterministic: the same ``(num_images, seed, train, difficulty)`` gives the same bytes.  Train and test
    come from independent random streams of the same seed.  Classes are balanced (counts
    differ by at most one).

    >>> a = synthetic_images(30, seed=3)
    >>> b = synthetic_images(30, seed=3)
    >>> bool(np.array_equal(a.images, b.images)), np.bincount(a.labels).tolist()
    (True, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    """
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)):
        raise TypeError(f"num_images must be an int, got {type(num_images).__name__}")
    if num_images < 0:
        raise ValueError(f"num_images must be >= 0, got {num_images}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {sorted(DIFFICULTIES)}, got {difficulty!r}")
    level = DIFFICULTIES[difficulty]
    n = int(num_images)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0 if train else 1]))

    labels = rng.permutation(np.arange(n) % len(SYNTHETIC_CLASS_NAMES)).astype(np.int64)
    half_side = rng.integers(level.min_half_side, level.max_half_side + 1, size=n)
    centre_row = rng.integers(half_side, _SIDE - half_side)   # patch stays inside the image
    centre_col = rng.integers(half_side, _SIDE - half_side)
    phase = rng.integers(0, 4, size=n)
    coin = rng.random(n) < 0.5

    # (N, 32, 32) offsets of every pixel from its image's patch centre.
    pixel = np.arange(_SIDE)
    row_offset = pixel[None, :, None] - centre_row[:, None, None]
    col_offset = pixel[None, None, :] - centre_col[:, None, None]
    row_offset, col_offset = np.broadcast_arrays(row_offset, col_offset)
    inside = np.maximum(np.abs(row_offset), np.abs(col_offset)) <= half_side[:, None, None]

    ink = np.zeros((n, _SIDE, _SIDE), dtype=bool)
    for label in range(len(SYNTHETIC_CLASS_NAMES)):
        chosen = np.flatnonzero(labels == label)
        rows, cols = row_offset[chosen], col_offset[chosen]
        if label not in (7, 9):  # rings and outlines stay centred; the rest get a phase
            rows = rows + phase[chosen, None, None]
            cols = cols + phase[chosen, None, None]
        ink[chosen] = _texture(label, rows, cols, half_side[chosen, None, None],
                               coin[chosen, None, None])
    ink &= inside

    # One dark and one light colour per image, and a coin for which of them is the ink.  The
    # contrast has the same sign in all three channels (so an edge is an edge in every
    # channel), and averaged over the coin every pixel of every class has the same mean.
    dark = rng.uniform(0, _DARKEST_LIGHT - level.min_contrast, size=(n, 3)).astype(np.float32)
    light = rng.uniform(_DARKEST_LIGHT, 256, size=(n, 3)).astype(np.float32)
    light_ink = (rng.random(n) < 0.5)[:, None]
    foreground = np.where(light_ink, light, dark)
    background = np.where(light_ink, dark, light)
    images = np.where(ink[:, None], foreground[:, :, None, None], background[:, :, None, None])
    images += level.noise_std * rng.standard_normal(images.shape, dtype=np.float32)
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return LabeledImages(images, labels, SYNTHETIC_CLASS_NAMES)


def make_synthetic(n_train=5000, n_test=1000, seed=0, difficulty="clear"):
    """``(train, test)`` splits of the synthetic set; see :func:`synthetic_images`."""
    return (synthetic_images(n_train, seed, train=True, difficulty=difficulty),
            synthetic_images(n_test, seed, train=False, difficulty=difficulty))
