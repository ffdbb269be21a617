"""``DistributedSampler``: which examples each rank sees in an epoch (PyTorch's, index for index in idea).

Every rank draws the *same* permutation of the data set (from the shared ``seed`` and the epoch
number), pads it by repeating its first indices until its length divides by the number of ranks,
then takes every ``num_replicas``-th index starting at its own rank::

    permutation (epoch e)   7 2 9 0 4 8 1 5 3 6 | 7 2        (10 examples, 3 ranks: padded to 12)
    rank 0                  7     0     1     6              indices 0, 3, 6, 9
    rank 1                    2     4     5     7            indices 1, 4, 7, 10
    rank 2                      9     8     3     2          indices 2, 5, 8, 11

So the shards are disjoint except for the padding, cover the data set, and have equal length:
every rank runs the same number of steps, which the all-reduce of each step needs (a rank with
one step more would wait forever). ``drop_last=True`` drops the tail instead of padding.

``minigrad.data.DataLoader(data, batch_size, sampler=sampler)`` calls ``sampler.set_epoch(e)``
itself at the start of each epoch (PyTorch leaves that call to you, and forgetting it repeats
epoch 0's order forever); ``set_epoch`` is there for code that drives the sampler by hand.
"""

import math

import numpy as np

from minigrad.distributed.world import get_rank, get_world_size


class DistributedSampler:
    """Indices of rank ``rank``'s shard of ``dataset`` (or of ``range(len(dataset))``), reshuffled each epoch.

    >>> shards = [list(DistributedSampler(range(10), num_replicas=3, rank=r, seed=0)) for r in range(3)]
    >>> [len(shard) for shard in shards], sorted(set(sum(shards, []))) == list(range(10))
    ([4, 4, 4], True)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"num_replicas must be an int >= 1, got {num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in 0 .. {num_replicas - 1} for num_replicas={num_replicas}, got {rank!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int (the same on every rank), got {seed!r}")
        self.dataset_size = len(dataset)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        if self.drop_last:
            self.num_samples = self.dataset_size // self.num_replicas
        else:
            self.num_samples = math.ceil(self.dataset_size / self.num_replicas)
        if self.num_samples == 0:
            raise ValueError(f"{self.dataset_size} examples cannot give each of {self.num_replicas} ranks one "
                             f"with drop_last=True")
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use epoch ``epoch``'s permutation next (the same on every rank, a new one each epoch)."""
        self.epoch = int(epoch)

    def epoch_order(self):
        """The whole job's order for this epoch, padded or cut to ``total_size``: the same on every rank."""
        if self.shuffle:
            order = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch])).permutation(self.dataset_size)
        else:
            order = np.arange(self.dataset_size)
        if self.total_size <= len(order):
            return order[:self.total_size]
        repeats = math.ceil((self.total_size - len(order)) / len(order))
        return np.concatenate([order] + [order] * repeats)[:self.total_size]

    def __iter__(self):
        return iter(self.epoch_order()[self.rank::self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples
