"""minigrad.allocator: the C allocator setting."""

import platform
import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_reuse_freed_memory_takes_effect_and_memory_still_works():
    # In a fresh interpreter, so this test's process keeps the allocator's defaults.
    code = (
        "import numpy as np, minigrad\n"
        "assert minigrad.allocator.reuse_freed_memory() is True\n"
        "for size in (10**6, 10**7, 3 * 10**7):\n"
        "    a = np.full(size, 2.0); b = a * 3; del a\n"
        "    assert np.all(np.full(size, 1.0) + b == 7.0)\n"
        "print('ok')\n"
    )
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "ok"


def test_reuse_freed_memory_elsewhere_changes_nothing(monkeypatch):
    import minigrad

    monkeypatch.setattr(sys, "platform", "darwin")
    assert minigrad.allocator.reuse_freed_memory() is False
