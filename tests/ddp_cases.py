"""The data-parallel cases, run on threads (tests/data_parallel) and on MPI ranks (tests/data_parallel/scripts).

Each rank trains on its shard of one batch; the reference is one process on the whole batch. In
float64 they must agree to 1e-10: ``DistributedDataParallel`` averages the gradients and
``SyncBatchNorm`` normalises with the whole batch's statistics, so the arithmetic is the same up
to the order of a few sums.
"""

import threading

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.distributed import DistributedDataParallel, SyncBatchNorm


class Unflatten(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)


def dense_model(seed):
    """Linear -> BatchNorm2d -> ReLU -> Linear on (N, 3, 4, 4) images, small enough for ranks run as
    threads (ThreadWorld); its Numba-parallel kernels (BatchNorm, ReLU) are then called from two
    threads at once, which Numba's omp and tbb threading layers allow."""
    mg.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(48, 32), Unflatten((8, 2, 2)), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Flatten(), nn.Linear(32, 5)).double()


def conv_model(seed):
    """A grouped conv block with BatchNorm, as in a ResNeXt, for real MPI ranks (separate processes)."""
    mg.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).double()


_one_builder_at_a_time = threading.Lock()


def batch(size, image_shape=(3, 4, 4), seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((size,) + image_shape), rng.integers(0, 5, size)


def train_on_ranks(world, build, images, labels, steps=3, sync_batchnorm=True):
    """SGD steps with DDP on this rank's shard; every rank builds its model from another seed, so the
    start is rank 0's only through DDP's broadcast. Returns (state_dict, last gradients by name)."""
    shard = len(images) // world.size
    mine = slice(world.rank * shard, (world.rank + 1) * shard)
    with _one_builder_at_a_time:  # ranks as threads share minigrad's global generator: seed, then draw
        model = build(seed=world.rank)
    if sync_batchnorm:
        model = SyncBatchNorm.convert_sync_batchnorm(model, process_group=world)
    ddp = DistributedDataParallel(model, process_group=world, bucket_cap_mb=0.001)  # several buckets
    optimizer = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        loss = mg.functional.cross_entropy(ddp(mg.tensor(images[mine])), labels[mine])
        optimizer.zero_grad()
        loss.backward()
        ddp.average_gradients()
        optimizer.step()
    return model.state_dict(), {name: p.grad.data for name, p in model.named_parameters()}


def train_in_one_process(build, images, labels, steps=3):
    model = build(seed=0)
    optimizer = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        loss = mg.functional.cross_entropy(model(mg.tensor(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.state_dict(), {name: p.grad.data for name, p in model.named_parameters()}


def largest_differences(expected, actual):
    """{name: max |difference|} over the arrays of two dicts with the same keys."""
    assert list(expected) == list(actual), (list(expected), list(actual))
    return {name: float(np.max(np.abs(np.asarray(expected[name], dtype=np.float64) - actual[name])))
            for name in expected}
