"""Feeding a model: data sets, a batching loader and vectorised batch transforms.

Everything here works on plain NumPy arrays; nothing knows about ``Tensor``.  The model
code wraps a batch into a ``Tensor`` itself, so this file can be read (and tested) on its own.

Three ideas, in the order a training loop meets them:

1. A **data set** answers two questions: how many examples (``len(ds)``) and what is example
   ``i`` (``ds[i] -> (image, label)``).  :class:`ArrayDataset` keeps all images in one array
   and can hand out a whole batch with one fancy-indexing step (:meth:`Dataset.get_batch`).
2. A **loader** cuts the index range ``0 .. len(ds)-1`` into batches, in a fresh random order
   every epoch when ``shuffle=True``.  The order of epoch ``e`` depends only on ``(seed, e)``,
   so saving ``(seed, epoch)`` with a checkpoint is enough to resume training bit for bit.
3. A **transform** changes a whole batch at once.  The calling convention is::

       new_images = transform(images, rng)

   ``images`` is an ``(N, C, H, W)`` array, ``rng`` a :class:`numpy.random.Generator`.  All the
   randomness comes from ``rng`` (never from global state), so the same generator state gives
   the same augmented batch.  A transform never writes into its input.

>>> images = np.arange(6 * 3 * 4 * 4, dtype=np.uint8).reshape(6, 3, 4, 4)
>>> labels = np.array([0, 1, 2, 0, 1, 2])
>>> loader = DataLoader(ArrayDataset(images, labels), batch_size=4, shuffle=True, seed=0)
>>> [(x.shape, y.shape) for x, y in loader]
[((4, 3, 4, 4), (4,)), ((2, 3, 4, 4), (2,))]
>>> len(loader)
2
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "Dataset",
    "ArrayDataset",
    "DataLoader",
    "RandomCrop",
    "RandomHorizontalFlip",
    "ToFloat",
    "Normalize",
    "Compose",
]


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {name}={value}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------------


class Dataset:
    """A sized, indexable collection of ``(image, label)`` examples.

    Subclasses implement ``__len__`` and ``__getitem__(index) -> (image, label)``.
    :meth:`get_batch` has a slow default (one ``__getitem__`` per index, then ``np.stack``);
    a subclass that stores its examples in arrays should override it with one indexing step.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def get_batch(self, indices):
        """Return ``(images, labels)`` for an integer index array, stacked along axis 0."""
        examples = [self[int(i)] for i in indices]
        images = np.stack([image for image, _ in examples])
        labels = np.asarray([label for _, label in examples])
        return images, labels


class ArrayDataset(Dataset):
    """Images and labels held in two arrays of the same length.

    ``images`` has shape ``(N, ...)`` (for pictures ``(N, C, H, W)``); ``labels`` has shape
    ``(N,)``.  Indexing with an int gives one example, indexing with an index array gives a
    batch; both go through NumPy's fancy indexing, so a batch costs one copy, not N.

    >>> ds = ArrayDataset(np.zeros((5, 3, 2, 2)), np.arange(5))
    >>> len(ds), ds[4][1], ds.get_batch(np.array([3, 1]))[1]
    (5, np.int64(4), array([3, 1]))
    """

    def __init__(self, images, labels):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim < 1:
            raise ValueError(f"images must have a leading example axis, got shape {images.shape}")
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D (one label per image), got shape {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(
                f"images and labels must have the same length, got {len(images)} images "
                f"and {len(labels)} labels"
            )
        self.images = images
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def get_batch(self, indices):
        return self.images[indices], self.labels[indices]


# ---------------------------------------------------------------------------------------------
# Loader
# ---------------------------------------------------------------------------------------------


class DataLoader:
    """Iterate over a data set in batches of ``(images, labels)`` NumPy arrays.

    Args:
        dataset: a :class:`Dataset` (anything with ``__len__`` and ``get_batch``).
        batch_size: examples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: visit the examples in a new random order every epoch.
        drop_last: skip the final batch when it has fewer than ``batch_size`` examples.
        seed: makes shuffling and transforms reproducible.  ``None`` draws a seed from the
            operating system once, at construction; it is stored, so ``state_dict()`` still
            lets a run be resumed exactly.
        transform: ``transform(images, rng) -> images`` applied to every batch of images
            (labels pass through untouched), e.g. a :class:`Compose` of augmentations.

    Randomness: each call to ``iter(loader)`` starts the next epoch ``e`` and derives two
    independent generators from ``(seed, e)`` -- one draws the permutation, the other is handed
    to ``transform``.  Nothing depends on how many random numbers earlier epochs used, so
    ``load_state_dict({"seed": s, "epoch": e})`` reproduces epoch ``e`` exactly.

    The epoch counter advances when an epoch *starts*: a state dict saved after an epoch's loop
    resumes with the following epoch, and one saved part-way through an epoch also resumes with
    the following epoch (the interrupted one is not replayed).

    >>> ds = ArrayDataset(np.zeros((5, 1, 1, 1)), np.arange(5))
    >>> loader = DataLoader(ds, batch_size=2, shuffle=True, seed=1)
    >>> first = [y.tolist() for _, y in loader]
    >>> state = loader.state_dict()
    >>> second = [y.tolist() for _, y in loader]
    >>> loader.load_state_dict(state)
    >>> [y.tolist() for _, y in loader] == second
    True
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 transform=None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "get_batch"):
            raise TypeError(
                f"dataset must be a minigrad.data.Dataset (with __len__ and get_batch), "
                f"got {type(dataset).__name__}"
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable as transform(images, rng), "
                            f"got {type(transform).__name__}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        self.dataset = dataset
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self):
        """Number of batches in one epoch."""
        full_batches, remainder = divmod(len(self.dataset), self.batch_size)
        return full_batches if self.drop_last or remainder == 0 else full_batches + 1

    def _epoch_generators(self, epoch):
        """Two independent generators for epoch ``epoch``: (order, transform)."""
        order_seed, transform_seed = np.random.SeedSequence([self.seed, epoch]).spawn(2)
        return np.random.default_rng(order_seed), np.random.default_rng(transform_seed)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        order_rng, transform_rng = self._epoch_generators(epoch)
        num_examples = len(self.dataset)
        order = order_rng.permutation(num_examples) if self.shuffle else np.arange(num_examples)
        for batch_number in range(len(self)):
            indices = order[batch_number * self.batch_size:(batch_number + 1) * self.batch_size]
            images, labels = self.dataset.get_batch(indices)
            if self.transform is not None:
                images = self.transform(images, transform_rng)
            yield images, labels

    def state_dict(self):
        """What it takes to continue the same sequence of epochs: ``{"seed", "epoch"}``."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`; the next ``iter(loader)`` runs epoch ``state["epoch"]``."""
        missing = {"seed", "epoch"} - set(state)
        if missing:
            raise ValueError(f"DataLoader state is missing {sorted(missing)}, got keys {sorted(state)}")
        seed, epoch = state["seed"], state["epoch"]
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"state['seed'] must be a non-negative int, got {seed!r}")
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"state['epoch'] must be a non-negative int, got {epoch!r}")
        self.seed = int(seed)
        self.epoch = int(epoch)


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
        self.size = _check_positive_int(size, "size")
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
