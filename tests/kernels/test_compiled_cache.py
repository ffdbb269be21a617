"""minigrad/kernels/compiled_cache.py: Numba's cached kernels flushed when a file they call into changes."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import minigrad
from minigrad.kernels import compiled_cache

PACKAGE_ROOT = Path(minigrad.__file__).parent


def test_the_list_names_every_module_with_cached_kernels():
    found = {".".join(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
             for path in PACKAGE_ROOT.rglob("*.py") if re.search(r"^@njit\([^)]*cache=True", path.read_text(), re.MULTILINE)}
    assert found == set(compiled_cache.CACHED_KERNEL_MODULES)


def test_unchanged_sources_flush_nothing():
    compiled_cache.forget_stale_kernels()  # as at import: records the sources' hash where it was not yet
    assert compiled_cache.forget_stale_kernels() == []


HELPER = """
from numba import njit

@njit(cache=True)
def value():
    return {value}
"""

CALLER = """
from numba import njit
from pkg.helper import value

@njit(cache=True)
def kernel():
    return value() + 10
"""

RUN = """
import sys
sys.path.insert(0, sys.argv[1])
from minigrad.kernels.compiled_cache import forget_stale_kernels
if sys.argv[2] == "forget":
    forget_stale_kernels(["pkg.caller", "pkg.helper"])
from pkg.caller import kernel
print(kernel())
"""


def test_an_edit_to_a_called_file_reaches_the_cached_caller(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "caller.py").write_text(textwrap.dedent(CALLER))
    helper = package / "helper.py"
    helper.write_text(textwrap.dedent(HELPER.format(value=1)))
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}

    def run(mode):
        done = subprocess.run([sys.executable, "-c", RUN, str(tmp_path), mode], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    assert run("forget") == 11  # compiled and cached, with the hash of both files recorded
    helper.write_text(textwrap.dedent(HELPER.format(value=22)))
    assert run("keep") == 11  # Numba alone: the caller's cache predates the edit and is still used
    assert run("forget") == 32  # flushed: the caller compiled again, with the edited helper
    assert run("forget") == 32  # and cached again
