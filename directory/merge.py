"""Set-based merge of a staged extraction into the directory tables, with the counts of the report.

For each table: rows whose content changed are updated (and reactivated), new rows inserted, rows the
extraction no longer lists deactivated, and ``last_seen`` moved to the extraction date. Re-importing the same
file matches every row and changes nothing. All columns are NOT NULL (empty fields are empty strings), so
``<>`` compares values the same way on SQLite and PostgreSQL.

Persons are folded from their activity lines while staging (:class:`directory.staging.PersonAccumulator`);
the rare person listed in two places of a file is folded here, and the repeated activities of such a person
rejected (those of a person's consecutive lines are rejected while parsing). Structures are aggregated in SQL.
New rows are inserted in key order, which keeps the B-tree inserts sequential (except PostgreSQL's first load
into an empty table, which builds its indexes afterwards).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from directory import aggregate, postings
from directory.staging import PERSON_COLUMNS as STAGED_PERSON
from directory.staging import merge_person_rows
from storage.base import UTCDateTime


# Secondary indexes of migration 0003 that a first load into an empty table drops and builds once at the end:
# building an index from sorted data is much faster than maintaining it row by row. DDL is transactional on
# both engines, so a failed import still leaves them in place. On PostgreSQL the unique constraints and the
# primary keys go as well (the staged keys are unique: duplicates were rejected and persons folded before the
# load; ids come from the table's sequence), SQLite cannot drop them. Maintaining the primary key row by row
# took more time than the whole load of the rows (PostgreSQL, 2,000,000 activities: 7.0 s with it, 3.8 s
# without and 1.1 s to build it afterwards). The activities' key is unique through an index on both engines
# (0016_directory_activities_key), so SQLite drops and builds it too.
def _btree(table: str, column: str) -> tuple[str, str]:
    name = f"ix_{table}_{column}"
    return name, f"CREATE INDEX {name} ON {table} ({column})"


def _keys(table: str, key: str | None) -> dict[str, str]:
    """PostgreSQL: the table's unique natural key (if it is a constraint) and its primary key (``id``), as
    constraints."""
    primary = f"pk_{table}"
    unique = {f"uq_{table}_{key}": f"ALTER TABLE {table} ADD CONSTRAINT uq_{table}_{key} UNIQUE ({key})"} if key else {}
    return {**unique, primary: f"ALTER TABLE {table} ADD CONSTRAINT {primary} PRIMARY KEY (id)"}


ACTIVITY_KEY = "uq_directory_activities_key"  # a unique index (0016_directory_activities_key)
_BTREE = {
    "directory_persons": dict([_btree("directory_persons", "id_pp")]),
    "directory_structures": dict([_btree("directory_structures", "finess_site")]),
    "directory_activities": dict([_btree("directory_activities", "structure_key"),
                                  _btree("directory_activities", "id_nat"),
                                  (ACTIVITY_KEY, f"CREATE UNIQUE INDEX {ACTIVITY_KEY} ON directory_activities (key)")]),
    "directory_mailboxes": dict([_btree("directory_mailboxes", column)
                                 for column in ("domain", "id_nat", "structure_id")]),
}
BULK_INDEXES: dict[str, dict[str, dict[str, str]]] = {
    "sqlite": _BTREE,
    "postgresql": {
        "directory_persons": {
            **_BTREE["directory_persons"],
            **_keys("directory_persons", "id_nat"),
        },
        "directory_structures": {**_BTREE["directory_structures"], **_keys("directory_structures", "key")},
        "directory_activities": {**_BTREE["directory_activities"], **_keys("directory_activities", None)},
        "directory_mailboxes": {
            **_BTREE["directory_mailboxes"],
            "ix_directory_mailboxes_address_trgm": "CREATE INDEX ix_directory_mailboxes_address_trgm "
            "ON directory_mailboxes USING gin (address gin_trgm_ops)",
            **_keys("directory_mailboxes", "address"),
        },
    },
}


FTS_HASH = 16 * 1024 * 1024  # bytes of terms FTS5 gathers before writing a segment during a fill (1 MiB by
# default): fewer, larger segments to merge, about a third less time
# The search's narrow copy of the persons (migration 0007_directory_search_persons; active or not since
# 0014_directory_copy_all_persons), in display order, numbered in that order (pos), and its words indexed by
# that number (SQLite: 0008_directory_search_fts; PostgreSQL: directory.postings). ``sort_key || ''`` (the same
# order: the column's collation, "C" on PostgreSQL, carries over) makes both engines sort the rows instead of
# reading them at random through a sort key index (PostgreSQL at 2,000,000 lines: 4.3 s instead of 8.7 s).
SEARCH_FILL = (
    "INSERT INTO directory_search_persons (sort_key, pos, id, family_norm, doc, facets, active) "
    "SELECT sort_key, row_number() OVER (ORDER BY sort_key || ''), id, family_norm, doc, facets, active "
    "FROM directory_persons ORDER BY sort_key || ''"
)
SEARCH_FAMILY_INDEX = (
    "CREATE INDEX ix_directory_search_persons_family ON directory_search_persons (family_norm, sort_key)"
)
SEARCH_PRIMARY = "pk_directory_search_persons"  # PostgreSQL: dropped and built again around the fill (with it,
# 1,500,000 rows took 12 s instead of 6 + 0.8)
SEARCH_POS_INDEX = "CREATE UNIQUE INDEX ix_directory_search_persons_pos ON directory_search_persons (pos)"
# SQLite: a row's words (doc and facets) by its pos, postings only (no positions, no stored text): what a
# search needs to read a word's rows in display order; built in a few seconds from the ordered copy.
SEARCH_FTS = (
    "CREATE VIRTUAL TABLE directory_search_fts USING fts5(words, content='', detail=none, columnsize=0, "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
SEARCH_FTS_EMPTY = "INSERT INTO directory_search_fts(directory_search_fts) VALUES ('delete-all')"
SEARCH_FTS_HASH = f"INSERT INTO directory_search_fts(directory_search_fts, rank) VALUES ('hashsize', {FTS_HASH})"  # noqa: S608
SEARCH_FTS_FILL = (
    "INSERT INTO directory_search_fts(rowid, words) SELECT pos, doc || ' ' || facets FROM directory_search_persons"
)
ACTIVITY_STREAMS = 3  # what a PostgreSQL activity import runs at once: two connections and the postings' child


def parallel_workers(streams: int, cores: int | None = None) -> int:
    """The parallel workers a PostgreSQL statement of an import may add (index builds, scans): the cores left
    beyond the import's own ``streams`` (each keeps a core busy), shared among them. On a small machine none:
    its cores are busy already, and there a parallel index build costs 10 to 40 % more CPU than a serial one
    (2,000,000 activity rows, measured), taken from the import's other work. ``cores``: those this process may
    run on (the database server is taken to have as many: a guess, which only ever lowers the server's own
    limits)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, (cores - streams) // streams)


