"""The structures of an activity import (one row per structure key, each column's least value over its lines),
and on SQLite a child process that aggregates them, and builds a first load's activities table, off the import's
connection.

:func:`structure_select` is the SQL, on the staged activity lines (:meth:`directory.merge.Merger.stage_structures`).
A large SQLite import also runs it in a child process (``python -m directory.aggregate``) over the parsing
processes' staging files while the import process merges the persons: the aggregation (7 s at 2,000,000 lines)
leaves the import's one writing connection. The child writes into a file of its own that the import attached,
empty, before its transaction began (ATTACH is refused within a transaction; the import reads it only once the
child has exited, so no lock is shared), and the import merges the rows from there (the child indexes them by
key). The result is the same as the SQL on the import's own staging table as long as that table lost no line
after the parsing: when
:meth:`~directory.merge.Merger.duplicates` removed lines (a person listed in several places repeated an
activity), the import does not use the child's rows and aggregates itself.

For a first load (empty activities) the child also builds the activities table itself, as the import would:
``directory_activities`` in its file has the import database's own definition and indexes (:func:`create` copies
them), its rows the activity lines as the parsing processes staged them (in the file's order: ids 1, 2, … in
that order; the key's uniqueness is an index since ``0016_directory_activities_key``, built with the others
after the rows, so no sort of the lines' wide rows), active, seen at the extraction's date. The import then
copies it whole (:meth:`directory.merge.Merger.merge`, ``prebuilt``): into an empty table
of the same definition, SQLite copies the records and the index entries as they are (its "transfer
optimisation") instead of inserting and indexing each line: about 4 s instead of 10 at 2,000,000 lines on the
import's one writing connection, while the child's work overlaps the persons' merge.
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
ACTIVITIES = "directory_activities"  # a first load's activities, built by the child (see the module docstring)
INDEXES = "stg_indexes"  # the definitions of the activities' indexes, which the child creates after its insert
# The activities' columns besides their key (the staged lines have them under the same names).
ACTIVITY_COLUMNS = (
    "id_nat", "structure_key", "mode_code", "specialty_code", "specialty_label", "siret", "siren", "finess_site",
    "finess_legal", "technical_id", "structure_name", "address", "address_complement", "postal_code",
    "commune_code", "city", "department", "phone", "email", "sector_code", "function_code", "genre_code",
)
LINE_COLUMNS = ("key", *ACTIVITY_COLUMNS)
# A first load's activity rows: their lines' values, then active, last seen and updated (bound as stored)
_BUILT = ", ".join([*LINE_COLUMNS, "active", "last_seen", "updated_at"])


def structure_select(source: str, *, postgresql: bool) -> str:
    """``SELECT key, <the structure columns>`` over the staged lines of ``source`` (a table, or a parenthesised
    query with an alias), each the least of its lines' values in byte order. On PostgreSQL the ``MIN``s run over
    the lines' distinct structure values (a structure's lines nearly always agree, so one hash aggregation leaves
    about one row per structure; the least value over the distinct combinations is the least value over the
    lines), and in the "C" collation (below); SQLite has no hash aggregation and compares bytes already."""
    staged = [_STAGED.get(column, column) for column in STRUCTURE_COLUMNS]
    # PostgreSQL: the least value in byte order, whatever the lines' column collation (its staging tables' is
    # "C", a first load's directory_activities_next the database's): SQLite's order, and the same structure
    # whichever way the lines were staged (a French collation would otherwise pick another name on a first load
    # than on the re-import of the same file, and report the structure updated)
    collated = ' COLLATE "C"' if postgresql else ""
    columns = ", ".join(f"MIN({value}{collated}) AS {column}"
                        for value, column in zip(staged, STRUCTURE_COLUMNS, strict=True))
    if postgresql:
        listed = ", ".join(["structure_key", *staged])
        source = f"(SELECT {listed} FROM {source} WHERE structure_key <> '' GROUP BY {listed}) AS lines"  # noqa: S608
    return f"SELECT structure_key AS key, {columns} FROM {source} WHERE structure_key <> '' GROUP BY structure_key"  # noqa: S608


def create(path: Path, activities: list[str]) -> None:
    """The child's target file, with its empty tables (created before the import attaches it; the child fills
    them, and adds the activities' indexes, which the import sees when it reads the file once the child has
    exited: SQLite reloads an attached file's changed schema). ``activities``: the import database's definition of
    ``directory_activities`` (``CREATE TABLE``) and of its indexes (``CREATE INDEX``), in that order; the table is
    created here, its indexes by the child after its insert (they are kept in :data:`INDEXES`)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        listed = ", ".join(f"{column} TEXT NOT NULL" for column in ("key", *STRUCTURE_COLUMNS))
        connection.execute(f"CREATE TABLE {TABLE} ({listed})")
        table, *indexes = activities
        connection.execute(table)
        connection.execute(f"CREATE TABLE {INDEXES} (sql TEXT NOT NULL)")
        connection.executemany(f"INSERT INTO {INDEXES} (sql) VALUES (?)", [(index,) for index in indexes])  # noqa: S608
        connection.commit()


