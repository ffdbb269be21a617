"""The training command's data: the images of ``--dataset``, and loaders that augment them.

``python -m resnext_np.train`` and ``python -m resnext_np.evaluate`` both read data through these
two functions, so that evaluating a checkpoint normalises its test images exactly as its run did.
"""

import numpy as np

from minigrad.data import (
    ArrayDataset,
    Compose,
    Cutout,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToFloat,
)
from resnext_np import data as datasets
from resnext_np.training.errors import UsageError
from resnext_np.training.ranks import join_ranks

# The quick start's data: the noisy synthetic textures (resnext_np/data/synthetic.py), small enough
# that 12 epochs take about a minute and a half on 2 cores, hard enough to take those 12 epochs.
SYNTHETIC_SET = {"n_train": 1000, "n_test": 1000, "difficulty": "noisy"}


class TrainingCrop:
    """CIFAR's ``RandomCrop(32, padding=4)``; while ``low_res`` is set, ``RandomCrop(low_res_size,
    padding=0)`` instead: random smaller windows of the unpadded image (the recipe's low-resolution
    epochs, which :func:`use_low_res` switches on and off epoch by epoch)."""

    def __init__(self, low_res_size):
        self.full, self.small = RandomCrop(32, padding=4), RandomCrop(low_res_size, padding=0)
        self.low_res = False

    def __repr__(self):
        return f"TrainingCrop({self.full!r}, low-resolution epochs: {self.small!r})"

    def __call__(self, images, rng):
        return (self.small if self.low_res else self.full)(images, rng)


def use_low_res(train_loader, low_res):
    """Switch the training loader made by :func:`make_loaders` to the small crops (True) or back.
    A loader without a :class:`TrainingCrop` first has no small crops to switch to."""
    crop = getattr(train_loader.transform, "transforms", [None])[0]
    if isinstance(crop, TrainingCrop):
        crop.low_res = bool(low_res)
    elif low_res:
        raise ValueError(f"low-resolution epochs need the training loader of make_loaders, whose transform "
                         f"starts with a TrainingCrop; this one's is {train_loader.transform!r}")


def load_data(args):
    """(train_images, train_labels, test_images, test_labels, class_names): uint8 NCHW + int64."""
    try:
        train, test = datasets.load_dataset(args.dataset, root=args.data_dir, download=args.download,
                                            progress=not args.no_progress, download_hint="Pass --download",
                                            **SYNTHETIC_SET)
    except (datasets.DatasetError, OSError) as error:
        raise UsageError(str(error)) from None
    train_images, train_labels = train.images[: args.train_size], train.labels[: args.train_size]
    test_images, test_labels = test.images[: args.test_size], test.labels[: args.test_size]
    return train_images, train_labels, test_images, test_labels, train.class_names


def make_loaders(args, train_images, train_labels, test_images, test_labels, ranks=None):
    """Per-channel statistics come from the training images, so every data set is handled alike."""
    scaled = train_images.astype(np.float64) / 255.0
    mean, std = scaled.mean(axis=(0, 2, 3)), scaled.std(axis=(0, 2, 3)) + 1e-8
    augment = [TrainingCrop(args.low_res_size), RandomHorizontalFlip(0.5), ToFloat(), Normalize(mean, std)]
    if args.cutout:  # after Normalize: the blanked square takes the mean colour
        augment.append(Cutout(args.cutout))
    train_transform = Compose(augment)
    test_transform = Compose([ToFloat(), Normalize(mean, std)])
    train_loader = (ranks or join_ranks()).training_loader(ArrayDataset(train_images, train_labels), args.batch_size,
                                                           args.seed, train_transform)
    test_loader = DataLoader(ArrayDataset(test_images, test_labels), batch_size=256, transform=test_transform, seed=0)
    return train_loader, test_loader
