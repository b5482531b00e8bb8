"""Files an import is done with leave the page cache (checked with util-linux's ``fincore``: the kernel's own
count of a file's cached pages), and their contents stay as they were."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import text

from directory import importer, merge, pagecache, parallel
from directory.importer import import_file
from directory.parallel import Part
from storage.engine import Database
from tests.directory.helpers import read_lines, small, write_lines

PAGE = 4096
MIB = 1024 * 1024
FOLIO = 512  # pages of the largest folio the kernel may cache a file in (2 MiB)


def _cached_pages(path: Path) -> int:
    fincore = shutil.which("fincore")
    if fincore is None:
        pytest.fail("fincore (util-linux) is needed to count a file's cached pages")
    result = subprocess.run([fincore, "--noheadings", "--raw", "--output", "PAGES", str(path)],
                            capture_output=True, text=True, check=True)
    return int(result.stdout.strip())


def _cached_file(path: Path, size: int) -> bytes:
    """A file of ``size`` bytes, written back to the disk (clean pages), then read: all its pages cached."""
    data = os.urandom(size)
    path.write_bytes(data)
    with path.open("rb") as stream:
        os.fsync(stream.fileno())
        assert stream.read() == data
    assert _cached_pages(path) == size // PAGE
    return data


def test_release_drops_a_whole_file_even_with_unwritten_pages(tmp_path: Path) -> None:
    path = tmp_path / "staging.db"
    data = _cached_file(path, 64 * PAGE)
    with path.open("r+b") as held:  # held open elsewhere (an attached database), with a page not written back
        held.seek(3 * PAGE)
        held.write(b"x" * PAGE)
        held.flush()
        pagecache.release(path)
        assert _cached_pages(path) == 0
    assert path.read_bytes() == data[:3 * PAGE] + b"x" * PAGE + data[4 * PAGE:]
    pagecache.release(tmp_path / "gone.db")  # already removed: nothing to do


def test_read_behind_drops_what_was_read_only(tmp_path: Path) -> None:
    """The kernel drops whole folios only (up to 2 MiB on this machine's kernel, ext4): a folio across either
    end of the range read stays; nothing outside the range goes."""
    path = tmp_path / "extraction.txt"
    data = _cached_file(path, 32 * MIB)
    total = 32 * MIB // PAGE
    with path.open("rb") as stream:
        behind = pagecache.ReadBehind(stream.fileno(), MIB + 100, every=8 * MIB)
        behind.advance(5 * MIB)  # less than ``every`` read: kept
        assert _cached_pages(path) == total
        behind.advance(20 * MIB + 7)  # the part's first page is dropped too (partly another part's)
        outside = total - 19 * MIB // PAGE
        assert outside <= _cached_pages(path) <= outside + 2 * FOLIO
        behind.advance(25 * MIB, last=True)  # the end of the part: the rest of what it read at once
        outside = total - 24 * MIB // PAGE
        assert outside <= _cached_pages(path) <= outside + 2 * FOLIO
    assert path.read_bytes() == data


def test_a_parsing_process_drops_the_lines_it_read(tmp_path: Path) -> None:
    """Only its own range: the header and the lines after its part stay cached."""
    generated = small(tmp_path, persons=400, seed=5).activity_path
    header, *lines = read_lines(generated)
    lines *= -(-6 * MIB // len(generated.read_bytes()))  # about 6 MiB of lines (repeated: rejected, still read)
    tail = lines[:len(lines) // 3]
    path = write_lines(tmp_path / "parts" / generated.name, [header, *lines, *tail])
    data = path.read_bytes()
    start = data.index(b"\n") + 1
    end = len(data) - sum(len(line.encode()) + 1 for line in tail)
    with path.open("rb") as stream:
        os.fsync(stream.fileno())
        stream.read()
    pages = _cached_pages(path)
    assert pages == -(-len(data) // PAGE)
    out = io.BytesIO()
    parallel.parse_part(Part(0, str(path), data[:start - 1], "utf-8", start, end, 5_000, True), out)
    assert b"Failed" not in out.getvalue()
    after = -(-(len(data) - end) // PAGE)
    assert after <= _cached_pages(path) <= after + 2 * FOLIO < pages


async def test_a_sqlite_import_releases_its_staging_files(sqlite_url: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The parsing processes' files once the structures are staged, the aggregation's once the activities are
    merged (the files themselves are deleted at the end of the import)."""
    released: list[str] = []

    def release(*paths: str) -> None:
        for path in paths:
            assert Path(path).exists()
            released.append(Path(path).name)
        pagecache.release(*paths)

    monkeypatch.setattr(importer, "release", release)
    database = Database(sqlite_url)
    try:
        generated = small(tmp_path, persons=300, seed=11)
        report = await import_file(database, generated.activity_path, processes=2, batch=50)
    finally:
        await database.dispose()
    assert report.details["activities"].inserted > 0
    assert released == ["part0.db", "part1.db", "structures.db"]


def _grow(stream: BinaryIO, size: int) -> bytes:
    """``size`` more bytes at the end of ``stream``'s file, left unwritten to the disk (dirty pages)."""
    data = os.urandom(size)
    stream.write(data)
    stream.flush()
    return data


def test_bound_trims_a_growing_file_to_its_last_pages(tmp_path: Path) -> None:
    """Each time the file has grown by ``step`` bytes, its pages but the last ``keep`` bytes' are written back
    and dropped; a file not wanted and a file that has not grown enough since its last trim are left alone."""
    log, other = tmp_path / "imp.db-wal", tmp_path / "imp.db"
    kept = _cached_file(other, 8 * MIB)
    bound = pagecache.Bound(lambda target: target == str(log.resolve()), step=4 * MIB, keep=4 * MIB)
    with log.open("w+b") as stream:
        data = _grow(stream, 3 * MIB)
        bound.tick()  # less than a step: nothing to do
        assert _cached_pages(log) == 3 * MIB // PAGE and bound.trimmed == {}
        data += _grow(stream, 13 * MIB)
        bound.tick()
        assert 4 * MIB // PAGE <= _cached_pages(log) <= 4 * MIB // PAGE + FOLIO
        assert bound.trimmed == {str(log.resolve()): 1}
        stream.seek(0)
        assert stream.read() == data  # the dropped pages were written back first: read again from the disk
        bound.tick()  # read back whole, but not grown since: left cached
        assert _cached_pages(log) == 16 * MIB // PAGE and bound.trimmed == {str(log.resolve()): 1}
        data += _grow(stream, 4 * MIB)
        bound.tick()
        assert 4 * MIB // PAGE <= _cached_pages(log) <= 4 * MIB // PAGE + FOLIO
    assert log.read_bytes() == data
    assert _cached_pages(other) == 8 * MIB // PAGE and other.read_bytes() == kept


def test_a_draining_bound_drops_every_clean_page_at_each_round(tmp_path: Path) -> None:
    log = tmp_path / "imp.db-wal"
    data = _cached_file(log, 2 * MIB)
    bound = pagecache.Bound(lambda target: target == str(log.resolve()), step=64 * MIB, keep=0)
    with log.open("rb") as stream:
        bound.tick()
        assert _cached_pages(log) == 2 * MIB // PAGE  # far from a step
        bound.drain()
        bound.tick()
        assert _cached_pages(log) == 0
        assert stream.read() == data


def test_a_bound_runs_in_its_thread_until_left(tmp_path: Path) -> None:
    log = tmp_path / "imp.db-wal"
    with log.open("w+b") as stream, pagecache.Bound(lambda target: target == str(log.resolve()),
                                                     step=MIB, keep=0, interval=0.01) as bound:
        _grow(stream, 4 * MIB)
        for _ in range(500):
            if bound.trimmed:
                break
            time.sleep(0.01)
        assert bound.trimmed == {str(log.resolve()): 1}
        assert _cached_pages(log) <= FOLIO
    rounds = dict(bound.trimmed)
    with log.open("ab") as stream:  # the thread has stopped: nothing more is trimmed
        _grow(stream, 4 * MIB)
    time.sleep(0.05)
    assert bound.trimmed == rounds


def test_the_files_a_sqlite_import_bounds(tmp_path: Path) -> None:
    wanted = pagecache.sqlite_import_files(tmp_path / "data" / "mssante.db", tmp_path / "data" / "mssante-import-x")
    base = str(tmp_path.resolve() / "data")
    assert wanted(f"{base}/mssante.db-wal")
    assert wanted(f"{base}/mssante-import-x/part0.db")
    assert wanted("/var/tmp/etilqs_1a4555cda5feeb0e (deleted)")
    assert not wanted(f"{base}/mssante.db")  # the searches read its pages next
    assert not wanted(f"{base}/mssante.db-shm")
    assert not wanted(f"{base}/mssante-import-xy/part0.db")
    assert not wanted(f"{base}/blobs/ab/cd")


async def test_a_sqlite_import_bounds_its_log_and_temporary_database(sqlite_url: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With a small page cache for the import's connection, SQLite writes its temporary database to a file;
    the import trims it and the log as they grow, and drains them at the commit; nothing is lost."""
    bounds: list[pagecache.Bound] = []

    def bound(wanted: Callable[[str], bool]) -> pagecache.Bound:
        bounds.append(pagecache.Bound(wanted, step=64 * 1024, keep=0, interval=0.005))
        return bounds[-1]

    monkeypatch.setattr(importer, "Bound", bound)
    monkeypatch.setattr(merge, "IMPORT_CACHE_KIB", 256)
    database = Database(sqlite_url)
    try:
        generated = small(tmp_path, persons=1500, seed=12)
        report = await import_file(database, generated.activity_path, processes=1, batch=200)
        async with database.engine.connect() as connection:
            persons = (await connection.execute(text("SELECT count(*) FROM directory_persons"))).scalar_one()
            activities = (await connection.execute(text("SELECT count(*) FROM directory_activities"))).scalar_one()
    finally:
        await database.dispose()
    assert persons == report.details["persons"].inserted == 1500
    assert activities == report.details["activities"].inserted > 1500
    (trimmed,) = bounds
    assert any(path.endswith(".db-wal") for path in trimmed.trimmed), trimmed.trimmed
    assert any(os.path.basename(path).startswith("etilqs_") for path in trimmed.trimmed), trimmed.trimmed
