"""``nn.BatchNorm2d``: learnable per-channel scale and shift plus running statistics."""

import numpy as np

from minigrad.functions.batchnorm import batch_norm
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import DEFAULT_DTYPE


class BatchNorm2d(Module):
    """Batch normalisation of an (N, C, H, W) input over N, H and W, per channel (PyTorch's ``nn.BatchNorm2d``).

    In training mode it normalises with the batch's mean and biased variance and updates
    ``running_mean``/``running_var`` (with the unbiased variance) by ``momentum``; in eval mode it
    normalises with the running statistics.  See ``minigrad/functions/batchnorm.py`` for the math.

    Shape:
        - Input: (N, C, H, W);  Output: same shape.

    >>> import minigrad as mg
    >>> bn = mg.nn.BatchNorm2d(3)
    >>> y = bn(mg.randn(4, 3, 5, 5, generator=0))
    >>> bool(abs(y.data.mean()) < 1e-5)
    True
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=DEFAULT_DTYPE):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be >= 1, got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) expects input (N, {self.num_features}, H, W), got shape {x.shape}")
        if self.training and self.track_running_stats:
            self._set_buffer("num_batches_tracked", self.num_batches_tracked + 1)
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          training=self.training or not self.track_running_stats,
                          momentum=self.momentum, eps=self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
