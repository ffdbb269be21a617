"""On MPI ranks: rank 1 raises (``raise``) or waits to be killed (``kill``), while rank 0 keeps doing
all-reduces. The job must end within seconds, with rank 1's error, instead of hanging.

    mpiexec -n 2 python one_rank_fails.py raise|kill PID_FILE
"""

import os
import sys
import time

import numpy as np

from minigrad import distributed

how, pid_file = sys.argv[1], sys.argv[2]
world = distributed.init()
if world.rank == 1:
    with open(f"{pid_file}.tmp", "w") as stream:
        stream.write(str(os.getpid()))
    os.replace(f"{pid_file}.tmp", pid_file)
    if how == "raise":
        raise RuntimeError("rank 1 fails on purpose")
    time.sleep(600)  # the test kills this process
while True:
    world.allreduce_sum(np.ones(4))
    time.sleep(0.01)
