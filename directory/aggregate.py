"""The structures of an activity import (one row per structure key, each column's least value over its lines),
and on SQLite a child process that aggregates them, and sorts a first load's activity lines, off the import's
connection.

:func:`structure_select` is the SQL, on the staged activity lines (:meth:`directory.merge.Merger.stage_structures`).
A large SQLite import also runs it in a child process (``python -m directory.aggregate``) over the parsing
processes' staging files while the import process merges the persons: the aggregation (7 s at 2,000,000 lines)
leaves the import's one writing connection. The child writes into a file of its own that the import attached,
empty, before its transaction began (ATTACH is refused within a transaction; the import reads it only once the
child has exited, so no lock is shared), and the import copies the rows from there. The result is the same as
the SQL on the import's own staging table as long as that table lost no line after the parsing: when
:meth:`~directory.merge.Merger.duplicates` removed lines (a person listed in several places repeated an
activity), the import does not use the child's rows and aggregates itself. For a first load (empty
activities) the child also writes the activity lines in key order (:data:`SORTED`), which the import inserts
without a sort of its own (:meth:`directory.merge.Merger.merge`, ``presorted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from pathlib import Path

from directory import child

STRUCTURE_COLUMNS = (
    "name", "name_norm", "siret", "siren", "finess_site", "finess_legal", "technical_id", "address",
    "address_complement", "postal_code", "commune_code", "city", "department", "phone", "sector_code",
)
_STAGED = {"name": "structure_name", "name_norm": "structure_norm"}  # structure column -> staged activity column
TABLE = "stg_structure"
SORTED = "stg_activity_sorted"  # a first load's activity lines in key order (rowid order)
# The activities' columns besides their key (the staged lines have them under the same names).
ACTIVITY_COLUMNS = (
    "id_nat", "structure_key", "mode_code", "specialty_code", "specialty_label", "siret", "siren", "finess_site",
    "finess_legal", "technical_id", "structure_name", "address", "address_complement", "postal_code",
    "commune_code", "city", "department", "phone", "email", "sector_code", "function_code", "genre_code",
)
SORTED_COLUMNS = ("key", *ACTIVITY_COLUMNS)


def structure_select(source: str, *, distinct_first: bool) -> str:
    """``SELECT key, <the structure columns>`` over the staged lines of ``source`` (a table, or a parenthesised
    query with an alias). ``distinct_first`` (PostgreSQL): the ``MIN``s run over the lines' distinct structure
    values (a structure's lines nearly always agree, so one hash aggregation leaves about one row per structure;
    the least value over the distinct combinations is the least value over the lines)."""
    staged = [_STAGED.get(column, column) for column in STRUCTURE_COLUMNS]
    columns = ", ".join(f"MIN({value}) AS {column}" for value, column in zip(staged, STRUCTURE_COLUMNS, strict=True))
    if distinct_first:
        listed = ", ".join(["structure_key", *staged])
        source = f"(SELECT {listed} FROM {source} WHERE structure_key <> '' GROUP BY {listed}) AS lines"  # noqa: S608
    return f"SELECT structure_key AS key, {columns} FROM {source} WHERE structure_key <> '' GROUP BY structure_key"  # noqa: S608


def create(path: Path) -> None:
    """The child's target file, with its empty tables (created before the import attaches it and reads their
    definitions: the child only fills them)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        for table, columns in ((TABLE, ("key", *STRUCTURE_COLUMNS)), (SORTED, SORTED_COLUMNS)):
            listed = ", ".join(f"{column} TEXT NOT NULL" for column in columns)
            connection.execute(f"CREATE TABLE {table} ({listed})")
        connection.commit()


def aggregate(target: Path, parts: list[str], *, sort: bool = False) -> None:
    """The child's work: the structures of the activity lines staged in ``parts`` into ``target``'s table, and
    with ``sort`` (a first load) those lines in key order into :data:`SORTED` (the import's insert then needs
    no sort of its own: 6.3 -> 2.7 s at 2,000,000 lines)."""
    with contextlib.closing(sqlite3.connect(target)) as connection:
        connection.execute("PRAGMA cache_size = -16384")  # also bounds its sorter: 64 MiB made the import 488 MiB
        connection.execute("PRAGMA temp_store = FILE")
        for index, part in enumerate(parts):
            connection.execute(f"ATTACH DATABASE ? AS part{index}", (f"file:{part}?mode=ro",))
        lines = " UNION ALL ".join(f"SELECT * FROM part{index}.stg_activity" for index in range(len(parts)))  # noqa: S608
        connection.execute(f"INSERT INTO {TABLE} {structure_select(f'({lines})', distinct_first=False)}")
        connection.commit()
        if sort:
            listed = ", ".join(SORTED_COLUMNS)
            connection.execute(f"INSERT INTO {SORTED} SELECT {listed} FROM ({lines}) ORDER BY key")  # noqa: S608
            connection.commit()


class Aggregation:
    """The child process aggregating the structures (:func:`start`)."""

    def __init__(self, process: asyncio.subprocess.Process, sort: bool) -> None:
        self.process = process
        self.sort = sort  # the activity lines are sorted into SORTED too

    async def wait(self) -> None:
        """Wait for the child; :class:`directory.errors.ImportFailed` with its reason if it failed."""
        await child.finished(self.process, "aggregating the structures")

    async def close(self) -> None:
        """Stop the child if it still runs (a failed import, or its rows are not used)."""
        await child.stop(self.process)


async def start(target: Path, parts: list[str], *, sort: bool = False) -> Aggregation:
    """``python -m directory.aggregate [--sort] TARGET PART...`` (see :func:`aggregate`)."""
    process = await child.spawn("directory.aggregate", *(["--sort"] if sort else []), str(target), *parts)
    return Aggregation(process, sort)


if __name__ == "__main__":  # the aggregating process: python -m directory.aggregate [--sort] TARGET PART...
    _sort = sys.argv[1] == "--sort"
    _arguments = sys.argv[2:] if _sort else sys.argv[1:]
    aggregate(Path(_arguments[0]), _arguments[1:], sort=_sort)
