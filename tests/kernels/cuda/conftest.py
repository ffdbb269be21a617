"""Shared pieces of the numba.cuda kernel tests.

These tests run the CUDA kernels on a GPU when there is one, else in numba's CUDA simulator,
which needs ``NUMBA_ENABLE_CUDASIM=1`` set before numba is first imported, so in its own process::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim tests/kernels/cuda

In the ordinary test process (no GPU, simulator off) they are skipped. Shapes and the skip
marker live in ``cuda_cases.py``, made importable below (pytest runs in importlib mode).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from minigrad.kernels.cuda.device import simulator_enabled


@pytest.fixture(autouse=True)
def _quick_thread_switches():
    """The simulator's scheduler busy-waits on its Python threads; switching the GIL often lets
    the simulated threads run instead (about 4x faster). Only in the simulator, and undone after."""
    if not simulator_enabled():
        yield
        return
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)
