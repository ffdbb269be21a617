"""On MPI ranks: every rank's DistributedSampler draws the same epoch order; the shards are disjoint
and cover the set. Rank 0 gathers what every rank saw (over MPI) and checks; exits non-zero if not."""

import numpy as np

from minigrad import distributed
from minigrad.data import ArrayDataset, DataLoader

world = distributed.init()
data = ArrayDataset(np.zeros((37, 1)), np.arange(37))
sampler = distributed.DistributedSampler(data, seed=11)  # num_replicas and rank from init()
loader = DataLoader(data, batch_size=4, sampler=sampler)
for epoch in range(2):
    seen = np.concatenate([labels for _, labels in loader])
    order = sampler.epoch_order()
    orders = world.comm.allgather(order.tolist())
    shards = world.comm.allgather(seen.tolist())
    if world.rank == 0:
        assert all(other == orders[0] for other in orders), f"epoch {epoch}: the ranks drew different orders"
        everything = sum(shards, [])
        assert sorted(set(everything)) == list(range(37)), f"epoch {epoch}: the shards miss examples"
        assert len(everything) - len(set(everything)) == len(shards) * len(shards[0]) - 37, "shards overlap"
        print(f"epoch {epoch}: {len(shards)} shards of {len(shards[0])}, one order starting {orders[0][:5]}")
