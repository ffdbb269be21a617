"""PyTorch's ``torch.utils`` import paths, for code written as ``import minigrad as torch``."""

from minigrad.utils import data

__all__ = ["data"]
