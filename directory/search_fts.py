"""SQLite: the search's word index (``directory_search_fts``), and on a first load the persons' full-text index
(``directory_person_fts``), built by a child process off the import's connection, and copied in.

The index holds each active person's words (``doc || ' ' || facets``) under their display position (``pos``:
the rank of their ``sort_key``, see :data:`directory.merge.SEARCH_FILL`). After a merge the active persons are
exactly the staged ones, with the staged values (the merge updates every column of a listed person, inserts the
new ones and deactivates the others), so the index is a function of the staged persons alone: a child process
(``python -m directory.search_fts``) builds it from the parsing processes' staging files while the import
process merges the persons (building it took the import 5-6 s at 2,000,000 lines). The persons listed in
several places are folded by the import (:meth:`directory.merge.Merger.fold_persons`), which hands the child
their folded rows. The child fills the same FTS5 table, in the same order and with the same term hash size, in
a file of its own that the import attached, empty, before its transaction began; the import then replaces its
index's shadow tables (``_data``, ``_idx``, ``_config``: the contentless table has no others) with the child's,
which gives the very pages a fill on the import's connection would give (a test compares them), but for the
structure record's change counter, which is moved on from the replaced index's as a write through FTS5 moves
it. Other connections re-read the index and its configuration after the commit, as after any write of another
connection (SQLite's data version, then that counter).

On a first load (no person yet) the child first builds the persons' index the same way: the import inserts the
persons in idNat order into the empty table, so their ids are 1, 2, … in that order (SQLite gives a new row one
more than the largest rowid, 1 in an empty table); the child indexes each ``doc`` under that number, as FTS5's
``rebuild`` would from the table, writes a line on its standard output when done, and the import checks the
ids it gave (1 to the number of persons) and copies the shadow tables (``_data``, ``_idx``, ``_docsize``,
``_config``) the same way, else rebuilds.

Only a file database uses it (the import's connection is then discarded, so no FTS5 state of its own outlives
the copy), and the copy is checked against the rows the import put in the ordered copy: on any difference the
import fills the index itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from directory import child

if TYPE_CHECKING:  # SQLAlchemy is the import process's (Build); the child process, which only uses sqlite3,
    from sqlalchemy.ext.asyncio import AsyncConnection  # starts sooner and smaller without it (21 vs 45 MiB)

FTS_HASH = 16 * 1024 * 1024  # bytes of terms FTS5 gathers before writing a segment during a rebuild (1 MiB
# by default): fewer, larger segments to merge, about a third less time
DEFAULT_HASH = 1024 * 1024
SEARCH_FTS = (
    "CREATE VIRTUAL TABLE directory_search_fts USING fts5(words, content='', detail=none, columnsize=0, "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
SEARCH_FTS_HASH = f"INSERT INTO directory_search_fts(directory_search_fts, rank) VALUES ('hashsize', {FTS_HASH})"  # noqa: S608
# The persons' index as migration 0011_directory_person_fts_words makes it (external content: the persons' doc).
PERSON_FTS = (
    "CREATE VIRTUAL TABLE directory_person_fts USING fts5(doc, content='directory_persons', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
SEARCH, PERSONS = "directory_search_fts", "directory_person_fts"
SHADOWS = {SEARCH: ("data", "idx", "config"), PERSONS: ("data", "idx", "docsize", "config")}
COUNT = "stg_index_rows"  # how many rows the child indexed
# Each index in a file of its own, attached by the import under these names: the import reads the persons' file
# (and so holds its lock until its commit) while the child still writes the search's.
SCHEMAS = {SEARCH: "stg_fts", PERSONS: "stg_person_fts"}
FOLDED = "folded.json"  # the folded persons the import hands the child: [id_nat, sort_key, doc, facets] each
READY = b"persons\n"  # the child's line when the persons' index is written


def hash_size(table: str, size: int, schema: str = "main") -> str:
    """The statement setting FTS5's term hash size of ``table``."""
    return f"INSERT INTO {schema}.{table}({table}, rank) VALUES ('hashsize', {int(size)})"  # noqa: S608


