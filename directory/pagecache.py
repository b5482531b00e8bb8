"""Files an import reads or writes once: their pages leave the kernel's page cache once the import is done with them.

An activity import streams a 650 MB extraction once and, on SQLite, writes about 2 GB of staging files (the
parsing processes' files, the structures' aggregation) that it reads once or twice; the database's own pages
and its write-ahead log are what the page cache should keep. Left alone, these files stay cached until the
kernel needs the memory, pushing out pages the database and the server use (measured on the 2-core bench
machine: past about 7 GiB of memory in use, every further GiB of page cache the import touched cost it ~11 s,
and the SQLite commit, which writes the whole new database file, paid it all: see docs/directory.md).

``POSIX_FADV_DONTNEED`` asks the kernel to drop a file's clean cached pages (dirty pages are written back
first, by :func:`release`); the file itself is unchanged and reading it again simply reads the disk. Where
the call does not exist (not Linux), nothing is dropped: only memory use differs, never a result.
"""

from __future__ import annotations

import os
from pathlib import Path

_PAGE = 4096


def forget(fd: int, offset: int = 0, length: int = 0) -> None:
    """Drop the cached clean pages of ``fd`` in ``[offset, offset + length)`` (``length`` 0: to the end)."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def release(path: Path | str) -> None:
    """Write back and drop the cached pages of a whole file this import is done with; another connection may
    still hold it open (an attached SQLite staging file): only its cache goes. A file already gone is fine."""
    if not hasattr(os, "posix_fadvise"):  # nor fdatasync, on some systems: nothing to drop, nothing to write
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fdatasync(fd)  # dirty pages cannot be dropped
        forget(fd)
    finally:
        os.close(fd)


class ReadBehind:
    """Drops, every ``every`` bytes, what a sequential reader of ``fd`` has read since ``start``."""

    def __init__(self, fd: int, start: int, every: int = 8 * 1024 * 1024) -> None:
        self.fd, self.every = fd, every
        self.dropped = start - start % _PAGE  # the kernel drops whole pages only: from a page's start

    def advance(self, position: int, *, last: bool = False) -> None:
        """The reader is at ``position``: drop the pages before it, if ``every`` bytes have gathered or this
        is the ``last`` position (the end of what it reads)."""
        if position - self.dropped >= self.every or (last and position > self.dropped):
            forget(self.fd, self.dropped, position - self.dropped)
            self.dropped = position - position % _PAGE
