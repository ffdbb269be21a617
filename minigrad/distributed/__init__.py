"""Data-parallel training on several processes and machines, on MPI (mpi4py): the last chapter.

Each of ``p`` ranks (processes started by ``mpiexec -n p``) holds the whole model and trains it
on its own shard of every batch; after each backward the ranks average their gradients, so all
of them take the same step and the weights stay the same everywhere. Read in this order:

1. ``world.py``           ``init()``, ``get_rank()``, ``get_world_size()``: the ranks, and the four
                          collectives (all-reduce, broadcast, maximum, barrier) on mpi4py;
                          ``thread_world.py`` runs them between threads, for tests without MPI.
2. ``sampler.py``         ``DistributedSampler``: which examples each rank sees in an epoch.
3. ``ddp.py``             ``DistributedDataParallel``: the same start everywhere, then averaged
                          gradients; why that equals one big batch, and what a ring all-reduce
                          costs. ``buckets.py`` packs the gradients into a few flat arrays.
4. ``sync_batchnorm.py``  ``SyncBatchNorm``: BatchNorm with the statistics of the whole job's batch.

``python -m resnext_np.train`` uses all of it when started by ``mpiexec`` (docs/distributed.md).
mpi4py is an optional dependency (``pip install -e ".[mpi]"``); everything here imports without it,
and ``init()`` says how to install it.
"""

from minigrad.distributed.ddp import DistributedDataParallel
from minigrad.distributed.sampler import DistributedSampler
from minigrad.distributed.sync_batchnorm import SyncBatchNorm
from minigrad.distributed.thread_world import ThreadWorld, run_ranks
from minigrad.distributed.world import (
    MPI_EXTRA,
    MPINotInstalled,
    MPIWorld,
    get_rank,
    get_world_size,
    init,
    is_initialized,
    launched_world_size,
)

__all__ = [
    "init", "is_initialized", "get_rank", "get_world_size", "launched_world_size", "MPIWorld", "MPI_EXTRA", "MPINotInstalled",
    "ThreadWorld", "run_ranks", "DistributedSampler", "DistributedDataParallel", "SyncBatchNorm",
]
