"""The small layers: Linear, ReLU, Dropout, Flatten, Identity, Sequential, CrossEntropyLoss."""

import math

import numpy as np

from minigrad import functional as F
from minigrad.nn import init
from minigrad.nn.module import Module, Parameter
from minigrad.random import as_generator
from minigrad.tensor import DEFAULT_DTYPE


class Linear(Module):
    """y = x @ W^T + b, with W of shape (out_features, in_features).

    Initialised as PyTorch: W and b uniform in [-1/sqrt(in_features), 1/sqrt(in_features)].

    Shape:
        input (..., in_features) -> output (..., out_features)

    >>> import minigrad as mg
    >>> layer = mg.nn.Linear(3, 2)
    >>> layer(mg.zeros(5, 3)).shape
    (5, 2)
    """

    def __init__(self, in_features, out_features, bias=True, dtype=DEFAULT_DTYPE, generator=None):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in_features={in_features}, out_features={out_features}")
        self.in_features, self.out_features = in_features, out_features
        generator = as_generator(generator)  # one stream for weight and bias, also from an int seed
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if bias:
            bound = 1 / math.sqrt(in_features)
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            init.uniform_(self.bias, -bound, bound, generator=generator)
        else:
            self.bias = None

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects inputs with {self.in_features} features in the last axis, got shape {x.shape}")
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Dropout(Module):
    """Zero each element with probability ``p`` while training, scaling the rest by 1 / (1 - p);
    the identity in ``eval()`` mode (PyTorch's ``nn.Dropout``).  Masks come from ``generator``, or
    minigrad's default generator (``minigrad.manual_seed``) when it is None."""

    def __init__(self, p=0.5, inplace=False, generator=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got p={p!r}")
        if inplace:
            raise ValueError("Dropout(inplace=True) is not supported: in-place ops are not recorded in the graph here")
        self.p = p
        self.generator = None if generator is None else as_generator(generator)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, generator=self.generator)

    def extra_repr(self):
        return f"p={self.p}"


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """Merge every axis from ``start_dim`` on: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


class ModuleList(Module):
    """Modules held in a list, registered as children "0", "1", ... (PyTorch's ``nn.ModuleList``).

    It has no ``forward``: the owner decides how the children are combined (summed, say).
    """

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} takes Modules, got {type(module).__name__} at position {len(self)}")
        setattr(self, str(len(self)), module)
        return self

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after the other; children are named "0", "1", ... as in PyTorch."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class CrossEntropyLoss(Module):
    """Mean cross-entropy of integer class labels under softmax(logits); see ``F.cross_entropy``."""

    def __init__(self, label_smoothing=0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
