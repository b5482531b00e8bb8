"""PostgreSQL, a first load: the structures and the activities built on a second connection, beside the persons.

After the parsing, a first load of the national file is about 45 s of server work on one core (the persons, their
indexes and the search's ordered copy; the structures, the activities and their indexes) while the other core
idles. On a first load (both tables empty) the structures and activities need nothing from the persons, so a
second connection does them at the same time:

1. the parsing processes' ``COPY`` text of the activity lines goes straight into ``directory_activities_next``
   on it (:meth:`SideBuild.open`: the live table's columns and defaults, the same id sequence; a line's number
   is its id), while the persons' goes to the import's connection (into ``directory_persons`` itself when it
   is empty: :class:`Persons`); it removes the repeated lines of the persons listed in several places once the
   import's connection has folded them (:meth:`SideBuild.remove_repeats`);
2. it aggregates the structures into ``directory_structures_next``, builds both tables' indexes and
   constraints under ``_next`` names, analyses them and commits: scratch tables that nothing reads;
3. the import's own transaction then swaps them in (:meth:`SideBuild.swap`): each sequence changes owner, the
   empty live table is dropped, the new one and its indexes take the live names. The directory therefore
   changes only when the import's transaction commits; if anything fails, the ``_next`` tables are dropped
   (:meth:`SideBuild.close`), and any a crash left are dropped by the next import.

Activity imports take a transaction-level advisory lock first (:func:`lock`): one import at a time (another is
refused with a clear message), so that no import drops or swaps another's tables.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from directory.aggregate import STRUCTURE_COLUMNS, structure_select
from directory.errors import ImportRefused
from directory.merge import BULK_INDEXES, Counts, Merger, Steps
from directory.staging import ACTIVITY_COLUMNS as STAGED_ACTIVITY
from directory.staging import PERSON_COLUMNS as STAGED_PERSON
from directory.staging import Staging

SUFFIX = "_next"
TABLES = ("directory_structures", "directory_activities")
ACTIVITIES = f"directory_activities{SUFFIX}"  # loaded by the parsing's COPY (SideBuild.open)
_LINE_TARGETS = {"line_no": "id"}  # a staged activity line's column -> its column in ACTIVITIES
_LOCK = 0x6D7373616E7465  # the advisory lock of directory imports ("mssante")

log = logging.getLogger(__name__)


async def lock(connection: AsyncConnection) -> None:
    """PostgreSQL: this import's lock, held until its transaction ends; refused (:class:`ImportRefused`, nothing
    changed) while another directory import holds it, rather than waiting unseen behind it."""
    taken = await connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK})
    if not taken.scalar_one():
        raise ImportRefused("another import of the directory is running on this database; nothing was imported "
                            "(import again once it has finished)")


async def applies(connection: AsyncConnection) -> bool:
    """A PostgreSQL first load: no structure and no activity yet."""
    if connection.dialect.name != "postgresql":
        return False
    found = await connection.execute(text(
        "SELECT EXISTS (SELECT 1 FROM directory_structures) OR EXISTS (SELECT 1 FROM directory_activities)"))
    return not found.scalar_one()


class Persons:
    """PostgreSQL's first load on the import's connection: the parsing's ``COPY`` of the persons goes straight
    into ``directory_persons`` (empty), as the activities go into ``directory_activities_next``: a person's id is
    the number of their first line, the new rows' values are the columns' defaults meanwhile, the table's bulk
    indexes are dropped first and built by the caller at the end (``deferred``). The persons listed in several
    places are folded there (:meth:`directory.merge.Merger.fold_persons`). Instead of a staging table and an
    ``INSERT … SELECT`` (4 s at 2,000,000 lines); the table is locked by its ``DROP INDEX`` as a first load's
    merge locks it, and every change is in the import's transaction."""

    TABLE = "directory_persons"
    ID_NAT_KEY = f"uq_{TABLE}_id_nat"  # one of its bulk indexes (directory.merge.BULK_INDEXES)

    def __init__(self, merger: Merger) -> None:
        self.merger = merger
        self.deferred: dict[str, str] = {}  # name: definition
        self.folded = 0  # rows the folding removed
        self.staging = Staging(merger.connection, self.TABLE,
                               tuple(_LINE_TARGETS.get(name, name) for name in STAGED_PERSON))

    async def open(self, seen: date, now: datetime) -> Staging:
        self.deferred = dict(await self.merger.drop_bulk_indexes(self.TABLE))
        await self.merger.connection.execute(text(f"ALTER TABLE {self.TABLE} {_new_rows(seen, now)}"))
        return self.staging

    async def fold(self) -> None:
        """Fold the persons listed in several places, if any: their idNat's unique key (one of the deferred
        indexes) is built first, in a savepoint; it fails only when an idNat is there twice, and then the
        persons are folded (:meth:`directory.merge.Merger.fold_persons`) before it is built again at the end.
        Otherwise (a well-formed extraction) ``stg_folded`` is empty and nobody groups 1.5 million persons by
        idNat (1.3 s at 2,000,000 lines)."""
        connection = self.merger.connection
        try:
            async with connection.begin_nested():
                await self.merger.run(self.deferred[self.ID_NAT_KEY])
        except IntegrityError:
            self.folded = await self.merger.fold_persons(self.TABLE, "id")
            return
        del self.deferred[self.ID_NAT_KEY]
        await connection.execute(text("CREATE TEMP TABLE stg_folded (id_nat TEXT NOT NULL) ON COMMIT DROP"))

    async def close(self) -> Counts:
        """The defaults back as they were, the id sequence past the ids; the report's counts."""
        await self.merger.run(f"ALTER TABLE {self.TABLE} {_NO_DEFAULTS}")
        await _ids_past(self.merger, self.TABLE, self.TABLE)
        return Counts(inserted=self.staging.written - self.folded)


