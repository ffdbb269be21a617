"""minigrad.allocator: the C allocator setting."""

import platform
import subprocess
import sys

import pytest


def in_a_fresh_interpreter(code):
    """What ``code`` prints, run in a new Python process (so this one keeps the allocator's defaults)."""
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.strip()


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
    assert in_a_fresh_interpreter(code) == "ok"


def test_reuse_freed_memory_elsewhere_changes_nothing(monkeypatch):
    import minigrad

    monkeypatch.setattr(sys, "platform", "darwin")
    assert minigrad.allocator.reuse_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_freed_block_is_reused_without_new_page_faults():
    # A 64 MiB block is 16,384 pages: handed back to the system on free, the next one faults on
    # (most of) them again; kept for reuse, it faults on none. (Trim threshold 0, the old bug: ~16,000.)
    code = (
        "import resource, numpy as np, minigrad\n"
        "def faults_of_a_fresh_block():\n"
        "    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    np.empty(16 * 2**20, dtype=np.float32).fill(1.0)\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before\n"
        "faults_of_a_fresh_block()\n"
        "print(max(faults_of_a_fresh_block() for _ in range(5)))\n"
    )
    faults = int(in_a_fresh_interpreter(code))
    assert faults < 500, f"{faults} page faults for a reused 64 MiB block"
