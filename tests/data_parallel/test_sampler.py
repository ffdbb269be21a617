"""DistributedSampler: disjoint shards that cover the set, one shared order per epoch, PyTorch's padding."""

import numpy as np
import pytest

from minigrad.data import ArrayDataset, DataLoader
from minigrad.distributed import DistributedSampler


def shards(size, ranks, epoch=0, **options):
    samplers = [DistributedSampler(range(size), num_replicas=ranks, rank=rank, **options) for rank in range(ranks)]
    for sampler in samplers:
        sampler.set_epoch(epoch)
    return [list(sampler) for sampler in samplers]


@pytest.mark.parametrize("size, ranks", [(12, 2), (10, 3), (7, 4), (3, 5)])
def test_shards_are_disjoint_cover_the_set_and_have_equal_length(size, ranks):
    parts = shards(size, ranks, epoch=2, seed=7)
    per_rank = -(-size // ranks)
    assert [len(part) for part in parts] == [per_rank] * ranks
    everything = sum(parts, [])
    assert sorted(set(everything)) == list(range(size))
    # Only the padding repeats indices: exactly per_rank * ranks - size of them.
    assert len(everything) - len(set(everything)) == per_rank * ranks - size


def test_padding_repeats_the_first_indices_of_the_epochs_order_as_pytorch_does():
    assert shards(10, 3, shuffle=False) == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    assert shards(10, 3, shuffle=False, drop_last=True) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


def test_every_rank_uses_the_same_order_and_each_epoch_a_new_one():
    def order(rank, epoch):
        sampler = DistributedSampler(range(50), num_replicas=4, rank=rank, seed=3)
        sampler.set_epoch(epoch)
        return sampler.epoch_order().tolist()

    assert order(0, 1) == order(1, 1) == order(3, 1)
    assert order(0, 1) != order(0, 2)
    assert sorted(order(0, 1)[:50]) == list(range(50))
    assert shards(50, 4, epoch=1, seed=3) != shards(50, 4, epoch=1, seed=4)


def test_the_loader_sets_the_epoch_so_each_epoch_is_reshuffled_and_resumes_exactly():
    data = ArrayDataset(np.zeros((20, 1)), np.arange(20))
    loader = DataLoader(data, batch_size=4, sampler=DistributedSampler(data, num_replicas=2, rank=1, seed=5))
    assert len(loader) == 3
    first, second = [np.concatenate([y for _, y in loader]).tolist() for _ in range(2)]
    assert first != second and len(first) == 10
    expected = DistributedSampler(data, num_replicas=2, rank=1, seed=5)
    expected.set_epoch(1)
    assert second == list(expected)
    loader.load_state_dict({"seed": loader.seed, "epoch": 1})
    assert np.concatenate([y for _, y in loader]).tolist() == second


@pytest.mark.parametrize("options, message", [
    (dict(num_replicas=2, rank=2), "rank must be in 0 .. 1"),
    (dict(num_replicas=0, rank=0), "num_replicas must be"),
    (dict(num_replicas=2, rank=0, seed=-1), "seed must be"),
])
def test_mistakes_are_reported_with_the_numbers(options, message):
    with pytest.raises(ValueError, match=message):
        DistributedSampler(range(4), **options)


def test_a_loader_takes_a_sampler_or_shuffle_not_both():
    data = ArrayDataset(np.zeros((4, 1)), np.arange(4))
    with pytest.raises(ValueError, match="not both"):
        DataLoader(data, shuffle=True, sampler=DistributedSampler(data, num_replicas=1, rank=0))
