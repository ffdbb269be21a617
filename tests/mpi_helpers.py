"""Running a script on 2 MPI ranks from a test: ``mpiexec -n 2 python script.py`` in a subprocess.

Tests that need MPI call :func:`require_mpi` first, which skips them with a reason naming mpi4py
where it is not installed (README's environment); ``.ci/run`` installs the ``mpi`` extra and runs
``tests/data_parallel`` again, so there they run.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import minigrad

# The tree whose code this test process imports (a graded student copy may be tested by helpers
# imported from the teacher's tree): the ranks run that code, and that tree's scripts.
REPO_ROOT = Path(minigrad.__file__).resolve().parents[1]
SCRIPTS = REPO_ROOT / "tests" / "data_parallel" / "scripts"


def require_mpi():
    """Skip unless mpi4py and an ``mpiexec`` are installed; returns the mpiexec path."""
    pytest.importorskip("mpi4py", reason='mpi4py is not installed (pip install -e ".[mpi]")')
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if mpiexec is None:
        pytest.skip("mpi4py is installed but no mpiexec was found next to python or on PATH")
    return mpiexec


def mpiexec_command(ranks, *arguments):
    mpiexec = require_mpi()
    version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True).stdout
    # Open MPI refuses more ranks than cores without --oversubscribe (a CI machine may have one core).
    extra = ["--oversubscribe"] if "Open MPI" in version or "OpenRTE" in version else []
    return [mpiexec, "-n", str(ranks), *extra, sys.executable, *arguments]


def mpi_environment(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    # Open MPI refuses to run as root unless told that it is meant (containers, CI images run as root).
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", **extra)
    return env


def run_on_ranks(ranks, *arguments, timeout=120, cwd=REPO_ROOT, **popen):
    """Run ``python *arguments`` on ``ranks`` MPI ranks; the CompletedProcess (text output)."""
    return subprocess.run(mpiexec_command(ranks, *arguments), capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=mpi_environment(), **popen)


def run_script(ranks, name, *arguments, timeout=120):
    """Run ``tests/data_parallel/scripts/<name>`` on ``ranks`` ranks; fail with its output unless it exits 0."""
    result = run_on_ranks(ranks, str(SCRIPTS / name), *arguments, timeout=timeout)
    assert result.returncode == 0, f"{name} on {ranks} ranks exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result
