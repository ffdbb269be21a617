"""Graded test of task t16 (see conftest.py and test_hidden_core.py for the pattern): more ranks
than the visible tests, one bucket per parameter, and a gradient missing on one rank only."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.distributed import run_ranks
from minigrad.distributed.buckets import average_gradients, plan_buckets


def four_ranks_one_bucket_per_parameter():
    """Rank r's gradients are r*3 + index, except parameter 1 on rank 2, which has none."""
    def rank(world):
        parameters = [mg.nn.Parameter(np.zeros((2, 3))), mg.nn.Parameter(np.zeros(7))]
        for index, parameter in enumerate(parameters):
            parameter.grad = None if (world.rank, index) == (2, 1) else mg.tensor(
                np.full(parameter.shape, float(world.rank * 3 + index)))
        average_gradients(plan_buckets(parameters, bucket_bytes=8), world)  # 8 bytes: one parameter each
        return [parameter.grad.data for parameter in parameters]

    return [array for pair in run_ranks(rank, 4) for array in pair]


@pytest.mark.t16_average_gradients
def test_t16_four_ranks_one_bucket_per_parameter_and_a_gradient_missing_on_rank_2(student):
    arrays = student.run(four_ranks_one_bucket_per_parameter)
    assert len(arrays) == 8
    for first, second in zip(arrays[0::2], arrays[1::2]):
        np.testing.assert_allclose(first, np.full((2, 3), np.mean([0.0, 3.0, 6.0, 9.0])))
        # a missing gradient counts as zeros, and the mean is still over all 4 ranks
        np.testing.assert_allclose(second, np.full(7, (1.0 + 4.0 + 0.0 + 10.0) / 4))
