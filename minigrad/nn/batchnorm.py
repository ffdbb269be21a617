"""``nn.BatchNorm2d``: learnable per-channel scale and shift plus running statistics; and
``BatchNormReLU2d`` and ``BatchNormAddReLU2d``, the same layer with the ReLU that follows it (and
the shortcut added before that ReLU) fused in (a fast chapter). In ``eval()`` all three run
``BatchNormEval``: the running statistics' affine map (and the residual and ReLU) in one pass."""

import numpy as np

from minigrad.functions.batchnorm import batch_norm, batch_norm_add_relu, batch_norm_relu
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
        return self.normalise(x, *self._arguments_after_counting(x))

    def _arguments_after_counting(self, x):
        """Check the input, count the batch in training; the arguments ``normalise`` takes after x."""
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects input (N, {self.num_features}, H, W), got shape {x.shape}")
        if self.training and self.track_running_stats:
            self._set_buffer("num_batches_tracked", self.num_batches_tracked + 1)
        return (self.running_mean, self.running_var, self.weight, self.bias,
                self.training or not self.track_running_stats, self.momentum, self.eps)

    normalise = staticmethod(batch_norm)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNormReLU2d(BatchNorm2d):
    """``BatchNorm2d`` followed by ReLU, computed by one fused kernel each way in training (one pass in eval).

    Same arguments, parameters, buffers and state-dict keys as ``BatchNorm2d`` (a checkpoint of
    one loads into the other), and the output of ``relu(BatchNorm2d(x))``: the fusion only saves
    a pass over memory each way (``minigrad/kernels/batchnorm_relu_cpu.py``, with its measurement).

    >>> import minigrad as mg
    >>> x = mg.randn(4, 3, 5, 5, generator=0)
    >>> bool((mg.nn.BatchNormReLU2d(3)(x).data == mg.functional.relu(mg.nn.BatchNorm2d(3)(x)).data).all())
    True
    """

    normalise = staticmethod(batch_norm_relu)


class BatchNormAddReLU2d(BatchNorm2d):
    """``relu(BatchNorm2d(x) + residual)``, computed by one fused kernel each way in training (one pass in eval): the
    end of a ResNeXt block, where the shortcut joins. Called with two inputs, ``bn(x, residual)``.

    Same arguments, parameters, buffers and state-dict keys as ``BatchNorm2d``
    (``minigrad/kernels/batchnorm_relu_cpu.py`` says what the fusion saves).

    >>> import minigrad as mg
    >>> x, r = mg.randn(4, 3, 5, 5, generator=0), mg.randn(4, 3, 5, 5, generator=1)
    >>> fused = mg.nn.BatchNormAddReLU2d(3)(x, r)
    >>> bool(abs(fused.data - mg.functional.relu(mg.nn.BatchNorm2d(3)(x) + r).data).max() < 1e-6)
    True
    """

    def forward(self, x, residual):
        return batch_norm_add_relu(x, residual, *self._arguments_after_counting(x))
