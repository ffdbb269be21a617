"""The C allocator: keep freed memory in the process for reuse (glibc's malloc, on Linux)."""

import ctypes
import sys

__all__ = ["reuse_freed_memory"]

INT_MAX = 2**31 - 1  # the largest value mallopt's C int argument holds


def reuse_freed_memory():
    """Ask the C allocator (glibc's malloc, on Linux) to keep freed memory for reuse.

    A training step allocates and frees hundreds of activation-sized arrays (MBs each). By
    default glibc hands each large block straight back to the operating system when it is
    freed and maps fresh pages for the next one, which the kernel must zero page by page on
    first touch. This raises malloc's mmap and trim thresholds so that freed blocks stay in the
    process and are reused: the same numbers, about the same peak memory, far fewer page
    faults. PyTorch's CPU tuning guide gives the same advice (a caching allocator such as
    jemalloc).

    ``mallopt`` takes a C ``int``: a threshold above ``INT_MAX`` does not fit. Until December
    2026 this asked for a trim threshold of ``1 << 40``, which ctypes silently cut to 0, so glibc
    gave memory back on *every* free: 8 MiB arrays still cost about 2,000 page faults each, and a
    training step of resnext11_4x8d_w1 at batch 32 took about 28,000 faults and 70 ms of kernel
    time. With ``INT_MAX`` (2 GiB) it takes a handful (``tests/test_allocator.py`` counts them).

    ``import minigrad`` calls it, for every program that uses minigrad. Returns True if the setting
    took, False where there is no glibc (other platforms: nothing changes). It lasts for the life of
    the process.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
    took_mmap = mallopt(M_MMAP_THRESHOLD, 1 << 30)  # blocks up to 1 GiB come from the reusable heap
    took_trim = mallopt(M_TRIM_THRESHOLD, INT_MAX)  # free memory at the heap's top is given back only past 2 GiB
    return bool(took_mmap and took_trim)
