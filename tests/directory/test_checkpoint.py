"""A large SQLite import commits without copying its log into the database file, and a thread of its own does that
copy afterwards (``directory.checkpoint``). What the database file itself holds is read with SQLite's
``immutable`` open, which ignores the log."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from directory import checkpoint
from directory.importer import import_file
from directory.merge import ACTIVITY_STREAMS, Merger
from mssante.cli import main
from storage.engine import Database, sqlite_file
from tests.directory.helpers import small


def _file_persons(path: Path) -> int:
    """The persons the database file itself holds (its log ignored)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM directory_persons").fetchone()[0])


def _persons(path: Path) -> int:
    """The persons any reader sees (the file and its log)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM directory_persons").fetchone()[0])


def _sqlite_file(url: str) -> Path:
    path = sqlite_file(url)
    assert path is not None, url
    return Path(path)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The background checkpoint waits for the test before it copies anything."""
    opened = threading.Event()
    copy = checkpoint._copy

    def held(connection: sqlite3.Connection) -> tuple[int, int, int]:
        opened.wait()
        return copy(connection)

    monkeypatch.setattr(checkpoint, "_copy", held)
    yield opened
    opened.set()  # a failed test leaves no thread waiting
    checkpoint.wait()


async def test_a_large_import_is_durable_before_its_log_is_copied(sqlite_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  gate: threading.Event) -> None:
    monkeypatch.setattr(checkpoint, "DEFER_BYTES", 0)  # every import counts as large
    prepare = Merger.prepare

    async def eager(self: Merger, streams: int = ACTIVITY_STREAMS) -> None:  # its commit would checkpoint at once
        await prepare(self, streams)  # (a small import's log is below SQLite's 1,000 pages)
        await self.run("PRAGMA wal_autocheckpoint = 1")

    monkeypatch.setattr(Merger, "prepare", eager)
    path = _sqlite_file(sqlite_url)
    generated = small(tmp_path, persons=60)
    database = Database(sqlite_url)
    try:
        report = await import_file(database, generated.activity_path)
    finally:
        await database.dispose()
    assert report.checkpoint is not None and report.inserted == 60
    assert _persons(path) == 60  # committed: every new reader sees it
    assert _file_persons(path) == 0 and checkpoint.log_bytes(path) > 0  # still in the log only
    gate.set()
    done = checkpoint.wait()
    assert done == [report.checkpoint] and done[0].error is None
    assert done[0].frames > 0 and done[0].copied == done[0].frames and done[0].seconds > 0
    assert _file_persons(path) == 60
    assert checkpoint.wait() == []  # forgotten once waited for


async def test_a_small_import_copies_its_log_at_its_commit(sqlite_url: str, tmp_path: Path) -> None:
    path = _sqlite_file(sqlite_url)
    database = Database(sqlite_url)
    try:
        report = await import_file(database, small(tmp_path, persons=30).activity_path)
    finally:
        await database.dispose()
    assert report.checkpoint is None and checkpoint.wait() == []
    assert _file_persons(path) == 30


async def test_a_failed_checkpoint_loses_nothing(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(checkpoint, "DEFER_BYTES", 0)

    def failing(_connection: sqlite3.Connection) -> tuple[int, int, int]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(checkpoint, "_copy", failing)
    path = _sqlite_file(sqlite_url)
    database = Database(sqlite_url)
    try:
        with caplog.at_level(logging.INFO, logger="directory.checkpoint"):
            await import_file(database, small(tmp_path, persons=25).activity_path)
            [done] = checkpoint.wait()
    finally:
        await database.dispose()
    assert done.error == "disk I/O error" and done.copied == 0
    assert "the checkpoint after the commit failed (disk I/O error)" in caplog.text
    assert _persons(path) == 25  # in the log, which SQLite copies at its next checkpoint
    with contextlib.closing(sqlite3.connect(path)) as connection:
        busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, copied) == (0, frames) and _file_persons(path) == 25


def test_the_command_line_waits_for_the_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "DEFER_BYTES", 0)
    monkeypatch.setenv("MSSANTE_DATA_DIR", str(tmp_path / "data"))
    generated = small(tmp_path, persons=20)
    imported = CliRunner().invoke(main, ["directory", "import", str(generated.activity_path),
                                         str(generated.mailbox_path)])
    assert imported.exit_code == 0, imported.output
    assert imported.output.count("log copied into the database file in ") == 2
    assert checkpoint.wait() == []


def test_no_thread_for_the_copy_is_no_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(_thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refused)
    result = checkpoint.start(tmp_path / "db.sqlite")
    assert result.error == "can't start new thread" and checkpoint.wait() == []
