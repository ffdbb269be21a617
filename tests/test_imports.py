"""Every module imports first, in a fresh interpreter: no import order to get right."""

import subprocess
import sys

import pytest

FIRST_IMPORTS = [
    "minigrad.functions.conv", "minigrad.nn", "minigrad.autograd", "minigrad.tensor", "minigrad.kernels.conv",
    "minigrad.kernels.conv.direct", "minigrad.kernels.threads", "minigrad.data", "minigrad.optim", "resnext_np.block",
]


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_module_imports_first_in_a_fresh_interpreter(module):
    finished = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
