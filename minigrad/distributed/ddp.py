"""``DistributedDataParallel``: every rank trains the same model on its own part of each batch.

Why averaging gradients is the same as one big batch. The loss of a batch of ``B`` examples is
the mean of their losses, so its gradient is the mean of their gradients. Split a batch of
``p * B`` examples into ``p`` shards of ``B``, one per rank::

    grad of (1/(pB)) sum_{i < pB} loss_i  =  (1/p) sum_{rank r} [ (1/B) sum_{i in shard r} grad loss_i ]
                                          =  the mean over ranks of each rank's own gradient.

So if every rank starts from the same weights, computes its shard's gradient, and the ranks then
average their gradients, every rank holds the gradient of the big batch, takes the same optimiser
step, and the weights stay identical everywhere, step after step, without ever being sent again.
(BatchNorm is the exception: it mixes the examples of a batch; per-rank statistics are the
default, as in PyTorch, and ``SyncBatchNorm`` computes the big batch's statistics.)

What it costs. The average is one all-reduce of the gradients. A *ring* all-reduce passes
``1/p`` of the array from each rank to the next, ``p - 1`` times to sum it (reduce-scatter) and
``p - 1`` times more to share the sums (all-gather): each rank sends and receives

    2 (p - 1) / p  x  the gradient's bytes          (a 161,866-parameter float32 model: 1.3 MB at p = 2)

per step, nearly twice the gradient however many ranks there are, plus ``2 (p - 1)`` message
latencies. ``docs/distributed.md`` turns that into predicted speed-ups.

Use (``mpiexec -n 4 python train.py``; every rank runs the same script)::

    world = minigrad.distributed.init()
    model = DistributedDataParallel(net)          # every rank now holds rank 0's weights and buffers
    loader = DataLoader(data, batch_size=32, sampler=DistributedSampler(data, world.size, world.rank))
    for images, labels in loader:
        loss = cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        model.average_gradients()                 # the one line that is data parallelism
        optimizer.step()                          # the same step on every rank

PyTorch starts the all-reduce from hooks inside ``backward()``, bucket by bucket, so sending
overlaps the rest of backward. minigrad's backward has no hooks, so the call is written out:
the same arithmetic, without the overlap.
"""

import numpy as np

from minigrad.autograd import no_grad
from minigrad.distributed.buckets import DEFAULT_BUCKET_BYTES, average_gradients, plan_buckets
from minigrad.distributed.world import default_world
from minigrad.nn.module import Module


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training on ``process_group`` (the world of ``init()`` by default).

    On construction, rank 0's parameters and buffers are copied to every rank. Calling it runs
    ``module`` (in training mode, after copying rank 0's buffers, e.g. BatchNorm's running
    statistics, to every rank, as PyTorch's ``broadcast_buffers=True``). After ``backward()``,
    :meth:`average_gradients` makes every ``.grad`` the mean over the ranks, in buckets of
    ``bucket_cap_mb`` megabytes (``buckets.py``). As in PyTorch, ``state_dict()`` keys start with
    ``module.``; save ``ddp.module.state_dict()`` to load into a plain model.
    """

    def __init__(self, module, process_group=None, bucket_cap_mb=25.0, broadcast_buffers=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a minigrad.nn.Module, got {type(module).__name__}")
        self.module = module
        self.process_group = default_world(process_group)
        self.broadcast_buffers = bool(broadcast_buffers)
        bucket_bytes = DEFAULT_BUCKET_BYTES if bucket_cap_mb is None else bucket_cap_mb * 2**20
        self.buckets = plan_buckets(module.parameters(), bucket_bytes)
        broadcast_parameters(module, self.process_group)
        broadcast_module_buffers(module, self.process_group)

    def forward(self, *inputs, **kwargs):
        if self.training and self.broadcast_buffers:
            broadcast_module_buffers(self.module, self.process_group)
        return self.module(*inputs, **kwargs)

    def average_gradients(self):
        """Make every parameter's ``.grad`` the mean over the ranks (one all-reduce per bucket)."""
        average_gradients(self.buckets, self.process_group)

    def extra_repr(self):
        return f"ranks={self.process_group.size}, buckets={len(self.buckets)}"


def broadcast_arrays(arrays, world):
    """Rank 0's values of ``arrays`` on every rank: one broadcast per dtype, of the arrays end to end."""
    arrays = list(arrays)
    received = [None] * len(arrays)
    for dtype in dict.fromkeys(array.dtype for array in arrays):
        positions = [i for i, array in enumerate(arrays) if array.dtype == dtype]
        flat = np.concatenate([np.ravel(arrays[i]) for i in positions])
        world.broadcast(flat)
        for i, part in zip(positions, np.split(flat, np.cumsum([arrays[i].size for i in positions])[:-1])):
            received[i] = part.reshape(arrays[i].shape)
    return received


def broadcast_parameters(module, world):
    parameters = list(module.parameters())
    with no_grad():  # copy_ is a versioned in-place write: the one way this library changes weights
        for parameter, value in zip(parameters, broadcast_arrays([p.data for p in parameters], world)):
            parameter.copy_(value)


def broadcast_module_buffers(module, world):
    owners = [(layer, name, buffer) for layer in module.modules() for name, buffer in layer._buffers.items()
              if buffer is not None]
    received = broadcast_arrays([np.asarray(buffer) for _, _, buffer in owners], world)
    for (layer, name, _), value in zip(owners, received):
        layer.register_buffer(name, value)  # buffers are plain arrays (BatchNorm's running statistics)
