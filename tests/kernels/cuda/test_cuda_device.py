"""``minigrad.kernels.cuda.device``: the simulator's shared arrays, made safe for threads."""

import threading
import time

import numpy as np
import pytest

import minigrad.kernels.cuda.matmul  # noqa: F401  (importing it applies the fix in the simulator)
from minigrad.kernels.cuda.device import simulator_enabled

pytestmark = [
    pytest.mark.cudasim,
    pytest.mark.skipif(not simulator_enabled(), reason="only numba's CUDA simulator has this race"),
]


def test_threads_of_a_block_share_one_array_even_when_creating_it_is_slow(monkeypatch):
    # The simulator's threads of one block all ask for the array of one cuda.shared.array line.
    # Slowing np.empty widens the window between "not there yet" and "stored": unguarded, each
    # thread that arrives in it creates an array of its own (it did, in 20 rounds of 20).
    from numba.cuda.simulator import kernelapi

    create = np.empty

    def slow_create(*args, **kwargs):
        time.sleep(0.001)
        return create(*args, **kwargs)

    monkeypatch.setattr(np, "empty", slow_create)
    threads_per_block = 16
    for _ in range(5):
        shared_memory = kernelapi.FakeCUDAShared(0)
        everyone_ready = threading.Barrier(threads_per_block)
        arrays = []

        threads = [
            threading.Thread(target=_ask_for_a_tile, args=(shared_memory, everyone_ready, arrays))
            for _ in range(threads_per_block)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(arrays) == threads_per_block
        assert len({id(array) for array in arrays}) == 1


def _ask_for_a_tile(shared_memory, everyone_ready, arrays):
    everyone_ready.wait()
    arrays.append(shared_memory.array((4, 5), np.float64))


def test_one_array_per_line_as_in_numba():
    from numba.cuda.simulator import kernelapi

    shared_memory = kernelapi.FakeCUDAShared(0)

    def tiles():
        left_tile = shared_memory.array((2, 3), np.float32)
        right_tile = shared_memory.array((3, 2), np.float64)
        return left_tile, right_tile

    left_tile, right_tile = tiles()
    assert (left_tile.shape, left_tile.dtype, right_tile.shape, right_tile.dtype) == (
        (2, 3), np.float32, (3, 2), np.float64,
    )
    again = tiles()  # a second thread of the block reaches the same two lines
    assert again[0] is left_tile and again[1] is right_tile