IMPORT_CACHE_KIB = 64 * 1024  # within the 500 MiB the whole import may use
PERSON_COLUMNS = (
    "id_type", "id_pp", "civility", "title", "family", "given", "family_norm", "given_norm", "sort_key",
    "profession_code", "profession_label", "category_code", "specialties", "doc", "facets",
)
MAILBOX_COLUMNS = (
    "kind", "domain", "id_nat", "structure_id", "service", "civility", "family", "given", "profession_code",
    "profession_label", "specialty_code", "specialty_label", "dematerialised", "structure_name", "address_lines",
    "postal_code", "department", "country",
)


Steps = Callable[[str, float], None]  # a step of an import and its duration in seconds (bench/directory.py)


@contextlib.contextmanager
def timed(steps: Steps | None, name: str) -> Iterator[None]:
    """Tell ``steps`` (if any) how long the block took, as step ``name``."""
    started = time.perf_counter()
    yield
    if steps is not None:
        steps(name, time.perf_counter() - started)


def step_name(sql: str) -> str:
    """A statement as a step's name: its first words, up to the table it works on (no values: none are inlined
    into the merge statements)."""
    words = sql.split()
    for index, word in enumerate(words):
        if word.upper() in {"INTO", "TABLE", "INDEX", "FROM", "UPDATE", "ON"} and index + 1 < len(words):
            return " ".join(words[: index + 2])[:100]
    return " ".join(words[:4])[:100]


@dataclass(slots=True)
class Counts:
    inserted: int = 0
    updated: int = 0
    deactivated: int = 0