def aggregate(target: Path, parts: list[str], built: tuple[str, str] | None = None) -> None:
    """The child's work: the structures of the activity lines staged in ``parts`` into ``target``'s table, and
    with ``built`` (a first load: the extraction's date and the import's time, as the import database stores
    them) the activities table, its rows the lines in the parts' order, then its indexes."""
    with contextlib.closing(sqlite3.connect(target)) as connection:
        connection.execute("PRAGMA cache_size = -16384")  # also bounds its sorter: 64 MiB made the import 488 MiB
        connection.execute("PRAGMA temp_store = FILE")
        for index, part in enumerate(parts):
            connection.execute(f"ATTACH DATABASE ? AS part{index}", (f"file:{part}?mode=ro",))
        lines = " UNION ALL ".join(f"SELECT * FROM part{index}.stg_activity" for index in range(len(parts)))  # noqa: S608
        connection.execute(f"INSERT INTO {TABLE} {structure_select(f'({lines})', postgresql=False)}")
        connection.execute(f"CREATE INDEX ix_{TABLE}_key ON {TABLE} (key)")  # the import merges from this table
        connection.commit()
        if built is not None:
            listed = ", ".join(LINE_COLUMNS)
            connection.execute(f"INSERT INTO {ACTIVITIES} ({_BUILT}) SELECT {listed}, 1, ?, ? "  # noqa: S608
                               f"FROM ({lines})", built)
            for (definition,) in connection.execute(f"SELECT sql FROM {INDEXES}").fetchall():  # noqa: S608
                connection.execute(definition)
            connection.commit()


class Aggregation:
    """The child process aggregating the structures (:func:`start`)."""

    def __init__(self, process: asyncio.subprocess.Process, built: bool) -> None:
        self.process = process
        self.built = built  # the child builds the activities table too (a first load)

    async def wait(self) -> None:
        """Wait for the child; :class:`directory.errors.ImportFailed` with its reason if it failed."""
        await child.finished(self.process, "aggregating the structures")

    async def close(self) -> None:
        """Stop the child if it still runs (a failed import, or its rows are not used)."""
        await child.stop(self.process)


async def start(target: Path, parts: list[str], built: tuple[str, str] | None = None) -> Aggregation:
    """``python -m directory.aggregate TARGET [--built SEEN NOW] PART...`` (see :func:`aggregate`)."""
    process = await child.spawn("directory.aggregate", str(target), *(["--built", *built] if built else []), *parts)
    return Aggregation(process, built is not None)


if __name__ == "__main__":  # the aggregating process: python -m directory.aggregate TARGET [--built SEEN NOW] PART...
    _target, *_rest = sys.argv[1:]
    _built = (_rest[1], _rest[2]) if _rest[:1] == ["--built"] else None
    aggregate(Path(_target), _rest[3:] if _built else _rest, _built)
