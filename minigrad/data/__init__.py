"""Feeding a model: data sets, a batching loader (``loader.py``) and vectorised batch transforms
(``transforms.py``).

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

>>> import numpy as np
>>> images = np.arange(6 * 3 * 4 * 4, dtype=np.uint8).reshape(6, 3, 4, 4)
>>> labels = np.array([0, 1, 2, 0, 1, 2])
>>> loader = DataLoader(ArrayDataset(images, labels), batch_size=4, shuffle=True, seed=0)
>>> [(x.shape, y.shape) for x, y in loader]
[((4, 3, 4, 4), (4,)), ((2, 3, 4, 4), (2,))]
>>> len(loader)
2
"""

from minigrad.data.collate import default_collate
from minigrad.data.loader import ArrayDataset, DataLoader, Dataset, TensorDataset
from minigrad.data.transforms import Compose, Cutout, Normalize, RandomCrop, RandomHorizontalFlip, ToFloat

__all__ = [
    "Dataset",
    "ArrayDataset",
    "TensorDataset",
    "default_collate",
    "DataLoader",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Cutout",
    "ToFloat",
    "Normalize",
    "Compose",
]
