"""Gradient buckets: the model's gradients packed into a few flat arrays, each all-reduced at once.

One all-reduce per parameter would pay the network's latency once per tensor (a ResNeXt-29 has
about 300): a ring all-reduce of an array of ``n`` bytes over ``p`` ranks takes about
``2 (p - 1) a + 2 (p - 1) / p * n / B`` seconds (latency ``a`` per message, bandwidth ``B``), so
small tensors cost mostly latency. Packing them into buckets of ``bucket_bytes`` (PyTorch's default
is 25 MB) pays the latency a few times per step, and the bandwidth term is the same.

    bucket  = [grad of parameter k, grad of parameter k-1, ...] flattened end to end
    offsets = where each parameter's gradient starts in its bucket

Parameters go into buckets in reverse order, as PyTorch does: backward produces the last layers'
gradients first, which is what lets PyTorch send a bucket while backward still runs (here
backward finishes first, then every bucket is sent; the packing is the same).
"""

from typing import NamedTuple

import numpy as np

from minigrad.tensor import Tensor

DEFAULT_BUCKET_BYTES = 25 * 2**20


class Bucket(NamedTuple):
    parameters: tuple   # the Parameters whose gradients it holds, in bucket order
    dtype: np.dtype     # every gradient in a bucket has this dtype
    numel: int          # total number of values: the length of the flat array


def plan_buckets(parameters, bucket_bytes=DEFAULT_BUCKET_BYTES):
    """Group ``parameters`` (in reverse order) into buckets of about ``bucket_bytes`` each, one dtype per bucket.

    >>> import minigrad as mg
    >>> layer = mg.nn.Linear(3, 2)              # weight: 6 float32 values, bias: 2 (last, so first in)
    >>> [b.numel for b in plan_buckets(layer.parameters(), bucket_bytes=6 * 4)]
    [2, 6]
    """
    if not bucket_bytes > 0:
        raise ValueError(f"bucket_bytes must be > 0, got {bucket_bytes}")
    buckets, current = [], []

    def close():
        if current:
            buckets.append(Bucket(tuple(current), current[0].dtype, sum(p.numel() for p in current)))
            current.clear()

    for parameter in reversed([p for p in parameters if p.requires_grad]):
        if current and (parameter.dtype != current[0].dtype
                        or (sum(p.numel() for p in current) + parameter.numel()) * parameter.dtype.itemsize > bucket_bytes):
            close()
        current.append(parameter)
    close()
    return buckets


def average_gradients(buckets, world):
    """Replace every parameter's ``.grad`` by the mean of that gradient over the ranks of ``world``.

    Per bucket: copy the gradients into one flat array (a parameter without a gradient adds
    zeros), ``world.allreduce_sum`` it, divide by ``world.size``, and hand each parameter its slice
    back as a new ``.grad`` (as backward does, never writing into a ``.grad`` a caller may hold).
    """
    for bucket in buckets:
        # BEGIN SOLUTION t16_average_gradients
        flat = np.empty(bucket.numel, dtype=bucket.dtype)
        offset = 0
        for parameter in bucket.parameters:
            size = parameter.numel()
            flat[offset:offset + size] = 0 if parameter.grad is None else parameter.grad.data.ravel()
            offset += size
        world.allreduce_sum(flat)
        flat /= world.size
        offset = 0
        for parameter in bucket.parameters:
            size = parameter.numel()
            parameter.grad = Tensor(flat[offset:offset + size].reshape(parameter.shape))
            offset += size
        # END SOLUTION
