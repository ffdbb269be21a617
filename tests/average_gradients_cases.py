"""What the gradient averaging (classroom task t16) must do, checked on any world: threads or MPI ranks.

Only ``minigrad/distributed/buckets.py`` runs here (the gradients are set by hand, not by backward),
so a failure is the task's own.
"""

import numpy as np

import minigrad as mg
from minigrad.distributed.buckets import average_gradients, plan_buckets

SHAPES = [(3, 4), (4,), (2, 2, 3), (5,)]


def gradient_of(rank, index, shape, dtype):
    """Rank ``rank``'s gradient of parameter ``index``: different on every rank and every parameter."""
    return (np.arange(np.prod(shape)).reshape(shape) * (index + 1) + 10.0 * rank ** 2).astype(dtype)


def check_average_on(world, dtype=np.float64, bucket_bytes=40, missing_on_rank=None):
    """Set rank-specific gradients, average them, and compare with the mean over ranks computed by hand.

    ``bucket_bytes=40`` puts these parameters in several buckets. ``missing_on_rank``: on that rank the
    last parameter has no gradient (it counts as zeros in the mean).
    """
    parameters = [mg.nn.Parameter(np.zeros(shape, dtype=dtype)) for shape in SHAPES]
    for index, parameter in enumerate(parameters):
        parameter.grad = mg.tensor(gradient_of(world.rank, index, SHAPES[index], dtype))
    if missing_on_rank == world.rank:
        parameters[-1].grad = None
    kept = parameters[0].grad
    before = kept.data.copy()
    buckets = plan_buckets(parameters, bucket_bytes)
    assert len(buckets) > 1, "the check needs several buckets"
    average_gradients(buckets, world)
    for index, parameter in enumerate(parameters):
        contributions = [np.zeros(SHAPES[index], dtype) if (rank == missing_on_rank and index == len(SHAPES) - 1)
                         else gradient_of(rank, index, SHAPES[index], dtype) for rank in range(world.size)]
        expected = np.mean(contributions, axis=0)
        got = parameter.grad.data
        assert got.shape == SHAPES[index] and got.dtype == dtype, (index, got.shape, got.dtype)
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"parameter {index} on rank {world.rank}")
    assert np.array_equal(kept.data, before), "average_gradients wrote into a .grad the caller held"
    return True
