"""The world without MPI: a clear error naming the install command, launcher detection, thread ranks."""

import sys

import numpy as np
import pytest

from minigrad import distributed
from minigrad.distributed import world as world_module
from minigrad.distributed.world import broadcast_bytes


def test_init_without_mpi4py_names_the_install_command(monkeypatch):
    monkeypatch.setattr(world_module, "_world", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install -e "\.\[mpi\]"'):
        distributed.init()


def test_rank_and_world_size_before_init_say_to_call_init(monkeypatch):
    monkeypatch.setattr(world_module, "_world", None)
    with pytest.raises(RuntimeError, match=r"minigrad\.distributed\.init\(\)"):
        distributed.get_rank()


@pytest.mark.parametrize("environ, size", [({}, 1), ({"OMPI_COMM_WORLD_SIZE": "4"}, 4), ({"PMI_SIZE": "2"}, 2)])
def test_the_launchers_world_size_is_read_from_the_environment(environ, size):
    assert distributed.launched_world_size(environ) == size


def test_thread_ranks_sum_broadcast_and_take_the_maximum():
    def rank(world):
        summed = world.allreduce_sum(np.array([1.0, world.rank]))
        broadcast = world.broadcast(np.array([world.rank + 5]))
        text = broadcast_bytes(world, b"from rank 0" if world.rank == 0 else b"")
        return summed.tolist(), broadcast.tolist(), world.maximum([world.rank, -world.rank]).tolist(), text

    for result in distributed.run_ranks(rank, 3):
        assert result == ([3.0, 3.0], [5], [2.0, 0.0], b"from rank 0")
