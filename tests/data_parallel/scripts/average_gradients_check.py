"""On MPI ranks: ``average_gradients`` makes every rank's gradients the mean over the ranks (classroom task
t16, graded on 2 ranks by tests/data_parallel/test_average_gradients_task.py). Exits non-zero if not."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # tests/

from average_gradients_cases import check_average_on  # noqa: E402

from minigrad import distributed  # noqa: E402

world = distributed.init()
check_average_on(world)
print(f"rank {world.rank}: gradients averaged over {world.size} ranks", flush=True)
