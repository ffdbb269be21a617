"""Data sets (how many examples, and example ``i``) and the loader that batches them.

See :mod:`minigrad.data` for the ideas; everything here works on plain NumPy arrays.
"""

import numpy as np

from minigrad.data.collate import default_collate, to_tensors

__all__ = ["Dataset", "ArrayDataset", "TensorDataset", "DataLoader", "check_positive_int"]


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {name}={value}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------------


class Dataset:
    """A sized, indexable collection of examples (PyTorch's ``torch.utils.data.Dataset``).

    Subclasses implement ``__len__`` and ``__getitem__(index)``, returning one example: usually an
    ``(image, label)`` pair, but any structure :func:`default_collate` handles (dicts, tuples, numbers).
    :meth:`get_batch` has a slow default (one ``__getitem__`` per index, then ``default_collate``);
    a subclass that stores its examples in arrays should override it with one indexing step.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def get_batch(self, indices):
        """The examples at an integer index array, collated (for pairs: ``[images, labels]``)."""
        return default_collate([self[int(i)] for i in indices])


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


class TensorDataset(Dataset):
    """Example ``i`` is ``(t[i] for t in tensors)``: Tensors or arrays with the same first axis (PyTorch's).

    >>> ds = TensorDataset(np.zeros((4, 2)), np.arange(4))
    >>> len(ds), ds[3][1], ds.get_batch(np.array([2, 0]))[1]
    (4, np.int64(3), array([2, 0]))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor or array")
        lengths = [len(t) for t in tensors]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset needs the same number of examples in each tensor, got {lengths}")
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors[0])

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices):
        return tuple(t[indices] for t in self.tensors)


# ---------------------------------------------------------------------------------------------
# Loader
# ---------------------------------------------------------------------------------------------


class DataLoader:
    """Iterate over a data set in batches (for ``(image, label)`` examples: ``(images, labels)`` arrays).

    Args:
        dataset: anything with ``__len__`` and ``__getitem__`` (a PyTorch-style data set, a list of
            ``(image, label)`` pairs, an array).  A data set with ``get_batch(indices)`` (such as
            :class:`ArrayDataset`) hands out each batch in one step: the fast path.  Otherwise the
            examples are fetched one by one and joined by ``collate_fn``.
        batch_size: examples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: visit the examples in a new random order every epoch.
        drop_last: skip the final batch when it has fewer than ``batch_size`` examples.
        seed: makes shuffling and transforms reproducible.  ``None`` draws a seed once, at
            construction, from minigrad's default generator, so ``minigrad.manual_seed`` makes
            it reproducible; it is stored, so ``state_dict()`` still lets a run be resumed exactly.
        transform: ``transform(images, rng) -> images`` applied to every batch of images
            (labels pass through untouched), e.g. a :class:`Compose` of augmentations; needs
            batches that are ``(images, labels)`` pairs.
        as_tensors: yield every numeric array of a batch as a minigrad Tensor sharing it
            (``from_numpy``), as PyTorch's DataLoader yields torch Tensors; the default yields
            the NumPy arrays themselves (Tensor examples are always collated into Tensors).
        collate_fn: ``collate_fn(list_of_examples) -> batch``, used instead of ``get_batch``
            (PyTorch's argument; default :func:`~minigrad.data.collate.default_collate`).
        sampler: where the indices of an epoch come from instead (``__iter__`` and ``__len__``),
            e.g. ``minigrad.distributed.DistributedSampler``; not with ``shuffle``. If it has
            ``set_epoch``, the loader calls it with the epoch number as each epoch starts.

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
                 transform=None, as_tensors=False, collate_fn=None, sampler=None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"dataset must be sized and indexable (define __len__ and __getitem__, as a PyTorch "
                f"Dataset does), got {type(dataset).__name__}"
            )
        for name, function in (("transform", transform), ("collate_fn", collate_fn)):
            if function is not None and not callable(function):
                raise TypeError(f"{name} must be callable, got {type(function).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("give shuffle=True or a sampler, not both: the sampler decides the order")
        if sampler is not None and not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
            raise TypeError(f"sampler must have __iter__ and __len__, got {type(sampler).__name__}")
        if seed is None:
            from minigrad.random import as_generator  # minigrad.manual_seed seeds it

            seed = int(as_generator().integers(2**63))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        self.dataset = dataset
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.as_tensors = bool(as_tensors)
        self.collate_fn = collate_fn
        self.sampler = sampler
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self):
        """Number of batches in one epoch."""
        examples = len(self.dataset) if self.sampler is None else len(self.sampler)
        full_batches, remainder = divmod(examples, self.batch_size)
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
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
            order = np.fromiter(self.sampler, dtype=np.int64, count=len(self.sampler))
        elif self.shuffle:
            order = order_rng.permutation(num_examples)
        else:
            order = np.arange(num_examples)
        for batch_number in range(len(self)):
            indices = order[batch_number * self.batch_size:(batch_number + 1) * self.batch_size]
            if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
                batch = self.dataset.get_batch(indices)
            else:
                batch = (self.collate_fn or default_collate)([self.dataset[int(i)] for i in indices])
            if self.transform is not None:
                if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                    raise TypeError(f"transform applies to the images of (images, labels) batches; this data "
                                    f"set's batches are {type(batch).__name__}s")
                batch = type(batch)([self.transform(batch[0], transform_rng), batch[1]])
            yield to_tensors(batch) if self.as_tensors else batch

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