def files(target: Path) -> dict[str, Path]:
    """The file of each index, ``target`` being the search index's."""
    return {SEARCH: target, PERSONS: target.with_name("person_fts.db")}


def create(target: Path, *, persons: bool = False) -> dict[str, Path]:
    """The child's target files with their empty indexes (created before the import attaches them); returns
    them by index."""
    created = {table: path for table, path in files(target).items() if table == SEARCH or persons}
    for table, path in created.items():
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute(SEARCH_FTS if table == SEARCH else PERSON_FTS)
            connection.execute(f"CREATE TABLE {COUNT} (n INTEGER NOT NULL)")
            connection.commit()
    return created


def build(target: Path, parts: list[str], folded: Path, *, persons: bool = False) -> None:
    """The child's work: with ``persons``, the persons' index (each ``doc`` under the person's rank in idNat
    order, from 1); then the search's index (each person's words under their rank in ``sort_key`` order, as
    :data:`directory.merge.SEARCH_FTS_FILL` fills it from the ordered copy). The persons are those staged in
    ``parts``, those listed in ``folded`` replaced by their folded rows."""
    rows: list[list[str]] = json.loads(folded.read_text(encoding="utf-8"))
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = OFF")  # a throwaway file: no rollback, no sync
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -16384")  # bounds its sorter too (see directory.aggregate)
        connection.execute("PRAGMA temp_store = FILE")
        for index, part in enumerate(parts):
            connection.execute(f"ATTACH DATABASE ? AS part{index}", (f"file:{part}?mode=ro",))
        if persons:
            connection.execute(f"ATTACH DATABASE ? AS {SCHEMAS[PERSONS]}", (str(files(target)[PERSONS]),))
            connection.execute(f"PRAGMA {SCHEMAS[PERSONS]}.journal_mode = OFF")
            connection.execute(f"PRAGMA {SCHEMAS[PERSONS]}.synchronous = OFF")
        connection.execute("CREATE TEMP TABLE folded (id_nat TEXT PRIMARY KEY, sort_key TEXT NOT NULL, "
                           "doc TEXT NOT NULL, facets TEXT NOT NULL)")
        connection.executemany("INSERT INTO temp.folded VALUES (?, ?, ?, ?)", rows)
        staged = " UNION ALL ".join([
            *(f"SELECT id_nat, sort_key, doc, facets FROM part{index}.stg_person "  # noqa: S608
              "WHERE id_nat NOT IN (SELECT id_nat FROM temp.folded)" for index in range(len(parts))),
            "SELECT id_nat, sort_key, doc, facets FROM temp.folded",
        ])
        fills = [(SEARCH, "main", "sort_key", "doc || ' ' || facets", FTS_HASH)]
        if persons:  # the hash size the import leaves its persons' index with, after a rebuild
            fills.insert(0, (PERSONS, SCHEMAS[PERSONS], "id_nat", "doc", DEFAULT_HASH))
        for table, schema, order, words, hash_after in fills:
            connection.execute("BEGIN")
            connection.execute(hash_size(table, FTS_HASH, schema))
            count = connection.execute(
                f"INSERT INTO {schema}.{table}(rowid, {'words' if table == SEARCH else 'doc'}) "  # noqa: S608
                f"SELECT row_number() OVER (ORDER BY {order}), {words} FROM ({staged}) ORDER BY {order}"
            ).rowcount
            if hash_after != FTS_HASH:
                connection.execute(hash_size(table, hash_after, schema))
            connection.execute(f"INSERT INTO {schema}.{COUNT} VALUES (?)", (count,))  # noqa: S608
            connection.execute("COMMIT")
            if table == PERSONS:
                sys.stdout.buffer.write(READY)
                sys.stdout.buffer.flush()


STRUCTURE = 10  # the id of the index's structure record in ``_data``; its first 4 bytes are a change counter


async def _structure(connection: AsyncConnection, table: str) -> bytes:
    from sqlalchemy import text  # noqa: PLC0415 - see the imports at the top

    result = await connection.execute(text(f"SELECT block FROM main.{table}_data WHERE id = {STRUCTURE}"))  # noqa: S608
    return bytes(result.scalar() or b"")


