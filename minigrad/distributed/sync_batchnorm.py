"""``SyncBatchNorm``: batch normalisation over the whole job's batch, not each rank's part of it.

BatchNorm is the one layer where the examples of a batch meet: with ``p`` ranks of ``B`` examples,
per-rank BatchNorm normalises with the statistics of ``B`` examples, which is *not* what one
process computes on the ``p * B`` of them (and with small ``B`` the estimate gets noisy).
SyncBatchNorm all-reduces the per-channel sums instead, so every rank uses the big batch's
statistics. Per channel, over the ``M`` values of the channel on *all* ranks (sums over ranks
marked ``allreduce``)::

    forward     M = allreduce(count)          mean = allreduce(sum x) / M
                var = allreduce(sum (x - mean)^2) / M       (two passes: no cancellation)
                xhat = (x - mean) / sqrt(var + eps),         y = gamma * xhat + beta
    backward    dx = gamma / sqrt(var + eps) * (dy - allreduce(sum dy) / M
                                                   - xhat * allreduce(sum dy * xhat) / M)
                dgamma = sum dy * xhat,   dbeta = sum dy     (this rank's sums only)

``dgamma`` and ``dbeta`` stay per rank because ``DistributedDataParallel`` averages every
parameter's gradient afterwards; summing them here too would count them ``p`` times. The formulas
are those of ``minigrad/functions/batchnorm.py`` with every sum taken over the job; they are
written here in NumPy (three all-reduces per layer per step, of 2C or C+1 values each) so that
this chapter reads on its own.
"""

import numpy as np

from minigrad.autograd import Function
from minigrad.distributed.world import default_world
from minigrad.nn.batchnorm import BatchNorm2d


class SyncBatchNormFunction(Function):
    """Training-mode batch norm with the statistics of every rank's batch (formulas in the module docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, world, eps=1e-5, momentum=0.1, running_mean=None, running_var=None):
        channels = x.shape[1]
        as_3d = x.reshape(x.shape[0], channels, -1)               # (N, C, S): S = H*W, 1 for (N, C)
        totals = np.append(as_3d.sum(axis=(0, 2), dtype=np.float64), as_3d.shape[0] * as_3d.shape[2])
        world.allreduce_sum(totals)                               # [sum x per channel..., count]
        count = totals[-1]
        if count < 2:
            raise ValueError(f"SyncBatchNorm needs more than 1 value per channel over all ranks, got {count:g}")
        mean = totals[:channels] / count
        centred = as_3d - mean[:, None]                           # float64
        var = world.allreduce_sum(np.einsum("ncs,ncs->c", centred, centred)) / count
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = centred * inv_std[:, None]
        y = xhat * weight[:, None] + bias[:, None]
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:  # the unbiased variance of all M values, as BatchNorm's
            running_var *= 1 - momentum
            running_var += momentum * var * count / (count - 1)
        ctx.save_for_backward(xhat, inv_std, weight)
        ctx.world, ctx.count = world, count
        return y.astype(x.dtype).reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_out):
        xhat, inv_std, weight = ctx.saved_tensors
        dy = grad_out.reshape(xhat.shape).astype(np.float64)
        local = np.concatenate([dy.sum(axis=(0, 2)), np.einsum("ncs,ncs->c", dy, xhat)])
        grad_bias, grad_weight = np.split(local, 2)             # this rank's sums (see the module docstring)
        total_dy, total_dy_xhat = np.split(ctx.world.allreduce_sum(local.copy()) / ctx.count, 2)
        grad_input = (weight * inv_std)[:, None] * (dy - total_dy[:, None] - xhat * total_dy_xhat[:, None])
        dtype = grad_out.dtype
        return grad_input.astype(dtype).reshape(grad_out.shape), grad_weight.astype(dtype), grad_bias.astype(dtype)


class SyncBatchNorm(BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of every rank's batch together (PyTorch's name).

    With it, ``p`` ranks of batch ``B`` compute what one process computes on batch ``p * B``: the
    same outputs, running statistics and (after ``DistributedDataParallel`` averages them)
    gradients. In evaluation it is a ``BatchNorm2d``: the running statistics, no communication.
    ``process_group`` is the world (default: the one ``minigrad.distributed.init()`` made, looked
    up at the first forward). Inputs are (N, C) or (N, C, ...).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, dtype=np.float32):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)
        self.process_group = process_group

    def forward(self, x):
        if not (self.training or not self.track_running_stats):
            return super().forward(x)
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm({self.num_features}) expects input (N, {self.num_features}, ...), "
                             f"got shape {x.shape}")
        if self.track_running_stats:
            self._set_buffer("num_batches_tracked", self.num_batches_tracked + 1)
        weight, bias = self.weight, self.bias
        if weight is None:
            from minigrad.creation import ones, zeros

            weight, bias = ones(self.num_features, dtype=x.dtype), zeros(self.num_features, dtype=x.dtype)
        return SyncBatchNormFunction.apply(x, weight, bias, world=default_world(self.process_group), eps=self.eps,
                                           momentum=self.momentum, running_mean=self.running_mean,
                                           running_var=self.running_var)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every ``BatchNorm2d`` in ``module`` by a ``SyncBatchNorm`` holding the same parameters
        and buffers (the same objects: an optimiser made before still updates them); returns the module."""
        if isinstance(module, BatchNorm2d) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                       process_group)
            if module.affine:
                sync.weight, sync.bias = module.weight, module.bias
            for name, buffer in module._buffers.items():
                sync.register_buffer(name, buffer)
            return sync.train(module.training)
        for name, child in list(module._modules.items()):
            setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module

    def extra_repr(self):
        return super().extra_repr() + ", synchronised over the ranks"
