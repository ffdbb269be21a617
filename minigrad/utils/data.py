"""``from minigrad.utils.data import DataLoader, Dataset, TensorDataset``: PyTorch's import path
for what lives in :mod:`minigrad.data`."""

from minigrad.data.collate import default_collate
from minigrad.data.loader import DataLoader, Dataset, TensorDataset

__all__ = ["Dataset", "DataLoader", "TensorDataset", "default_collate"]
