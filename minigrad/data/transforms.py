"""Vectorised batch transforms: ``new_images = transform(images, rng)`` on ``(N, C, H, W)`` arrays.

All the randomness comes from ``rng`` (never from global state), so the same generator state
gives the same augmented batch, and a transform never writes into its input (see :mod:`minigrad.data`).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minigrad.data.loader import check_positive_int

__all__ = ["RandomCrop", "RandomHorizontalFlip", "Cutout", "ToFloat", "Normalize", "Compose"]


# ---------------------------------------------------------------------------------------------
# Batch transforms: transform(images, rng) -> images, images of shape (N, C, H, W)
# ---------------------------------------------------------------------------------------------


def _check_batch(images, transform_name):
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{transform_name} expects a NumPy array, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"{transform_name} expects a batch of shape (N, C, H, W), got shape {images.shape}"
        )


def _check_rng(rng, transform_name):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{transform_name} needs a numpy.random.Generator as its second argument "
            f"(e.g. np.random.default_rng(0)), got {type(rng).__name__}"
        )


class RandomCrop:
    """Zero-pad every image by ``padding`` pixels on each side, then cut a random
    ``size x size`` window out of it, with its own offset per image.

    CIFAR's standard augmentation is ``RandomCrop(32, padding=4)``: a 40x40 padded image and a
    32x32 crop at offsets ``0..8`` in each direction, i.e. a shift of up to 4 pixels with the
    uncovered border filled by zeros.

    >>> rng = np.random.default_rng(0)
    >>> RandomCrop(size=4, padding=2)(np.ones((8, 3, 4, 4), np.uint8), rng).shape
    (8, 3, 4, 4)
    """

    def __init__(self, size=32, padding=4):
        self.size = check_positive_int(size, "size")
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)):
            raise TypeError(f"padding must be an int, got {type(padding).__name__} {padding!r}")
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got padding={padding}")
        self.padding = int(padding)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"

    def __call__(self, images, rng):
        _check_batch(images, "RandomCrop")
        _check_rng(rng, "RandomCrop")
        n, _, height, width = images.shape
        pad = self.padding
        padded_h, padded_w = height + 2 * pad, width + 2 * pad
        if self.size > padded_h or self.size > padded_w:
            raise ValueError(
                f"RandomCrop(size={self.size}) does not fit in images of {height}x{width} "
                f"padded by {pad} to {padded_h}x{padded_w}"
            )
        padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        # windows[n, c, top, left] is the size x size crop whose corner is (top, left): a view,
        # nothing is copied until we pick one window per image below.
        windows = sliding_window_view(padded, (self.size, self.size), axis=(2, 3))
        tops = rng.integers(0, padded_h - self.size + 1, size=n)
        lefts = rng.integers(0, padded_w - self.size + 1, size=n)
        # The three index arrays pair up element-wise (image i gets tops[i], lefts[i]); NumPy
        # puts their common axis first, so the result is (N, C, size, size).
        return windows[np.arange(n), :, tops, lefts]


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``, independently per image.

    >>> images = np.arange(3).reshape(1, 1, 1, 3)
    >>> RandomHorizontalFlip(p=1.0)(images, np.random.default_rng(0))
    array([[[[2, 1, 0]]]])
    """

    def __init__(self, p=0.5):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
            raise TypeError(f"p must be a number in [0, 1], got {type(p).__name__} {p!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got p={p}")
        self.p = float(p)

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"

    def __call__(self, images, rng):
        _check_batch(images, "RandomHorizontalFlip")
        _check_rng(rng, "RandomHorizontalFlip")
        flip = rng.random(len(images)) < self.p
        flipped = images.copy()
        flipped[flip] = images[flip, :, :, ::-1]
        return flipped


