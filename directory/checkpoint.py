"""A large SQLite import's checkpoint, after its commit, in a thread of its own.

In SQLite's write-ahead log mode a transaction is durable, and visible to every new reader, once its commit has
written the log; copying the log into the database file (a checkpoint) is maintenance. By default the
connection that commits runs it at once, so an import of the national directory (about 1.9 GB of log at
2,000,000 lines) returned only once it had read the whole log back and written the database file: 2.0-2.3 s
more on the benchmark machine, during which the new directory was already there. PostgreSQL's import, too,
leaves its data files to the server's background checkpoints.

A SQLite import whose log has grown past :data:`DEFER_BYTES` therefore commits without the automatic checkpoint
(``PRAGMA wal_autocheckpoint = 0`` on its own connection, which the import discards) and :func:`start`s one
here: a thread with its own connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` (readers and writers go on;
what a reader still needs is copied by a later checkpoint, SQLite's own), the log's pages leaving the page cache
as they are read (:class:`directory.pagecache.Bound`). Nothing can be lost meanwhile: the log is the database
until it is copied, and a crash leaves SQLite to finish on the next open. The command line and the benchmark
wait for it (:func:`wait`) before they end, and say how long it took; the server does not wait. An import whose
log is small (the tests') checkpoints at its commit as before; the log is the file's size, so an import right
after a large one, before the log restarts, defers too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from directory.pagecache import Bound

log = logging.getLogger(__name__)

DEFER_BYTES = 256 * 1024 * 1024  # a log at least this large at the commit is checkpointed in the background
_BUSY_MS = 30_000  # what its connection waits for a lock (the database's own busy timeout)


@dataclass
class Result:
    """What a background checkpoint did: the log's frames, those copied, its duration; ``error`` if it
    failed (the log then stays, and SQLite copies it later)."""

    path: Path
    frames: int = 0
    copied: int = 0
    seconds: float = 0.0
    error: str | None = None


_running: list[tuple[threading.Thread, Result]] = []
_lock = threading.Lock()


def log_bytes(database: Path) -> int:
    """The size of ``database``'s write-ahead log now (0 without one)."""
    try:
        return os.path.getsize(f"{database}-wal")
    except OSError:
        return 0


def start(database: Path) -> Result:
    """Checkpoint ``database`` in a new (non-daemon) thread; the result is filled in when it ends. Returns once
    the thread's connection is open: the import's own may then close without checkpointing (SQLite checkpoints
    when the last connection to a database closes, in that connection's thread)."""
    result = Result(database)
    opened = threading.Event()
    thread = threading.Thread(target=_run, args=(result, opened), name="directory checkpoint")
    try:
        thread.start()
    except RuntimeError as error:  # no thread to be had: the log stays, and SQLite copies it later
        result.error = str(error)
        log.warning("directory import: no thread for the checkpoint after the commit (%s); the log stays and "
                    "SQLite copies it later", error)
        return result
    with _lock:
        _running.append((thread, result))
    opened.wait()
    return result


def wait() -> list[Result]:
    """Wait for the checkpoints :func:`start` began; return (and forget) them."""
    with _lock:
        running = list(_running)
        _running.clear()
    for thread, _ in running:
        thread.join()
    return [result for _, result in running]


def _run(result: Result, opened: threading.Event) -> None:
    started = time.perf_counter()
    wal = os.path.realpath(f"{result.path}-wal")
    try:
        try:
            connection = sqlite3.connect(result.path, timeout=_BUSY_MS / 1000)
            try:  # a first read opens the log and takes the shared lock that tells a closing connection it is
                connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # not the last one
            except BaseException:
                connection.close()
                raise
        finally:
            opened.set()
        with contextlib.closing(connection), Bound(lambda target: target == wal) as bound:
            bound.drain()  # the log is read once: its pages leave the page cache as they are read
            busy, result.frames, result.copied = _copy(connection)
    except Exception as error:  # any: the log stays, and SQLite's next checkpoint copies it
        result.error = str(error)
        result.seconds = time.perf_counter() - started
        log.warning("directory import: the checkpoint after the commit failed (%s); the log stays and SQLite "
                    "copies it later", error)
        return
    result.seconds = time.perf_counter() - started
    if busy or result.copied < result.frames:
        log.info("directory import: %d of %d log frames copied into the database file in %.1f s; SQLite copies "
                 "the rest later", max(result.copied, 0), result.frames, result.seconds)
    else:
        log.info("directory import: log copied into the database file in %.1f s (%d frames)", result.seconds,
                 result.copied)


def _copy(connection: sqlite3.Connection) -> tuple[int, int, int]:
    """One passive checkpoint: (busy, the log's frames, those copied)."""
    busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(frames), int(copied)
