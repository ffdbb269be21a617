"""PyTorch's ``torch.utils`` import paths, for code written as ``import minigrad as torch``."""
