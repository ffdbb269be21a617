"""The functions PyTorch offers at ``torch.*`` level, for code written as ``import minigrad as torch``.

Each is one call into a Tensor method or an op in ``minigrad/functions/``; nothing new is computed here.

>>> import minigrad as mg
>>> scores = mg.tensor([[0.1, 2.0, 0.3], [5.0, 1.0, 0.0]])
>>> values, indices = mg.max(scores, 1)
>>> indices
tensor([1, 0], dtype=int64)
>>> mg.flatten(mg.zeros(2, 3, 4), 1).shape
(2, 12)
"""

from minigrad.autograd import array_hint
from minigrad.functions import elementwise, loss, shape_ops
from minigrad.tensor import Tensor

__all__ = ["flatten", "max", "argmax", "softmax", "log_softmax", "sin", "cos", "exp", "log", "sqrt", "numel",
           "stack", "cat"]


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002 - PyTorch's argument names
    return _tensor(input, "flatten").flatten(start_dim, end_dim)


def max(input, dim=None, keepdim=False):  # noqa: A001,A002
    """The maximum, or with ``dim`` the pair ``(values, indices)`` along it (see ``Tensor.max``)."""
    return _tensor(input, "max").max(dim, keepdim)


def argmax(input, dim=None, keepdim=False):  # noqa: A002
    return _tensor(input, "argmax").argmax(dim=dim, keepdim=keepdim)


def softmax(input, dim):  # noqa: A002
    return loss.softmax(_tensor(input, "softmax"), dim=dim)


def log_softmax(input, dim):  # noqa: A002
    return loss.log_softmax(_tensor(input, "log_softmax"), dim=dim)


def sin(input):  # noqa: A002
    return elementwise.sin(_tensor(input, "sin"))


def cos(input):  # noqa: A002
    return elementwise.cos(_tensor(input, "cos"))


def exp(input):  # noqa: A002
    return elementwise.exp(_tensor(input, "exp"))


def log(input):  # noqa: A002
    return elementwise.log(_tensor(input, "log"))


def sqrt(input):  # noqa: A002
    return elementwise.sqrt(_tensor(input, "sqrt"))


def numel(input):  # noqa: A002
    return _tensor(input, "numel").numel()


def stack(tensors, dim=0):
    """Join tensors of one shape along a new axis ``dim`` (recorded: reshape + concatenate)."""
    return shape_ops.stack(_tensors(tensors, "stack"), axis=dim)


def cat(tensors, dim=0):
    """Join tensors along the existing axis ``dim`` (PyTorch's ``torch.cat``)."""
    return shape_ops.concatenate(_tensors(tensors, "cat"), axis=dim)


def _tensors(values, name):
    if isinstance(values, Tensor):
        raise TypeError(f"minigrad.{name} expects a sequence of Tensors, got a single Tensor of shape {values.shape}")
    return [_tensor(value, f"{name} (element {position})") for position, value in enumerate(values)]


def _tensor(value, name):
    if not isinstance(value, Tensor):
        raise TypeError(f"minigrad.{name} expects a Tensor, got {type(value).__name__}{array_hint(value)}")
    return value
