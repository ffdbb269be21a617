"""Training on several ranks: what ``mpiexec -n N python -m resnext_np.train`` does differently.

The command sees that ``mpiexec`` started it (the launcher puts the world size in every rank's
environment), joins the MPI world (``minigrad.distributed.init()``) and says so in its first line.
Then, with ``Ranks`` standing in for ``OneProcess`` wherever the two differ:

* every rank builds the same model; ``DistributedDataParallel`` starts them all from rank 0's
  weights and averages the gradients after each backward; each rank reads its own shard of every
  epoch (``DistributedSampler``, one shuffle for the job from ``--seed``), ``--batch-size`` images a
  step, so a step of the job learns from ranks x batch images; BatchNorm keeps per-rank
  statistics, as PyTorch's DDP. Augmentation draws from a generator of each rank's own.
* rank 0 alone prints (the others' standard output goes to /dev/null; errors still reach stderr),
  shows progress, evaluates, and owns the run folder: lock, checkpoints, metrics and curves. What
  depends on the files (which folder, the checkpoint to resume) rank 0 decides and sends, so
  ranks on machines without a shared disk agree.
* after every step one small all-reduce adds up the ranks' loss, correct answers and images (the
  progress bar and the metrics show the whole job) and another asks whether any rank must stop
  (a signal, the time budget): all ranks stop after the same step, as they must, since a rank
  that stopped alone would leave the others waiting in their next all-reduce forever.
* planning a time budget takes the slowest rank's times, measured on steps that include the
  all-reduce.
* threads: each rank gets the machine's cores divided by the ranks on that machine, unless
  ``--threads`` says otherwise (it counts per rank).
* a rank that fails ends the whole job (``MPI_Abort``) after printing its error.
"""

import contextlib
import os
import sys
import tempfile

import numpy as np

import minigrad as mg
from minigrad import distributed
from minigrad.data import DataLoader
from minigrad.distributed import MPINotInstalled, launched_world_size  # noqa: F401 (train.py imports them from here)


class OneProcess:
    """The ordinary run: every method is what a single process does."""

    size, rank, is_main = 1, 0, True

    def start(self, args):
        """Set the threads: ``--threads``, or the default (one process: minigrad's, every core); note
        the number of ranks in the arguments, which a checkpoint keeps: --resume needs as many."""
        args.ranks = self.size
        threads = args.threads if args.threads is not None else self.default_threads()
        if threads is not None:
            mg.set_num_threads(min(threads, mg.kernels.threads.MAX_THREADS))

    def default_threads(self):
        return None

    def training_loader(self, dataset, batch_size, seed, transform):
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=seed, transform=transform)

    def wrap(self, model):
        return None

    def sum_counts(self, *counts):
        return counts

    def any_rank(self, *flags):
        return flags

    def slowest(self, *seconds):
        return seconds

    def from_main(self, text):
        return text

    def checkpoint_from_main(self, checkpoint, path):
        return checkpoint

    @contextlib.contextmanager
    def main_first(self):
        yield

    def abort(self, status):
        pass


class Ranks(OneProcess):
    """One of several ranks of an MPI job (``world`` from ``minigrad.distributed.init()``)."""

    def __init__(self, world):
        self.world = world
        self.size, self.rank, self.is_main = world.size, world.rank, world.rank == 0
        self.ranks_here = world.ranks_on_this_machine()
        if not self.is_main:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)

    def start(self, args):
        """Threads, then the first line (from rank 0); only rank 0 shows progress bars."""
        super().start(args)
        print(f"data-parallel on {self.size} ranks (mpiexec), {self.ranks_here} on this machine, "
              f"{mg.get_num_threads()} thread(s) each: batch {args.batch_size} per rank, "
              f"{args.batch_size * self.size} per step; rank 0 prints and writes the run folder", flush=True)
        args.no_progress = args.no_progress or not self.is_main

    def default_threads(self):
        # ranks x threads <= cores: more threads than cores make every rank wait for the slowest.
        return max(1, mg.kernels.threads.MAX_THREADS // self.ranks_here)

    def training_loader(self, dataset, batch_size, seed, transform):
        sampler = distributed.DistributedSampler(dataset, self.size, self.rank, seed=seed)
        # Rank 0 keeps the seed's augmentation stream; the others draw their own, so that ranks do not
        # crop and flip the images of the same batch position alike.
        own_seed = seed if self.is_main else int(np.random.SeedSequence([seed, self.rank]).generate_state(1)[0])
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, seed=own_seed, transform=transform)

    def wrap(self, model):
        return distributed.DistributedDataParallel(model, process_group=self.world)

    def sum_counts(self, *counts):
        totals = self.world.allreduce_sum(np.array(counts, dtype=np.float64))
        return tuple(type(count)(total) for count, total in zip(counts, totals.tolist()))  # ints stay ints

    def any_rank(self, *flags):
        return tuple(bool(value) for value in self.world.maximum([float(flag) for flag in flags]))

    def slowest(self, *seconds):
        return tuple(float(value) for value in self.world.maximum(seconds))

    def from_main(self, text):
        data = distributed.world.broadcast_bytes(self.world, text.encode() if self.is_main else b"")
        return data.decode()

    def checkpoint_from_main(self, checkpoint, path):
        """Rank 0's checkpoint (already loaded and checked there) on every rank: its file's bytes are
        sent, and each rank reads them as ``minigrad.load`` reads any file, checksum included."""
        from resnext_np.training.checkpoint import load_checkpoint

        has_checkpoint = self.from_main("yes" if checkpoint is not None else "no") == "yes"
        if not has_checkpoint:
            return None
        data = b""
        if self.is_main:
            with open(path, "rb") as stream:
                data = stream.read()
        data = distributed.world.broadcast_bytes(self.world, data)
        if self.is_main:
            return checkpoint
        with tempfile.TemporaryDirectory() as folder:
            copy = os.path.join(folder, os.path.basename(path))
            with open(copy, "wb") as stream:
                stream.write(data)
            return load_checkpoint(copy)

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 first (it may download the data), then the others, once it is done."""
        if not self.is_main:
            self.world.barrier()
        yield
        if self.is_main:
            self.world.barrier()

    def abort(self, status):
        self.world.abort(status)


def join_ranks(environ=os.environ):
    """``Ranks`` when ``mpiexec`` started this process with more than one rank, else ``OneProcess()``.

    Raises ImportError (naming the install command) if mpiexec started it but mpi4py is missing.
    """
    if distributed.launched_world_size(environ) <= 1:
        return OneProcess()
    world = distributed.init()
    return Ranks(world) if world.size > 1 else OneProcess()
