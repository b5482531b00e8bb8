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

A SQLite import also writes about 2 GB of write-ahead log and 1 GB of temporary database, which the kernel
would keep cached whole until the commit's checkpoint has copied the log into the database file: with the
database file itself, 6 GiB of page cache at the commit. :class:`Bound` keeps those files' cached pages to
their most recent part while the import writes them (measured: 6.2 -> 3.5-3.7 GiB in use at the commit).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

_PAGE = 4096
STEP = 128 * 1024 * 1024  # a file is trimmed each time it has grown by this much since its last trim
KEEP = 128 * 1024 * 1024  # down to its last this many bytes (the pages just written, the likeliest read again;
# keeping 512 MiB of each left 4.6 GiB in use at the commit and cost the import 10 s, keeping none 4 s)


def forget(fd: int, offset: int = 0, length: int = 0) -> None:
    """Drop the cached clean pages of ``fd`` in ``[offset, offset + length)`` (``length`` 0: to the end)."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def release(*paths: Path | str) -> None:
    """Write back and drop the cached pages of whole files this import is done with; another connection may
    still hold one open (an attached SQLite staging file): only its cache goes. Advice only: a file already
    gone, or any error, leaves it as it is."""
    if not hasattr(os, "posix_fadvise"):  # nor fdatasync, on some systems: nothing to drop, nothing to write
        return
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fdatasync(fd)  # dirty pages cannot be dropped
            forget(fd)
        except OSError:
            pass
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


def _open_files() -> Iterator[tuple[str, str]]:
    """This process's open files: a path that opens each (``/proc/self/fd/N``, which works for a deleted file
    too) and the file's own path as the kernel tells it. Nothing where ``/proc`` does not exist."""
    try:
        numbers = os.listdir("/proc/self/fd")
    except OSError:
        return
    for number in numbers:
        handle = f"/proc/self/fd/{number}"
        try:
            yield handle, os.readlink(handle)
        except OSError:  # closed meanwhile
            continue


class Bound:
    """A thread that bounds the page cache of the files ``wanted`` (by the path the kernel gives an open file)
    among those this process holds open: each time one has grown by ``step`` bytes since it was last trimmed,
    its dirty pages are written back (they cannot be dropped otherwise) and its cached pages dropped but for
    its last ``keep`` bytes. After :meth:`drain`, each round drops every clean cached page of those files (a
    SQLite commit: its checkpoint reads the log once). Advice only: an error leaves a file as it is."""

    def __init__(self, wanted: Callable[[str], bool], *, step: int = STEP, keep: int = KEEP,
                 interval: float = 0.25) -> None:
        self.wanted, self.step, self.keep, self.interval = wanted, step, keep, interval
        self.trimmed: dict[str, int] = {}  # a trimmed file's path -> how many times (for the tests)
        self._sizes: dict[tuple[int, int], int] = {}  # (device, inode) -> its size at its last trim
        self._draining = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="page cache bound", daemon=True)

    def __enter__(self) -> Bound:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def drain(self) -> None:
        """From now on the files are read, not written: each round drops all their clean cached pages."""
        self._draining = True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        """One round over the open files."""
        for handle, target in _open_files():
            if not self.wanted(target):
                continue
            try:
                fd = os.open(handle, os.O_RDONLY)
            except OSError:
                continue
            try:
                self._trim(fd, target)
            except OSError:
                pass
            finally:
                os.close(fd)

    def _trim(self, fd: int, target: str) -> None:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return
        if self._draining:
            forget(fd)
        else:
            key = (status.st_dev, status.st_ino)
            if status.st_size - self._sizes.get(key, 0) < self.step:
                return
            self._sizes[key] = status.st_size
            end = status.st_size - self.keep
            end -= end % _PAGE
            if end <= 0:
                return
            os.fdatasync(fd)
            forget(fd, 0, end)
        self.trimmed[target] = self.trimmed.get(target, 0) + 1


def sqlite_import_files(database: Path, scratch: Path) -> Callable[[str], bool]:
    """The files a SQLite import writes besides the database file (whose pages the searches read next): its
    write-ahead log, SQLite's temporary files (its temporary database: deleted, named ``etilqs_…``) and the
    import's scratch directory."""
    log = os.path.realpath(database) + "-wal"
    inside = os.path.realpath(scratch) + os.sep

    def wanted(target: str) -> bool:
        return target == log or target.startswith(inside) or os.path.basename(target).startswith("etilqs_")

    return wanted
