"""One split of an image data set, and the errors that reading data can raise."""

from dataclasses import dataclass

import numpy as np

IMAGE_SHAPE = (3, 32, 32)
PIXELS_PER_IMAGE = 3 * 32 * 32


@dataclass
class LabeledImages:
    """One split of an image data set.

    Attributes:
        images: uint8 array ``(N, 3, 32, 32)``, channel-first RGB.
        labels: int64 array ``(N,)`` with values in ``0 .. len(class_names)-1``.
        class_names: the name of each class, indexed by label.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {self.labels.shape}")
        self.class_names = tuple(self.class_names)

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self):
        return len(self.class_names)


class DatasetError(Exception):
    """Data on disk is corrupt, malformed or unsafe to extract (the message says which file)."""


class DownloadError(DatasetError):
    """A download failed, was cut short or did not match its checksum (nothing was kept)."""
