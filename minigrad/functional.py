"""The functional API (PyTorch's ``torch.nn.functional``): plain functions over Tensors."""

from minigrad.functions.batchnorm import batch_norm, batch_norm_add_relu, batch_norm_relu
from minigrad.functions.conv import conv2d
from minigrad.functions.dropout import dropout
from minigrad.functions.activation import relu
from minigrad.functions.elementwise import exp, log, sigmoid, sqrt, tanh
from minigrad.functions.loss import cross_entropy, log_softmax, softmax
from minigrad.functions.matmul import matmul
from minigrad.functions.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from minigrad.functions.reduction import max, mean, sum  # noqa: A004
from minigrad.functions.shape_ops import concatenate, flatten, pad, permute, reshape, split, stack, transpose

__all__ = [
    "conv2d", "batch_norm", "batch_norm_relu", "batch_norm_add_relu", "dropout", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
    "exp", "log", "relu", "sigmoid", "sqrt", "tanh",
    "log_softmax", "softmax", "cross_entropy", "matmul", "max", "mean", "sum",
    "concatenate", "flatten", "pad", "permute", "reshape", "split", "stack", "transpose",
]