def _cookie(structure: bytes) -> int:
    return int.from_bytes(structure[:4], "big") if len(structure) >= 4 else 0


def _with_cookie(structure: bytes, cookie: int) -> bytes:
    return cookie.to_bytes(4, "big") + structure[4:]


class Build:
    """The child process building the indexes (:func:`start`)."""

    def __init__(self, process: asyncio.subprocess.Process, persons: bool) -> None:
        self.process = process
        self.persons = persons  # it builds the persons' index too (a first load)

    async def copy_persons(self, connection: AsyncConnection, rows: int) -> bool:
        """Wait until the child wrote the persons' index, then copy it in if the import gave its ``rows``
        persons the ids 1 to ``rows`` (see the module docstring); ``False`` (nothing copied) otherwise."""
        from sqlalchemy import text  # noqa: PLC0415 - see the imports at the top

        if not self.persons:
            return False
        assert self.process.stdout is not None
        if await self.process.stdout.readline() != READY:  # it failed: its reason comes with copy()
            await child.finished(self.process, "building the search index")
            return False
        ids = (await connection.execute(text("SELECT count(*), min(id), max(id) FROM directory_persons"))).one()
        return tuple(ids) == (rows, 1, rows) and await self._replace(connection, PERSONS, rows)

    async def copy(self, connection: AsyncConnection, rows: int) -> bool:
        """Wait for the child, then replace the search index's shadow tables with its own; ``False`` (nothing
        copied) when it did not index ``rows`` rows. :class:`directory.errors.ImportFailed` if it failed."""
        await child.finished(self.process, "building the search index")
        return await self._replace(connection, SEARCH, rows)

    async def _replace(self, connection: AsyncConnection, table: str, rows: int) -> bool:
        from sqlalchemy import text  # noqa: PLC0415 - see the imports at the top

        schema = SCHEMAS[table]
        built = (await connection.execute(text(f"SELECT n FROM {schema}.{COUNT}"))).scalar()  # noqa: S608
        if built != rows:
            return False
        cookie = _cookie(await _structure(connection, table))
        for shadow in SHADOWS[table]:
            await connection.execute(text(f"DELETE FROM main.{table}_{shadow}"))  # noqa: S608
            await connection.execute(text(f"INSERT INTO main.{table}_{shadow} "  # noqa: S608
                                          f"SELECT * FROM {schema}.{table}_{shadow}"))
        # the structure's change counter moves on from the replaced one's, as a write through FTS5 moves it: the
        # other connections see a new counter and read the configuration again (``_config`` was replaced too)
        block = _with_cookie(await _structure(connection, table), (cookie + 1) & 0xFFFFFFFF)
        await connection.execute(text(f"UPDATE main.{table}_data SET block = :block WHERE id = {STRUCTURE}"),  # noqa: S608
                                 {"block": block})
        return True

    async def close(self) -> None:
        """Stop the child if it still runs (a failed import, or the index was not rebuilt)."""
        await child.stop(self.process)


async def start(target: Path, parts: list[str], folded: list[tuple[Any, ...]], *, persons: bool = False) -> Build:
    """``python -m directory.search_fts [--persons] TARGET FOLDED PART...`` (see :func:`build`); ``folded``: the
    folded person rows (:data:`directory.staging.PERSON_COLUMNS`)."""
    listed = target.parent / FOLDED
    values = [[row[1], row[10], row[15], row[16]] for row in folded]  # id_nat, sort_key, doc, facets
    await asyncio.to_thread(listed.write_text, json.dumps(values), encoding="utf-8")
    flag = ["--persons"] if persons else []
    return Build(await child.spawn("directory.search_fts", *flag, str(target), str(listed), *parts, output=True),
                 persons)


if __name__ == "__main__":  # the building process: python -m directory.search_fts [--persons] TARGET FOLDED PART...
    _persons = sys.argv[1] == "--persons"
    _arguments = sys.argv[2:] if _persons else sys.argv[1:]
    build(Path(_arguments[0]), _arguments[2:], Path(_arguments[1]), persons=_persons)
