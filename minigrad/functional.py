"""The functional API (PyTorch's ``torch.nn.functional``): plain functions over Tensors."""

from minigrad.functions.elementwise import exp, log, relu, sigmoid, sqrt, tanh
from minigrad.functions.loss import cross_entropy, log_softmax
from minigrad.functions.matmul import matmul
from minigrad.functions.reduction import max, mean, sum  # noqa: A004
from minigrad.functions.shape_ops import concatenate, flatten, pad, permute, reshape, split, stack, transpose

__all__ = [
    "exp", "log", "relu", "sigmoid", "sqrt", "tanh",
    "log_softmax", "cross_entropy", "matmul", "max", "mean", "sum",
    "concatenate", "flatten", "pad", "permute", "reshape", "split", "stack", "transpose",
]
