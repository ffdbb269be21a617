"""Numba's cache of compiled kernels, kept in step with the files the kernels call into.

``@njit(cache=True)`` saves a kernel's machine code on disk and reuses it while the kernel's own
source file keeps its modification time and size. It does not look at other files: the direct
loops compile ``direct_rows.py``'s kernel rows and ``phases.py``'s copies into their own code,
and the fused BatchNorm kernels read ``SUM_BLOCK`` from ``batchnorm_cpu.py``. After an edit to
such a file (a learner trying a change, or a pull that fixes one), the kernels of the other files
would go on running the old code, with no sign of it (numba/numba#8396 proposes tracking these
dependencies upstream; not merged).

So when minigrad is imported, :func:`forget_stale_kernels` hashes the sources of the modules
that hold cached kernels. Wherever Numba keeps those kernels' cache files, a file beside them
records the hash they were compiled from; where it differs, the folder's cached kernels are
flushed (compiled afresh on first use) and the new hash is recorded. Cost: reading and hashing
about 60 KB of source at import.
"""

import hashlib
import importlib
from pathlib import Path

# Every module of minigrad that has ``@njit(cache=True)`` kernels (a test checks this list
# against the sources).
CACHED_KERNEL_MODULES = (
    "minigrad.kernels.batchnorm_cpu",
    "minigrad.kernels.batchnorm_eval_cpu",
    "minigrad.kernels.batchnorm_relu_cpu",
    "minigrad.kernels.conv.direct",
    "minigrad.kernels.conv.direct_rows",
    "minigrad.kernels.conv.phases",
    "minigrad.kernels.conv.pointwise_prange",
    "minigrad.kernels.im2col",
    "minigrad.kernels.relu_cpu",
    "minigrad.classroom.speedup",
)

STAMP_NAME = "minigrad-kernel-sources.sha256"


def sources_digest(paths):
    """SHA-256 of the files' names and contents, in a fixed order (hex)."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _caches(module):
    """The Numba caches (``FunctionCache``) of a module's cached kernels."""
    for value in vars(module).values():
        cache = getattr(value, "_cache", None)  # a Dispatcher's; plain functions under NUMBA_DISABLE_JIT have none
        if cache is not None and hasattr(cache, "cache_path") and hasattr(cache, "flush"):
            yield cache


def forget_stale_kernels(module_names=CACHED_KERNEL_MODULES):
    """Flush the cached kernels of ``module_names`` wherever their sources changed since they were
    cached; returns the cache folders flushed. Nothing is ever raised: a cache that cannot be read
    or written is left to Numba (which then compiles, as it would)."""
    try:
        modules = [importlib.import_module(name) for name in module_names]
        digest = sources_digest(module.__file__ for module in modules)
        folders = {}
        for module in modules:
            for cache in _caches(module):
                folders.setdefault(Path(cache.cache_path), []).append(cache)
    except (OSError, ImportError):
        return []
    flushed = []
    for folder, caches in folders.items():
        stamp = folder / STAMP_NAME
        try:
            if stamp.is_file() and stamp.read_text().strip() == digest:
                continue
            for cache in caches:
                cache.flush()
            folder.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest + "\n")
        except OSError:
            continue
        flushed.append(folder)
    return flushed
