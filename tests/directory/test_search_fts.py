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
from directory.search_fts import DEFAULT_HASH, FTS_HASH, PERSONS, SEARCH, SHADOWS, hash_size
from storage.engine import Database
from tests.directory.helpers import field, read_lines, small, with_field, write_lines

ID_NAT, FAMILY, CITY = 2, 7, 37  # positions in the generated 56-column file
COPIED = "search index: wait for the child, copy"
PERSONS_COPIED = "persons' index: wait for the child, copy"


def _shadows(connection: sqlite3.Connection, table: str) -> dict[str, list[tuple[Any, ...]]]:
    """An index's shadow tables, the structure record's change counter apart (see :func:`_cookie`)."""
    tables = {shadow: connection.execute(f"SELECT * FROM {table}_{shadow} ORDER BY 1, 2").fetchall()
              for shadow in SHADOWS[table]}
    tables["data"] = [(row_id, block[4:] if row_id == search_fts.STRUCTURE else block)
                      for row_id, block in tables["data"]]
    return tables


def _cookie(path: Path, table: str) -> int:
    """The change counter of an index's structure record (FTS5 moves it on at each write of the structure)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        block = connection.execute(f"SELECT block FROM {table}_data WHERE id = {search_fts.STRUCTURE}").fetchone()[0]
    return int.from_bytes(block[:4], "big")


REFILL = {  # what the import does without the child: a fill from the ordered copy, a rebuild from the persons
    SEARCH: (SEARCH_FTS_EMPTY, hash_size(SEARCH, FTS_HASH), SEARCH_FTS_FILL),
    PERSONS: (hash_size(PERSONS, FTS_HASH), f"INSERT INTO {PERSONS}({PERSONS}) VALUES ('rebuild')",
              hash_size(PERSONS, DEFAULT_HASH)),
}


Shadows = dict[str, list[tuple[Any, ...]]]


def _index_and_fill(path: Path, table: str) -> tuple[Shadows, Shadows]:
    """An index's shadow tables as they are, and as the import makes them without the child (rolled back)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        imported = _shadows(connection, table)
        for statement in REFILL[table]:
            connection.execute(statement)
        connection.execute("SAVEPOINT flush")  # FTS5 writes its pending terms at a savepoint (or the commit)
        connection.execute("RELEASE flush")
        filled = _shadows(connection, table)
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
        first = next(index for index in range(10, len(lines))  # a person's first line: it gives the names
                     if field(lines[index], ID_NAT) != field(lines[index - 1], ID_NAT))
        lines[first] = with_field(lines[first], FAMILY, "ZWEIG-ÉLUARD")
        lines[20] = with_field(lines[20], CITY, "Bourg-en-Bresse")
    return write_lines(tmp_path / stamp / f"PS_LibreAcces_Personne_activite_{stamp}.txt", [header, *lines])


async def test_the_child_index_is_the_index_a_fill_gives(sqlite_url: str, tmp_path: Path) -> None:
    """The search index on a first load and a later extraction; the persons' index on the first load (later
    its triggers keep it)."""
    database = Database(sqlite_url)
    path = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        for stamp, edit in (("202611010000", False), ("202612010000", True)):
            before = {table: _cookie(path, table) for table in (SEARCH, PERSONS)}
            steps: list[str] = []
            report = await import_file(database, _extraction(tmp_path, stamp, edit), processes=2, batch=50,
                                       steps=lambda name, _seconds: steps.append(name))  # noqa: B023
            assert report.details["persons"].deactivated == edit
            assert COPIED in steps and not [step for step in steps if "INTO directory_search_fts" in step]
            assert (PERSONS_COPIED in steps) == (not edit)
            assert not [step for step in steps if "INTO directory_person_fts(directory_person_fts" in step]
            for table in (SEARCH, PERSONS) if not edit else (SEARCH,):
                imported, filled = _index_and_fill(path, table)
                assert imported["data"] and imported == filled
                assert _cookie(path, table) == before[table] + 1
        async with database.read() as session:  # the persons' index answers (its triggers kept it since)
            found = await session.execute(text("SELECT count(*) FROM directory_person_fts "
                                               "WHERE directory_person_fts MATCH 'zweig*'"))
            assert found.scalar() == 1
    finally:
        await database.dispose()


async def test_an_index_of_other_rows_is_not_copied(sqlite_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that indexed other rows than the import's tables hold (a fault): the import fills the search
    index and rebuilds the persons' itself."""
    database = Database(sqlite_url)
    path = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    start = search_fts.start

    async def missing_folded(target: Path, parts: list[str], folded: list[tuple[Any, ...]], *,
                             persons: bool = False) -> search_fts.Build:
        return await start(target, parts, [], persons=persons)  # the person listed in two places twice

    monkeypatch.setattr(search_fts, "start", missing_folded)
    try:
        steps: list[str] = []
        await import_file(database, _extraction(tmp_path, "202611010000", False), processes=2, batch=50,
                          steps=lambda name, _seconds: steps.append(name))
        assert [step for step in steps if "INTO directory_search_fts(rowid" in step]
        assert [step for step in steps if "INTO directory_person_fts(directory_person_fts" in step]
        for table in (SEARCH, PERSONS):
            imported, filled = _index_and_fill(path, table)
            assert imported["data"] and imported == filled
    finally:
        await database.dispose()


async def test_a_failed_child_fails_the_import(sqlite_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    database = Database(sqlite_url)
    start = search_fts.start

    async def broken(target: Path, parts: list[str], folded: list[tuple[Any, ...]], *,
                     persons: bool = False) -> search_fts.Build:
        return await start(target, [*parts, str(tmp_path / "missing" / "part.db")], folded, persons=persons)

    monkeypatch.setattr(search_fts, "start", broken)
    try:
        with pytest.raises(ImportFailed, match=r"building the search index failed \(sqlite3.OperationalError"):
            await import_file(database, _extraction(tmp_path, "202611010000", False), processes=2, batch=50)
        async with database.read() as session:
            assert (await session.execute(text("SELECT count(*) FROM directory_persons"))).scalar() == 0
    finally:
        await database.dispose()
