"""DistributedDataParallel and SyncBatchNorm on 2 ranks run as threads (no MPI needed; the same cases
run on MPI ranks in test_mpi.py)."""

import numpy as np
import pytest
from ddp_cases import batch, dense_model, largest_differences, train_in_one_process, train_on_ranks

import minigrad as mg
from minigrad.distributed import DistributedDataParallel, SyncBatchNorm, run_ranks


def test_two_ranks_of_16_with_sync_batchnorm_take_the_steps_of_one_process_of_32():
    images, labels = batch(32)
    expected, expected_grads = train_in_one_process(dense_model, images, labels, steps=3)
    for state, grads in run_ranks(lambda world: train_on_ranks(world, dense_model, images, labels, steps=3), 2):
        differences = largest_differences(expected, state)
        assert max(differences.values()) < 1e-10, differences
        assert max(largest_differences(expected_grads, grads).values()) < 1e-10


def test_per_rank_batchnorm_is_not_the_big_batch():
    """The check above can fail: without SyncBatchNorm each rank normalises with its own half's statistics."""
    images, labels = batch(32)
    expected, _ = train_in_one_process(dense_model, images, labels, steps=1)
    states = run_ranks(lambda world: train_on_ranks(world, dense_model, images, labels, 1, sync_batchnorm=False), 2)
    assert max(largest_differences(expected, states[0][0]).values()) > 1e-6


def test_ddp_starts_every_rank_from_rank_0s_weights_and_buffers():
    def build(world):
        model = dense_model(seed=10 + world.rank)
        model[3].running_mean[...] = world.rank  # a buffer that differs too
        return DistributedDataParallel(model, process_group=world).module.state_dict()

    rank0, rank1 = run_ranks(build, 2)
    assert largest_differences(rank0, rank1) == {name: 0.0 for name in rank0}
    assert np.array_equal(rank0["3.running_mean"], np.zeros(8))


def test_sync_batchnorm_matches_batchnorm_on_the_whole_batch_forward_backward_and_running_statistics():
    rng = np.random.default_rng(3)
    x, upstream = rng.standard_normal((12, 4, 3, 5)) * 3 + 1, rng.standard_normal((12, 4, 3, 5))
    reference = mg.nn.BatchNorm2d(4, momentum=0.3).double()
    reference.weight.data[...] = [1.0, 2.0, -1.0, 0.5]
    whole = mg.tensor(x, requires_grad=True)
    (reference(whole) * mg.tensor(upstream)).sum().backward()

    def rank(world):
        layer = SyncBatchNorm.convert_sync_batchnorm(mg.nn.BatchNorm2d(4, momentum=0.3).double(), process_group=world)
        layer.weight.data[...] = [1.0, 2.0, -1.0, 0.5]
        part = slice(world.rank * 4, world.rank * 4 + 4)  # 3 ranks of 4
        mine = mg.tensor(x[part], requires_grad=True)
        out = layer(mine)
        (out * mg.tensor(upstream[part])).sum().backward()
        grads = np.array([layer.weight.grad.data, layer.bias.grad.data])
        return out.data, mine.grad.data, world.allreduce_sum(grads), layer.running_mean, layer.running_var

    results = run_ranks(rank, 3)
    outputs = np.concatenate([r[0] for r in results])
    np.testing.assert_allclose(np.concatenate([r[1] for r in results]), whole.grad.data, atol=1e-12)
    np.testing.assert_allclose(results[0][2], [reference.weight.grad.data, reference.bias.grad.data], atol=1e-12)
    for r in results:
        np.testing.assert_allclose(r[3], reference.running_mean, atol=1e-12)
        np.testing.assert_allclose(r[4], reference.running_var, atol=1e-12)
    # the outputs: the whole batch normalised per channel
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    gamma = np.array([1.0, 2.0, -1.0, 0.5]).reshape(1, 4, 1, 1)
    np.testing.assert_allclose(outputs, gamma * (x - mean) / np.sqrt(var + 1e-5), atol=1e-12)


def test_sync_batchnorm_in_eval_mode_uses_the_running_statistics_without_communicating():
    layer = SyncBatchNorm(3).double().eval()
    layer.running_mean[...] = [1.0, 2.0, 3.0]
    x = np.ones((2, 3, 2, 2))
    np.testing.assert_allclose(layer(mg.tensor(x)).data[0, :, 0, 0], (1 - np.array([1.0, 2.0, 3.0])) / np.sqrt(1 + 1e-5))


def test_convert_sync_batchnorm_keeps_the_parameter_objects_and_every_other_layer():
    model = dense_model(seed=0)
    weight = model[3].weight
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model and isinstance(model[3], SyncBatchNorm) and model[3].weight is weight
    assert [type(m).__name__ for m in model] == ["Flatten", "Linear", "Unflatten", "SyncBatchNorm", "ReLU",
                                                 "Flatten", "Linear"]
    assert list(model.state_dict()) == list(dense_model(seed=0).state_dict())


def test_an_error_on_one_rank_reaches_the_caller_and_does_not_hang_the_others():
    def rank(world):
        if world.rank == 1:
            raise ValueError("rank 1 failed")
        world.allreduce_sum(np.zeros(3))  # would wait forever for rank 1

    with pytest.raises(ValueError, match="rank 1 failed"):
        run_ranks(rank, 2)