_NO_DEFAULTS = ("ALTER COLUMN active DROP DEFAULT, ALTER COLUMN last_seen DROP DEFAULT, "
                "ALTER COLUMN updated_at DROP DEFAULT")


def _new_rows(seen: date, now: datetime) -> str:
    """``ALTER TABLE`` actions: a new row's values (active, seen at this extraction, written now) as defaults."""
    return (f"ALTER COLUMN active SET DEFAULT true, ALTER COLUMN last_seen SET DEFAULT {_literal(seen)}, "
            f"ALTER COLUMN updated_at SET DEFAULT {_literal(now)}")


async def _ids_past(merger: Merger, table: str, loaded: str) -> None:
    """The ids of ``loaded`` are line numbers: ``table``'s id sequence goes past them (a later import's rows)."""
    await merger.run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                     f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {loaded}), false)")


def _literal(value: date | datetime) -> str:
    """A date or an aware datetime as a PostgreSQL literal (a column default: DDL takes no parameters)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass an aware UTC datetime")
        return f"TIMESTAMP WITH TIME ZONE '{value.isoformat()}'"
    return f"DATE '{value.isoformat()}'"


def _next_definition(table: str, name: str, definition: str) -> str:
    """A bulk index or constraint of ``table`` (:data:`directory.merge.BULK_INDEXES`) for the ``_next`` table."""
    renamed = definition.replace(f"{name} ", f"{name}{SUFFIX} ", 1)
    moved = renamed.replace(f" {table} ", f" {table}{SUFFIX} ", 1)
    if renamed in (definition, moved):
        raise AssertionError(f"cannot place {name} on {table}{SUFFIX}: {definition}")
    return moved


async def drop_leftovers(connection: AsyncConnection) -> None:
    await connection.execute(text(f"DROP TABLE IF EXISTS {', '.join(table + SUFFIX for table in TABLES)}"))


class SideBuild:
    """The second connection of a PostgreSQL first load (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, seen: date, now: datetime, steps: Steps | None) -> None:
        self.engine, self.seen, self.now, self.steps = engine, seen, now, steps
        self._stack = contextlib.AsyncExitStack()
        self.connection: AsyncConnection | None = None
        self.merger: Merger | None = None
        self.lines: Staging
        self.removed = 0  # repeated lines removed (remove_repeats)
        self.built = False

    async def open(self) -> Staging:
        """Connect, drop what a crashed import left, and create ``directory_activities_next`` for the parsing's
        ``COPY`` (returned): the live table's columns and defaults (its id sequence), plus the lines' folded
        structure names (``structure_norm``, for the structures; dropped in :meth:`build`), and as defaults the
        values of a new row (active, seen at this extraction, written now). A line's number is its ``id``:
        ids follow the file's order, and :meth:`remove_repeats` finds the later of two lines by it."""
        connection = await self._stack.enter_async_context(self.engine.connect())
        self.connection = connection
        await drop_leftovers(connection)
        await connection.commit()
        await connection.begin()
        self.merger = Merger(connection, self.seen, self.now, steps=self.steps)
        await self.merger.prepare()
        self.lines = Staging(connection, ACTIVITIES, tuple(_LINE_TARGETS.get(name, name) for name in STAGED_ACTIVITY))
        await connection.execute(text(f"CREATE TABLE {ACTIVITIES} (LIKE directory_activities INCLUDING DEFAULTS)"))
        await connection.execute(text(f"ALTER TABLE {ACTIVITIES} ADD COLUMN structure_norm TEXT NOT NULL, "
                                      f"{_new_rows(self.seen, self.now)}"))
        return self.lines

    async def remove_repeats(self, folded: list[str]) -> list[tuple[int, str]]:
        """The activity lines repeated by the persons listed in several places (``folded``: their idNats, from
        :meth:`directory.merge.Merger.fold_persons`), removed; returned for the rejects file."""
        connection, merger = self._open()
        await connection.execute(text("CREATE TEMP TABLE stg_folded (id_nat TEXT NOT NULL) ON COMMIT DROP"))
        if folded:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_records_to_table("stg_folded", records=[(id_nat,) for id_nat in folded])
        repeated = await merger.duplicates(ACTIVITIES, "key", among="stg_folded", number="id")
        self.removed = len(repeated)
        return repeated

    async def build(self) -> dict[str, Counts]:
        """Step 2: the ``_next`` tables, committed; the counts of the report."""
        connection, merger = self._open()
        structures = f"directory_structures{SUFFIX}"
        await merger.run(f"CREATE TABLE {structures} (LIKE directory_structures INCLUDING DEFAULTS)")
        # aggregated straight into it: no staging table to write, index and read again (2-3 s at 2,000,000 lines)
        aggregated = f"({structure_select(ACTIVITIES, postgresql=True)})"
        counts = {"structures": Counts(inserted=await merger.run(
            merger.insert(structures, aggregated, "key", STRUCTURE_COLUMNS)))}
        await merger.run(f"ALTER TABLE {ACTIVITIES} DROP COLUMN structure_norm, {_NO_DEFAULTS}")
        counts["activities"] = Counts(inserted=self.lines.written - self.removed)
        for table in TABLES:
            for name, definition in BULK_INDEXES["postgresql"][table].items():
                await merger.run(_next_definition(table, name, definition))
            await merger.run(f"ANALYZE {table}{SUFFIX}")
        await _ids_past(merger, "directory_activities", ACTIVITIES)
        await connection.commit()
        self.built = True
        return counts

    async def swap(self, connection: AsyncConnection) -> None:
        """Step 3, in the import's transaction: the ``_next`` tables become the live ones."""
        if not self.built:
            raise AssertionError("the side build has not committed its tables")
        for table in TABLES:
            sequence = (await connection.execute(text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                                 {"table": table})).scalar_one()
            if sequence is not None:
                await connection.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {table}{SUFFIX}.id"))
            await connection.execute(text(f"DROP TABLE {table}"))
            await connection.execute(text(f"ALTER TABLE {table}{SUFFIX} RENAME TO {table}"))
            for name in BULK_INDEXES["postgresql"][table]:
                await connection.execute(text(f"ALTER INDEX {name}{SUFFIX} RENAME TO {name}"))

    async def close(self) -> None:
        """Whatever happened: this connection's transaction ends, and ``_next`` tables not swapped in (a failed
        import) are dropped. Dropped whether or not :meth:`build` says it committed them: a build cancelled
        while its commit was under way may have committed them without knowing (``IF EXISTS``: after a swap, or
        a rollback, there is nothing to drop). A build cancelled within a statement may leave this connection
        unusable: then it is closed and they are dropped on a fresh one. If that fails too, the next import drops
        them (:meth:`open`)."""
        dropped = False
        try:
            if self.connection is not None:
                if self.connection.in_transaction():
                    with contextlib.suppress(Exception):  # after a failure (the import's error is the one told)
                        await self.connection.rollback()
                with contextlib.suppress(Exception):
                    await drop_leftovers(self.connection)
                    await self.connection.commit()
                    dropped = True
        finally:
            with contextlib.suppress(Exception):  # a connection already broken: its server session ends with it
                await self._stack.aclose()
        if self.connection is None or dropped:
            return
        try:
            async with self.engine.begin() as fresh:
                await fresh.execute(text("SET LOCAL lock_timeout = '30s'"))  # never stuck behind a lost session
                await drop_leftovers(fresh)
        except Exception as error:  # the import's own outcome stands; the next import drops them
            log.warning("directory import: the second connection's tables were not dropped (%s); the next import "
                        "drops them", error)

    def _open(self) -> tuple[AsyncConnection, Merger]:
        if self.connection is None or self.merger is None:
            raise AssertionError("the side build is not open")
        return self.connection, self.merger
