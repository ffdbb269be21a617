"""The world: which rank am I, how many ranks are there, and the few collectives training needs.

A *rank* is one process of the job (``mpiexec -n 4`` starts ranks 0, 1, 2, 3, on one machine or
several). Data-parallel training needs only four collective operations, each called by every rank:

* ``allreduce_sum(array)``   every rank's array becomes the element-wise sum over all ranks;
* ``broadcast(array)``       every rank's array becomes rank 0's;
* ``maximum(values)``        the element-wise maximum over ranks (the slowest rank's time);
* ``barrier()``              wait until every rank is here.

``MPIWorld`` runs them on MPI through mpi4py (each is one or two mpi4py calls, written out below);
``ThreadWorld`` (``thread_world.py``) runs them between threads of one process, so the same code
can be read, stepped through and tested without MPI. Everything above this file takes a world
(``process_group``, PyTorch's name) and never imports mpi4py itself.
"""

import sys

import numpy as np

MPI_EXTRA = 'pip install -e ".[mpi]"'
_world = None  # the MPI world, once init() made it


class MPINotInstalled(ImportError):
    """mpi4py is missing: the message says how to install it."""


class MPIWorld:
    """The collectives on an mpi4py communicator (``MPI.COMM_WORLD`` unless told otherwise).

    mpi4py's capitalised methods (``Allreduce``, ``Bcast``) send NumPy buffers directly, without
    pickling; ``MPI.IN_PLACE`` lets a rank's array be both what it sends and what it receives.
    """

    def __init__(self, comm):
        from mpi4py import MPI

        self._MPI, self.comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()

    def allreduce_sum(self, array):
        self.comm.Allreduce(self._MPI.IN_PLACE, array, op=self._MPI.SUM)
        return array

    def broadcast(self, array, root=0):
        self.comm.Bcast(array, root=root)
        return array

    def maximum(self, values):
        values = np.array(values, dtype=np.float64)
        self.comm.Allreduce(self._MPI.IN_PLACE, values, op=self._MPI.MAX)
        return values

    def barrier(self):
        self.comm.Barrier()

    def ranks_on_this_machine(self):
        """How many ranks share this machine (its cores): the ranks of a shared-memory sub-communicator."""
        local = self.comm.Split_type(self._MPI.COMM_TYPE_SHARED)
        try:
            return local.Get_size()
        finally:
            local.Free()

    def abort(self, status=1):
        """End every rank of the job now (what ``mpiexec`` does when one rank calls MPI_Abort)."""
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(status)


def broadcast_bytes(world, data, root=0):
    """Rank ``root``'s bytes on every rank (``data`` is ignored elsewhere): the length, then the bytes."""
    length = np.array([len(data) if world.rank == root else 0], dtype=np.int64)
    world.broadcast(length, root)
    buffer = np.frombuffer(data, dtype=np.uint8).copy() if world.rank == root else np.empty(length[0], np.uint8)
    return world.broadcast(buffer, root).tobytes()


def init():
    """Join the MPI job this process was started in; returns the world (``.rank``, ``.size``).

    Run under ``mpiexec -n N``, every rank calls it; run as a plain ``python``, it is a world of one.
    Calling it again returns the same world. In a world of more than one rank it also makes an
    uncaught exception end the whole job (``MPI_Abort``) after printing its traceback: otherwise
    the other ranks would wait for the failed one in their next collective, forever.
    """
    global _world
    if _world is None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise MPINotInstalled(f"minigrad.distributed runs on MPI through mpi4py, which is not installed: "
                              f"{MPI_EXTRA} installs it with an MPI library (Open MPI)") from None
        _world = MPIWorld(MPI.COMM_WORLD)
        if _world.size > 1:
            _abort_the_job_on_uncaught_exceptions(_world)
    return _world


def is_initialized():
    return _world is not None


def _initialized_world():
    if _world is None:
        raise RuntimeError("call minigrad.distributed.init() first (every rank calls it once, at the start)")
    return _world


def get_rank():
    """This process's rank, 0 .. world size - 1 (PyTorch's ``torch.distributed.get_rank``)."""
    return _initialized_world().rank


def get_world_size():
    """How many ranks the job has (PyTorch's ``torch.distributed.get_world_size``)."""
    return _initialized_world().size


def default_world(process_group):
    """``process_group`` itself, or the world made by :func:`init` when it is None."""
    return _initialized_world() if process_group is None else process_group


def _abort_the_job_on_uncaught_exceptions(world):
    previous = sys.excepthook

    def print_then_abort(kind, error, traceback):
        previous(kind, error, traceback)
        print(f"rank {world.rank} of {world.size} failed; ending the whole job (MPI_Abort)", file=sys.stderr)
        world.abort(1)

    sys.excepthook = print_then_abort


# Set in every rank by the launchers: Open MPI's mpiexec, and MPICH's (and Intel MPI's) Hydra.
LAUNCHER_WORLD_SIZE = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def launched_world_size(environ):
    """The world size ``mpiexec`` announced to this process (1 when it was not started by one).

    Read from the environment, so a program can decide whether to use MPI without importing it.
    """
    for name in LAUNCHER_WORLD_SIZE:
        value = environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1
