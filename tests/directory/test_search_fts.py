"""SQLite: the search index a child process builds from the parsing processes' staging files
(:mod:`directory.search_fts`) is, page for page, the index a fill on the import's connection gives."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from directory import search_fts
from directory.errors import ImportFailed
from directory.importer import import_file
from directory.merge import SEARCH_FTS_EMPTY, SEARCH_FTS_FILL
from directory.search_fts import SEARCH_FTS_HASH, SHADOWS
from storage.engine import Database
from tests.directory.helpers import field, read_lines, small, with_field, write_lines

ID_NAT, FAMILY, CITY = 2, 7, 37  # positions in the generated 56-column file
COPIED = "search index: wait for the child, copy"


def _shadows(connection: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The index's shadow tables, the structure record's change counter apart (see :func:`_cookie`)."""
    tables = {table: connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in SHADOWS}
    tables["directory_search_fts_data"] = [
        (row_id, block[4:] if row_id == search_fts.STRUCTURE else block)
        for row_id, block in tables["directory_search_fts_data"]
    ]
    return tables


def _cookie(path: Path) -> int:
    """The change counter of the index's structure record (FTS5 moves it on at each write of the structure)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        block = connection.execute(f"SELECT block FROM {SHADOWS[0]} WHERE id = {search_fts.STRUCTURE}").fetchone()[0]
    return int.from_bytes(block[:4], "big")


def _index_and_fill(path: Path) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    """The index's shadow tables as they are, and as a fill from the ordered copy makes them (rolled back)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        imported = _shadows(connection)
        for statement in (SEARCH_FTS_EMPTY, SEARCH_FTS_HASH, SEARCH_FTS_FILL):
            connection.execute(statement)
        filled = _shadows(connection)
        connection.execute("ROLLBACK")
    return imported, filled


def _extraction(tmp_path: Path, stamp: str, edit: bool) -> Path:
    """A generated file with a person listed in two places (folded by the import); with ``edit``, a later
    extraction of it: a person gone, a name and a city changed."""
    header, *lines = read_lines(small(tmp_path, persons=300, seed=13).activity_path)
    ids = [field(line, ID_NAT) for line in lines]
    several = next(index for index in range(len(lines) // 2, len(lines)) if ids.count(ids[index]) > 1)
    lines.insert(2, with_field(lines.pop(several), CITY, "Villefranche-sur-Saône"))
    if edit:
        gone = ids[len(ids) // 3]
        lines = [line for line in lines if field(line, ID_NAT) != gone]
        lines[10] = with_field(lines[10], FAMILY, "ZWEIG-ÉLUARD")
        lines[20] = with_field(lines[20], CITY, "Bourg-en-Bresse")
    return write_lines(tmp_path / stamp / f"PS_LibreAcces_Personne_activite_{stamp}.txt", [header, *lines])


async def test_the_child_index_is_the_index_a_fill_gives(sqlite_url: str, tmp_path: Path) -> None:
    database = Database(sqlite_url)
    path = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        for stamp, edit in (("202611010000", False), ("202612010000", True)):
            before = _cookie(path)
            steps: list[str] = []
            report = await import_file(database, _extraction(tmp_path, stamp, edit), processes=2, batch=50,
                                       steps=lambda name, _seconds: steps.append(name))  # noqa: B023
            assert report.details["persons"].deactivated == edit
            assert COPIED in steps and not [step for step in steps if "INTO directory_search_fts" in step]
            imported, filled = _index_and_fill(path)
            assert imported["directory_search_fts_data"] and imported == filled
            assert _cookie(path) == before + 1
    finally:
        await database.dispose()


async def test_an_index_of_other_rows_is_not_copied(sqlite_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that indexed other rows than the ordered copy holds (a fault): the import fills the index."""
    database = Database(sqlite_url)
    path = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    start = search_fts.start

    async def missing_folded(target: Path, parts: list[str], folded: list[tuple[Any, ...]]) -> search_fts.Build:
        return await start(target, parts, [])  # the person listed in two places is indexed twice

    monkeypatch.setattr(search_fts, "start", missing_folded)
    try:
        steps: list[str] = []
        await import_file(database, _extraction(tmp_path, "202611010000", False), processes=2, batch=50,
                          steps=lambda name, _seconds: steps.append(name))
        assert [step for step in steps if "INTO directory_search_fts(rowid" in step]
        imported, filled = _index_and_fill(path)
        assert imported == filled
    finally:
        await database.dispose()


async def test_a_failed_child_fails_the_import(sqlite_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    database = Database(sqlite_url)
    start = search_fts.start

    async def broken(target: Path, parts: list[str], folded: list[tuple[Any, ...]]) -> search_fts.Build:
        return await start(target, [*parts, str(tmp_path / "missing" / "part.db")], folded)

    monkeypatch.setattr(search_fts, "start", broken)
    try:
        with pytest.raises(ImportFailed, match=r"building the search index failed \(sqlite3.OperationalError"):
            await import_file(database, _extraction(tmp_path, "202611010000", False), processes=2, batch=50)
        async with database.read() as session:
            assert (await session.execute(text("SELECT count(*) FROM directory_persons"))).scalar() == 0
    finally:
        await database.dispose()