class Merger:
    """The merge statements of one import, on its connection, for one extraction date."""

    def __init__(self, connection: AsyncConnection, seen: date, now: datetime, *, discard: bool = False,
                 steps: Steps | None = None) -> None:
        """``discard``: the import closes its SQLite connection at the end (:func:`discard`), and its temporary
        tables go with it. ``steps``: told each statement's duration (:func:`step_name`, seconds)."""
        self.connection = connection
        self.steps = steps
        self.sqlite = connection.dialect.name == "sqlite"
        self.discard = discard and self.sqlite
        self.params: dict[str, Any] = {"seen": seen, "now": now}
        self.temp = "temp." if self.sqlite else ""
        self.removed = False  # duplicates() removed staged lines
        self.structures = "stg_structure"  # where stage_structures() left the structures to merge
        self.uncopied: list[str] = []  # parts whose activity lines copy_parts() left where they are
        # SQLite's first load of the persons straight from the parts (copy_parts): (counts, bulk indexes to build)
        self.loaded: tuple[Counts, dict[str, str]] | None = None

    async def prepare(self, streams: int = ACTIVITY_STREAMS) -> None:
        """Per-import tuning: a large page cache on SQLite (index inserts); on PostgreSQL more sort memory and no
        more parallel workers than :func:`parallel_workers` for an import of ``streams`` (never more than the
        server allows)."""
        if self.sqlite:
            await self.run(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
            await self.run(f"PRAGMA temp.cache_size = -{IMPORT_CACHE_KIB // 2}")
            if self.discard:  # staging only, and the temporary database dies with the connection: no rollback
                await self.run("PRAGMA temp.journal_mode = OFF")  # journal for it (a quarter less work on it)
        else:
            await self.run("SET LOCAL work_mem = '64MB'")
            await self.run("SET LOCAL maintenance_work_mem = '256MB'")
            workers = parallel_workers(streams)
            for setting in ("max_parallel_maintenance_workers", "max_parallel_workers_per_gather"):
                await self.run(f"SELECT set_config('{setting}', "
                               f"least(current_setting('{setting}')::int, {workers})::text, true)")

    async def finish(self, *tables: str) -> None:
        """Fresh planner statistics for the tables just loaded (PostgreSQL's autovacuum would come too late for
        the first searches)."""
        if not self.sqlite:
            for table in tables:
                await self.run(f"ANALYZE {table}")


    async def run(self, sql: str) -> int:
        types: dict[str, Any] = {"seen": Date(), "now": UTCDateTime()}
        used = [name for name in types if f":{name}" in sql]
        statement = text(sql).bindparams(*(bindparam(name, type_=types[name]) for name in used))
        with timed(self.steps, step_name(sql)):
            result = await self.connection.execute(statement, {name: self.params[name] for name in used})
        return int(getattr(result, "rowcount", 0) or 0)

    def _create_as(self, name: str, select: str) -> str:
        if self.sqlite:
            return f"CREATE TEMP TABLE {name} AS {select}"
        return f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {select}"

    async def copy_parts(self, parts: list[str], *, activities: bool) -> None:
        """SQLite: the staged persons and activity lines of the parsing processes' files (attached as ``parts``)
        into the temporary staging tables. Without ``activities`` (a first load, whose merge reads its lines from
        the aggregation child's sorted copy) the activity lines stay in the parts: :meth:`duplicates` looks for
        repeated lines there, and copies them only when it must remove some. The persons of a first load (an
        empty ``directory_persons``) go straight into their table (:meth:`_load_persons`) unless some idNat is
        staged twice."""
        if not (await self.empty("directory_persons") and await self._load_persons(parts)):
            await self._copy("stg_person", parts)
        if activities:
            await self._copy("stg_activity", parts)
        else:
            self.uncopied = list(parts)

    async def _load_persons(self, parts: list[str]) -> bool:
        """SQLite's first load: the parts' staged persons inserted into ``directory_persons`` as they are (in a
        savepoint, its bulk indexes dropped), without the staging copy, its idNat index and the grouping that
        :meth:`fold_persons` needs only for a person listed in several places (2.3 s instead of 3.4-5.7 s at
        2,000,000 lines). The table's unique idNat key refuses such a person: then everything is undone and
        ``False`` returned (the persons are staged and folded as for any other import)."""
        try:
            async with self.connection.begin_nested():
                indexes = await self.drop_bulk_indexes("directory_persons")
                inserted = 0
                for name in parts:
                    inserted += await self.run(self.insert("directory_persons", f"{name}.stg_person", "id_nat",
                                                           PERSON_COLUMNS))
        except IntegrityError:
            return False
        self.loaded = Counts(inserted=inserted), indexes
        return True

    async def _copy(self, table: str, parts: list[str]) -> None:
        for name in parts:
            await self.connection.execute(text(f"INSERT INTO temp.{table} SELECT * FROM {name}.{table}"))  # noqa: S608

    async def duplicates(self, staging: str, key: str, *, among: str | None = None,
                         number: str = "line_no") -> list[tuple[int, str]]:
        """Remove the lines whose key an earlier line already had; return them for the rejects file.

        ``among``: a table of idNats (:meth:`fold_persons`' ``stg_folded``); only the lines of those persons are
        compared, the parsing having already rejected the repeated lines of each person's consecutive lines
        (:meth:`directory.batch.ActivityBatches._distinct`): a key holds its idNat, so a repeated key that the
        parsing could not see belongs to a person listed in several places of the file. ``number``: the column
        holding the line numbers (``id`` in PostgreSQL's ``directory_activities_next``, :mod:`directory.side_build`;
        with ``among`` only)."""
        source = staging
        if among is not None:
            if await self.empty(f"{self.temp}{among}"):
                return []
            source = "stg_candidate"
            # the same column types whichever table the lines are in (PostgreSQL's cached statements, here the
            # SELECT below, refuse a result of other types on a pooled connection: a staged key is TEXT, a key of
            # directory_activities_next VARCHAR)
            lines = " UNION ALL ".join(
                f"SELECT {number} AS line_no, CAST({key} AS TEXT) AS {key}, id_nat FROM {table}"  # noqa: S608
                for table in [f"{self.temp}{staging}", *(f"{name}.{staging}" for name in self.uncopied)])
            await self.run(self._create_as(source, f"SELECT line_no, {key} FROM ({lines}) AS lines "  # noqa: S608
                                                   f"WHERE id_nat IN (SELECT id_nat FROM {self.temp}{among})"))
        await self.run(f"CREATE INDEX {self.temp}ix_{source}_key ON {source} ({key}, line_no)")
        later = (
            f"EXISTS (SELECT 1 FROM {self.temp}{source} AS first WHERE first.{key} = {source}.{key} "  # noqa: S608
            f"AND first.line_no < {source}.line_no)"
        )
        result = await self.connection.execute(
            text(f"SELECT line_no, {key} FROM {self.temp}{source} WHERE {later} ORDER BY line_no")  # noqa: S608
        )
        rows = [(int(row[0]), str(row[1])) for row in result]
        if rows:
            self.removed = True
            await self._copy(staging, self.uncopied)  # everything is then merged from the staged lines
            self.uncopied = []
            await self.run(f"DELETE FROM {self.temp}{staging} WHERE {number} IN "  # noqa: S608
                           f"(SELECT line_no FROM {self.temp}{source} WHERE {later})")
        return rows

    async def fold_persons(self, table: str = "stg_person", number: str = "line_no") -> int:
        """Fold the rows of persons listed in several places; return how many rows that removed. Their idNats
        are kept in ``stg_folded`` (see :meth:`duplicates`). SQLite indexes the staged persons first (its merges
        look them up by idNat); PostgreSQL hashes them (an index took 0.7 s at 2,000,000 lines and slowed the
        grouping). ``table``: where the persons were staged, ``number`` its column of line numbers
        (``directory_persons`` and ``id`` on PostgreSQL's first load, :mod:`directory.side_build`)."""
        staged = f"{self.temp}{table}" if table == "stg_person" else table
        if self.loaded is not None:  # every idNat once (directory_persons' unique key): nobody to fold
            await self.run(self._create_as("stg_folded", "SELECT id_nat FROM directory_persons WHERE false"))
            return 0
        if self.sqlite:
            await self.run(f"CREATE INDEX {self.temp}ix_stg_person_id_nat ON stg_person (id_nat)")
        await self.run(self._create_as("stg_folded", f"SELECT id_nat FROM {staged} "  # noqa: S608
                                                     "GROUP BY id_nat HAVING COUNT(*) > 1"))
        columns = ", ".join([number, *STAGED_PERSON[1:]])
        result = await self.connection.execute(text(
            f"SELECT {columns} FROM {staged} WHERE id_nat IN "  # noqa: S608
            f"(SELECT id_nat FROM {self.temp}stg_folded) ORDER BY id_nat"
        ))
        by_person: dict[str, list[tuple[Any, ...]]] = {}
        for row in result:
            by_person.setdefault(row[1], []).append(tuple(row))
        if by_person:
            await self.connection.execute(
                text(f"DELETE FROM {staged} WHERE id_nat = :id_nat"),  # noqa: S608
                [{"id_nat": id_nat} for id_nat in by_person],
            )
            marks = ", ".join(f":c{index}" for index in range(len(STAGED_PERSON)))
            await self.connection.execute(
                text(f"INSERT INTO {staged} ({columns}) VALUES ({marks})"),  # noqa: S608
                [{f"c{index}": value for index, value in enumerate(merge_person_rows(rows))}
                 for rows in by_person.values()],
            )
        return sum(map(len, by_person.values())) - len(by_person)

    async def analyze(self, *staging: str, targets: tuple[str, ...]) -> None:
        """PostgreSQL never analyses temporary tables by itself; without statistics the merges plan badly. A
        first load into empty tables joins nothing (see :meth:`merge`) and needs none."""
        if self.sqlite:
            return
        for target in targets:
            if not await self.empty(target):
                for name in staging:
                    await self.run(f"ANALYZE {name}")
                return

    async def empty(self, table: str) -> bool:
        result = await self.connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608
        return result.first() is None

    async def stage_structures(self, aggregated: aggregate.Aggregation | None = None,
                               lines: str = "stg_activity") -> bool:
        """One row per structure key in ``stg_structure``: each column's least value over the structure's lines
        (:func:`directory.aggregate.structure_select`; ``lines``: the table holding them, the staging table but
        for PostgreSQL's first load, :mod:`directory.side_build`). ``aggregated``: SQLite, the child process that
        aggregated the parsing processes' staging files into the attached ``stg_agg`` (its rows are copied, unless
        :meth:`duplicates` removed staged lines since: then it is stopped and the lines aggregated here).
        Returns whether the child's work is used (its activities table too, for a first load); its structures are
        then merged from its own table, which it indexed (:attr:`structures`: no copy to make and index here)."""
        used = aggregated is not None and not self.removed
        if aggregated is not None and used:
            with timed(self.steps, "structures: wait for the aggregating child"):
                await aggregated.wait()
            self.structures = f"stg_agg.{aggregate.TABLE}"
            return used
        if aggregated is not None:  # its rows may hold the removed lines' values
            await aggregated.close()
        select = aggregate.structure_select(f"{self.temp}{lines}", postgresql=not self.sqlite)
        await self.run(self._create_as("stg_structure", select))
        await self.run(f"CREATE INDEX {self.temp}ix_stg_structure_key ON stg_structure (key)")
        return used

    async def definition(self, table: str) -> list[str]:
        """SQLite: the ``CREATE TABLE`` of ``table`` and the ``CREATE INDEX`` of its indexes (those of its
        constraints aside), as this database has them."""
        rows = await self.connection.execute(text(
            "SELECT sql FROM sqlite_master WHERE tbl_name = :table AND sql IS NOT NULL "
            "ORDER BY type = 'index', name"), {"table": table})
        return [str(row[0]) for row in rows]

    async def stored(self) -> tuple[str, str]:
        """The extraction's date and the import's time as this database stores them (:meth:`run`'s ``:seen`` and
        ``:now``), for rows written by another process."""
        row = (await self.connection.execute(text("SELECT :seen, :now").bindparams(
            bindparam("seen", type_=Date()), bindparam("now", type_=UTCDateTime())), self.params)).one()
        return str(row[0]), str(row[1])

    @staticmethod
    def transfer(target: str, source: str) -> str:
        """A copy SQLite makes by transferring records and index entries (``INSERT INTO … SELECT *`` of one whole
        table of the same definition and indexes into an empty one)."""
        return f"INSERT INTO {target} SELECT * FROM {source}"  # noqa: S608

    @staticmethod
    def insert(target: str, source: str, key: str, columns: tuple[str, ...]) -> str:
        """``INSERT INTO target … SELECT … FROM source AS s``: the staged rows as new, active rows seen at this
        extraction (``:seen``, ``:now``, bound by :meth:`run`)."""
        listed = ", ".join(f"s.{column}" for column in columns)
        return (f"INSERT INTO {target} ({key}, {', '.join(columns)}, active, last_seen, updated_at) "  # noqa: S608
                f"SELECT s.{key}, {listed}, true, :seen, :now FROM {source} AS s")

    async def merge(self, target: str, staging: str, key: str, columns: tuple[str, ...],
                    prebuilt: str | None = None, deferred: list[str] | None = None) -> Counts:
        """Merge the staged rows into ``target`` (see the module docstring). ``prebuilt``: SQLite, a table of
        ``target``'s own definition and indexes holding what a first load would insert (the aggregation child's,
        :mod:`directory.aggregate`), copied whole instead (SQLite's transfer of records and index entries).
        ``deferred``: a first load's bulk indexes are added to this list instead of built here (the caller
        builds them later, with :meth:`run`)."""
        def new_rows(source: str) -> str:
            return self.insert(target, source, key, columns)

        if target == "directory_persons" and self.loaded is not None:  # loaded by copy_parts: its indexes now
            counts, bulk_indexes = self.loaded
            await self._build(bulk_indexes, deferred)
            return counts
        s = staging if "." in staging else f"{self.temp}{staging}"  # a staging table, or one of an attached file
        counts = Counts()
        first = await self.empty(target)
        if first and prebuilt is not None:
            counts.inserted = await self.run(self.transfer(target, prebuilt))
            return counts
        if first:  # the first import: a plain ordered load, indexes built once at the end
            bulk_indexes = await self.drop_bulk_indexes(target)
            # SQLite: in key order, so that the unique key's index (a constraint, which it cannot drop: not the
            # activities') grows at its end; PostgreSQL builds that index afterwards by sorting, and the sort here
            # was half the statement
            if self.sqlite and f"uq_{target}_{key}" not in bulk_indexes:
                counts.inserted = await self.run(f"{new_rows(s)} ORDER BY s.{key}")
            else:
                counts.inserted = await self.run(new_rows(s))
            await self._build(bulk_indexes, deferred)
            return counts
        changed = " OR ".join(f"{target}.{column} <> s.{column}" for column in columns)
        assignments = ", ".join(f"{column} = s.{column}" for column in columns)
        counts.updated = await self.run(
            f"UPDATE {target} SET {assignments}, active = true, last_seen = :seen, updated_at = :now "  # noqa: S608
            f"FROM {s} AS s WHERE {target}.{key} = s.{key} AND ({changed} OR NOT {target}.active)"
        )
        await self.run(
            f"UPDATE {target} SET last_seen = :seen WHERE last_seen < :seen "  # noqa: S608
            f"AND EXISTS (SELECT 1 FROM {s} AS s WHERE s.{key} = {target}.{key})"
        )
        counts.inserted = await self.run(
            f"{new_rows(s)} WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE t.{key} = s.{key}) ORDER BY s.{key}"  # noqa: S608
        )
        counts.deactivated = await self.run(
            f"UPDATE {target} SET active = false, updated_at = :now WHERE active "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE s.{key} = {target}.{key})"
        )
        return counts

    async def _build(self, indexes: dict[str, str], deferred: list[str] | None) -> None:
        for definition in indexes.values():
            if deferred is not None:
                deferred.append(definition)
            else:
                await self.run(definition)

    async def drop_bulk_indexes(self, target: str) -> dict[str, str]:
        """A first load: ``target``'s bulk indexes (:data:`BULK_INDEXES`) dropped; returned (name: definition),
        to be built once the rows are in."""
        bulk_indexes = BULK_INDEXES[self.connection.dialect.name].get(target, {})
        for name, definition in bulk_indexes.items():
            constraint = definition.startswith("ALTER TABLE")
            await self.run(f"ALTER TABLE {target} DROP CONSTRAINT {name}" if constraint else f"DROP INDEX {name}")
        return bulk_indexes

    async def count_words(self, vocabulary: dict[str, int]) -> None:
        """Replace the word counts of ``directory_words`` (a planner hint for the search)."""
        await self.run("DELETE FROM directory_words")
        rows = sorted(vocabulary.items())
        raw = await self.connection.get_raw_connection()
        driver: Any = raw.driver_connection
        if self.sqlite:
            await driver.executemany("INSERT INTO directory_words (word, lines) VALUES (?, ?)", rows)
        else:
            await driver.copy_records_to_table("directory_words", records=rows, columns=["word", "lines"])

    async def refresh_search(self, scratch: Path) -> postings.Build | None:
        """Rebuild ``directory_search_persons`` (the search's narrow copy of the persons) in display
        order: one ``INSERT … SELECT … ORDER BY sort_key``, after emptying it unless it is empty already; its
        indexes are dropped before and built once after (a sorted build, not 1.5 million random inserts). On
        SQLite its word index ``directory_search_fts`` is emptied and filled again from it, in ``pos`` order; on
        PostgreSQL its rows' words are exported as they are inserted (the same statement) and its postings gathered
        while the import goes on, from before its indexes are built (:mod:`directory.postings`, files in
        ``scratch``): the caller loads them
        (:meth:`directory.postings.Build.load`) before committing."""
        await self.run("DROP INDEX ix_directory_search_persons_family")  # built once from the loaded rows
        await self.run("DROP INDEX ix_directory_search_persons_pos")
        if not self.sqlite:  # its primary key too (SQLite's is the table: WITHOUT ROWID)
            await self.run(f"ALTER TABLE directory_search_persons DROP CONSTRAINT {SEARCH_PRIMARY}")
        if not await self.empty("directory_search_persons"):
            if self.sqlite:
                await self.run("DELETE FROM directory_search_persons")
                await self.run(SEARCH_FTS_EMPTY)
            else:  # a fresh file (no 1.5 million dead rows before the new ones); DROP INDEX above already locked
                await self.run("TRUNCATE directory_search_persons")  # the table as TRUNCATE does
        if self.sqlite:
            await self.run(SEARCH_FILL)
            await self.run(SEARCH_FAMILY_INDEX)
            await self.run(SEARCH_POS_INDEX)
            await self.run(SEARCH_FTS_HASH)  # only ever filled whole: its term hash stays at 16 MiB (a quarter
            await self.run(SEARCH_FTS_FILL)  # less time than 1 MiB)
            return None
        # PostgreSQL: filled and exported in one statement, its postings gathered while its indexes are built
        with timed(self.steps, step_name(SEARCH_FILL)):  # and the gathering's start
            build = await postings.start(self.connection, scratch, SEARCH_FILL)
        try:
            await self.run(f"ALTER TABLE directory_search_persons ADD CONSTRAINT {SEARCH_PRIMARY} "
                           "PRIMARY KEY (sort_key)")
            await self.run(SEARCH_FAMILY_INDEX)
            await self.run(SEARCH_POS_INDEX)
        except BaseException:
            await build.close()
            raise
        return build

    async def drop(self, *staging: str) -> None:
        """Drop the staging tables; on a connection the import discards, nothing to do (closing it deletes its
        temporary database file at once, where dropping walks every page of the staged rows)."""
        if self.sqlite and not self.discard:
            for name in staging:
                await self.run(f"DROP TABLE IF EXISTS temp.{name}")


async def discard(connection: AsyncConnection) -> None:
    """The end of a SQLite import on a database file: its connection is closed instead of going back to the
    pool, which takes its temporary tables (see :meth:`Merger.drop`), its import settings and the attached
    staging files with it. The next user of the pool opens a fresh connection (a file database is shared by
    all its connections, so nothing else is lost)."""
    await connection.invalidate()


async def restore(connection: AsyncConnection) -> None:
    """SQLite's default page cache back on the pooled connection, and the parsing processes' staging files
    detached, whether the import succeeded or not."""
    if connection.dialect.name == "sqlite":
        await connection.execute(text("PRAGMA cache_size = -2000"))
        await connection.execute(text("PRAGMA temp.cache_size = -2000"))
        for row in (await connection.execute(text("PRAGMA database_list"))).all():
            if str(row[1]).startswith("stg_"):
                await connection.execute(text(f"DETACH DATABASE {row[1]}"))
