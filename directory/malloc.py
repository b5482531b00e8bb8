"""glibc's malloc in the import's processes: a block of at least :data:`THRESHOLD` bytes gets a mapping of its own,
given back to the system when it is freed.

By default glibc raises that threshold to the size of the largest block freed so far (up to 32 MiB): after the
first batch of a few MiB, every later one comes from the heap and stays there once freed, as memory the process
holds but does not use. An import moves batches of several MiB through its processes all along (the parsing
processes' frames and ``COPY`` text, the import process's copy of that text on its way to PostgreSQL), so a fixed
threshold keeps them to what they use (measured on 10,000-line batches: a parsing process 150-160 MiB instead
of 165-185, the import process 115 instead of 150, the same CPU). Other C libraries ignore both means.

polars brings its own allocator (jemalloc, whose settings are read from ``_RJEM_MALLOC_CONF``), which glibc's
threshold does not reach. By default it spreads a process's allocations over several arenas (4 per core, each
thread taking one), each keeping freed pages of its own, though a helper process runs polars on one thread
(``POLARS_MAX_THREADS=1``) besides Python's. One arena (:data:`JEMALLOC`) holds 16-36 MiB less in a parsing
process (its peak 196 MiB instead of 215-232 at 15,000 lines a batch, 175 instead of 187-195 at 10,000, the
same CPU), which pays for larger batches (``directory.importer.BATCH``). polars sets the variable itself when it
is loaded (its defaults first, then what the variable held), so a helper's settings are added in front of the
import process's own (:func:`jemalloc`).
"""

from __future__ import annotations

import ctypes
import functools

THRESHOLD = 128 * 1024  # glibc's own starting value, kept fixed
ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(THRESHOLD)}  # for a process started by the import
_M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h)
JEMALLOC = "narenas:1"  # polars' allocator in a helper process: one arena
JEMALLOC_VARIABLE = "_RJEM_MALLOC_CONF"


def jemalloc(inherited: str | None) -> str:
    """A helper process's jemalloc settings: one arena, then those of the import's environment (an operator's,
    or polars' own defaults once polars is loaded in the import process: it sets the variable), which win."""
    return ",".join(filter(None, [JEMALLOC, inherited]))


@functools.cache
def fix_threshold() -> bool:
    """Fix the threshold in this process, once (the import's, not started with :data:`ENVIRONMENT`); whether
    the C library took it (False without glibc). Process-wide and lasting: a process that imports (the command
    line, the demo server of ``make run``) keeps glibc's starting threshold from then on, so a later block of
    128 KiB or more always gets its own mapping (a system call each, and memory given back at once)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on, whichever file it is
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
