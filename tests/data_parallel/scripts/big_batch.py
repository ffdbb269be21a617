"""On MPI ranks: 2 ranks x batch 16 (DDP + SyncBatchNorm, a grouped conv model, float64) take the same
3 SGD steps as one process on batch 32, to 1e-10; the averaged gradients equal the one-process ones.
Run by tests/data_parallel/test_mpi.py as ``mpiexec -n 2 python big_batch.py``; exits non-zero on a mismatch."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # tests/, for ddp_cases

from ddp_cases import batch, conv_model, largest_differences, train_in_one_process, train_on_ranks  # noqa: E402

from minigrad import distributed  # noqa: E402

world = distributed.init()
images, labels = batch(16 * world.size, image_shape=(3, 6, 6))
state, grads = train_on_ranks(world, conv_model, images, labels, steps=3)
expected, expected_grads = train_in_one_process(conv_model, images, labels, steps=3)
weights, gradients = largest_differences(expected, state), largest_differences(expected_grads, grads)
print(f"rank {world.rank}: largest weight difference {max(weights.values()):.3g}, "
      f"gradient {max(gradients.values()):.3g}", flush=True)
assert max(weights.values()) < 1e-10, weights
assert max(gradients.values()) < 1e-10, gradients
