"""SQLite: the search's word index (``directory_search_fts``) built by a child process, off the import's
connection, and copied in.

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
SEARCH_FTS = (
    "CREATE VIRTUAL TABLE directory_search_fts USING fts5(words, content='', detail=none, columnsize=0, "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
SEARCH_FTS_HASH = f"INSERT INTO directory_search_fts(directory_search_fts, rank) VALUES ('hashsize', {FTS_HASH})"  # noqa: S608
SHADOWS = ("directory_search_fts_data", "directory_search_fts_idx", "directory_search_fts_config")
COUNT = "stg_search_rows"  # how many rows the child indexed
SCHEMA = "stg_fts"  # the child's file, as the import attaches it
FOLDED = "folded.json"  # the folded persons the import hands the child: [id_nat, sort_key, words] each


def create(path: Path) -> None:
    """The child's target file with its empty index (created before the import attaches it)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute(SEARCH_FTS)
        connection.execute(f"CREATE TABLE {COUNT} (n INTEGER NOT NULL)")
        connection.commit()


def build(target: Path, parts: list[str], folded: Path) -> None:
    """The child's work: the index of the persons staged in ``parts``, those listed in ``folded`` replaced by
    their folded rows, in ``sort_key`` order numbered from 1, as :data:`directory.merge.SEARCH_FTS_FILL` fills it
    from the ordered copy."""
    rows: list[list[str]] = json.loads(folded.read_text(encoding="utf-8"))
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = OFF")  # a throwaway file: no rollback, no sync
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -16384")  # bounds its sorter too (see directory.aggregate)
        connection.execute("PRAGMA temp_store = FILE")
        for index, part in enumerate(parts):
            connection.execute(f"ATTACH DATABASE ? AS part{index}", (f"file:{part}?mode=ro",))
        connection.execute("BEGIN")
        connection.execute("CREATE TEMP TABLE folded (id_nat TEXT PRIMARY KEY, sort_key TEXT NOT NULL, "
                           "words TEXT NOT NULL)")
        connection.executemany("INSERT INTO temp.folded VALUES (?, ?, ?)", rows)
        staged = " UNION ALL ".join(
            f"SELECT sort_key, doc || ' ' || facets AS words FROM part{index}.stg_person "  # noqa: S608
            "WHERE id_nat NOT IN (SELECT id_nat FROM temp.folded)" for index in range(len(parts))
        )
        connection.execute(SEARCH_FTS_HASH)
        count = connection.execute(
            "INSERT INTO directory_search_fts(rowid, words) SELECT row_number() OVER (ORDER BY sort_key), words "  # noqa: S608
            f"FROM ({staged} UNION ALL SELECT sort_key, words FROM temp.folded) ORDER BY sort_key"
        ).rowcount
        connection.execute(f"INSERT INTO {COUNT} VALUES (?)", (count,))  # noqa: S608
        connection.execute("COMMIT")


STRUCTURE = 10  # the id of the index's structure record in ``_data``; its first 4 bytes are a change counter


async def _structure(connection: AsyncConnection, schema: str) -> bytes:
    from sqlalchemy import text  # noqa: PLC0415 - see the imports at the top

    result = await connection.execute(text(f"SELECT block FROM {schema}.{SHADOWS[0]} WHERE id = {STRUCTURE}"))  # noqa: S608
    return bytes(result.scalar() or b"")


def _cookie(structure: bytes) -> int:
    return int.from_bytes(structure[:4], "big") if len(structure) >= 4 else 0


def _with_cookie(structure: bytes, cookie: int) -> bytes:
    return cookie.to_bytes(4, "big") + structure[4:]


class Build:
    """The child process building the index (:func:`start`)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def copy(self, connection: AsyncConnection, rows: int) -> bool:
        """Wait for the child, then replace the index's shadow tables with its own; ``False`` (nothing copied)
        when it did not index ``rows`` rows. :class:`directory.errors.ImportFailed` if it failed."""
        from sqlalchemy import text  # noqa: PLC0415 - see the imports at the top

        await child.finished(self.process, "building the search index")
        built = (await connection.execute(text(f"SELECT n FROM {SCHEMA}.{COUNT}"))).scalar()  # noqa: S608
        if built != rows:
            return False
        cookie = _cookie(await _structure(connection, "main"))
        for table in SHADOWS:
            await connection.execute(text(f"DELETE FROM main.{table}"))  # noqa: S608
            await connection.execute(text(f"INSERT INTO main.{table} SELECT * FROM {SCHEMA}.{table}"))  # noqa: S608
        # the structure's change counter moves on from the replaced one's, as a write through FTS5 moves it: the
        # other connections see a new counter and read the configuration again (``_config`` was replaced too)
        block = _with_cookie(await _structure(connection, "main"), (cookie + 1) & 0xFFFFFFFF)
        await connection.execute(text(f"UPDATE main.{SHADOWS[0]} SET block = :block WHERE id = {STRUCTURE}"),  # noqa: S608
                                 {"block": block})
        return True

    async def close(self) -> None:
        """Stop the child if it still runs (a failed import, or the index was not rebuilt)."""
        await child.stop(self.process)


async def start(target: Path, parts: list[str], folded: list[tuple[Any, ...]]) -> Build:
    """``python -m directory.search_fts TARGET FOLDED PART...`` (see :func:`build`); ``folded``: the folded
    person rows (:data:`directory.staging.PERSON_COLUMNS`)."""
    listed = target.parent / FOLDED
    values = [[row[1], row[10], f"{row[15]} {row[16]}"] for row in folded]  # id_nat, sort_key, doc facets
    await asyncio.to_thread(listed.write_text, json.dumps(values), encoding="utf-8")
    return Build(await child.spawn("directory.search_fts", str(target), str(listed), *parts))


if __name__ == "__main__":  # the building process: python -m directory.search_fts TARGET FOLDED PART...
    build(Path(sys.argv[1]), sys.argv[3:], Path(sys.argv[2]))