class Cutout:
    """Blank out one random ``size x size`` square of every image (DeVries & Taylor 2017).

    Each image gets its own square, centred on a pixel drawn uniformly from the whole image, so
    near a border part of the square falls outside and a smaller area is blanked. The square is
    set to 0: put Cutout after :class:`Normalize` and that 0 is the training set's mean colour.
    A network that cannot count on any one part of the object being visible learns from all of
    them; on a small training set, seen for many epochs, that is a regulariser.

    >>> images = np.ones((1, 1, 4, 4), np.float32)
    >>> int(Cutout(size=2)(images, np.random.default_rng(0)).sum()) in (12, 14, 15)
    True
    """

    def __init__(self, size):
        self.size = check_positive_int(size, "size")

    def __repr__(self):
        return f"Cutout(size={self.size})"

    def __call__(self, images, rng):
        _check_batch(images, "Cutout")
        _check_rng(rng, "Cutout")
        n, _, height, width = images.shape
        centre_rows = rng.integers(0, height, size=n)
        centre_cols = rng.integers(0, width, size=n)
        # The square covers rows [centre - size // 2, centre - size // 2 + size), columns alike.
        top, left = centre_rows - self.size // 2, centre_cols - self.size // 2
        rows, cols = np.arange(height), np.arange(width)
        in_rows = (rows >= top[:, None]) & (rows < top[:, None] + self.size)   # (N, H)
        in_cols = (cols >= left[:, None]) & (cols < left[:, None] + self.size)  # (N, W)
        blank = in_rows[:, None, :, None] & in_cols[:, None, None, :]          # (N, 1, H, W)
        return np.where(blank, images.dtype.type(0), images)


class ToFloat:
    """Convert a batch to float32 and multiply by ``scale`` (default ``1/255``: uint8 pixels
    to ``[0, 1]``, as torchvision's ``ToTensor`` does).  ``rng`` is accepted and ignored.

    >>> ToFloat()(np.array([[[[0, 255]]]], np.uint8))
    array([[[[0., 1.]]]], dtype=float32)
    """

    def __init__(self, scale=1.0 / 255.0):
        self.scale = float(scale)

    def __repr__(self):
        return f"ToFloat(scale={self.scale!r})"

    def __call__(self, images, rng=None):
        _check_batch(images, "ToFloat")
        return images.astype(np.float32) * np.float32(self.scale)


class Normalize:
    """Per-channel standardisation: ``out[:, c] = (images[:, c] - mean[c]) / std[c]``.

    Expects a floating batch (put :class:`ToFloat` first for uint8 pixels) and keeps its dtype.
    ``rng`` is accepted and ignored, so Normalize fits in a :class:`Compose`.

    >>> batch = np.ones((2, 2, 1, 1), np.float32)
    >>> Normalize(mean=(0.5, 1.0), std=(0.5, 2.0))(batch)[0, :, 0, 0]
    array([1., 0.], dtype=float32)
    """

    def __init__(self, mean, std):
        mean = np.asarray(mean, dtype=np.float64)
        std = np.asarray(std, dtype=np.float64)
        if mean.ndim != 1 or std.ndim != 1 or len(mean) != len(std):
            raise ValueError(
                f"mean and std must be 1-D with one value per channel, got shapes "
                f"{mean.shape} and {std.shape}"
            )
        if np.any(std <= 0):
            raise ValueError(f"std must be positive in every channel, got std={std.tolist()}")
        self.mean = mean
        self.std = std

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"

    def __call__(self, images, rng=None):
        _check_batch(images, "Normalize")
        if not np.issubdtype(images.dtype, np.floating):
            raise TypeError(
                f"Normalize expects a floating-point batch, got dtype {images.dtype}; "
                f"put ToFloat() before it to turn uint8 pixels into floats in [0, 1]"
            )
        if images.shape[1] != len(self.mean):
            raise ValueError(
                f"Normalize has {len(self.mean)} channel statistics but the batch has "
                f"{images.shape[1]} channels (shape {images.shape})"
            )
        # (C,) -> (1, C, 1, 1) so the statistics broadcast over batch and pixels.
        mean = self.mean.astype(images.dtype).reshape(1, -1, 1, 1)
        std = self.std.astype(images.dtype).reshape(1, -1, 1, 1)
        return (images - mean) / std


class Compose:
    """Apply transforms one after another, handing each the same generator.

    >>> augment = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToFloat()])
    >>> augment(np.zeros((2, 3, 32, 32), np.uint8), np.random.default_rng(0)).dtype
    dtype('float32')
    """

    def __init__(self, transforms):
        transforms = list(transforms)
        for position, transform in enumerate(transforms):
            if not callable(transform):
                raise TypeError(
                    f"Compose: transform #{position} is not callable, got {type(transform).__name__}"
                )
        self.transforms = transforms

    def __repr__(self):
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"

    def __call__(self, images, rng):
        for transform in self.transforms:
            images = transform(images, rng)
        return images
