"""PostgreSQL's first load builds the structures and activities on a second connection and swaps them in
(``directory.side_build``): the result is the one the single connection gives, and a failure at any point
leaves the directory as it was, with no scratch table behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from directory import importer, side_build
from directory.errors import ImportRefused
from directory.importer import import_file
from directory.merge import Merger
from directory.models import Activity, Person, Structure
from storage.engine import Database
from tests.directory.helpers import field, read_lines, scalar, small, with_field, write_lines

ID_NAT, FAMILY = 2, 7  # positions in the generated 56-column file
NEXT = ("directory_structures_next", "directory_activities_next")
TABLES = ("directory_persons", "directory_activities")  # loaded by COPY, ids the line numbers


# the ``database`` fixture (tests/conftest.py) on PostgreSQL only: the side build is PostgreSQL's
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


async def _leftovers(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        found = await connection.execute(text("SELECT relname FROM pg_class WHERE relname LIKE '%\\_next%'"))
        return sorted(str(row[0]) for row in found)


async def _definitions(database: Database) -> list[tuple[Any, ...]]:
    """The live tables' columns as the catalogue has them (types, nullability, defaults) and their indexes."""
    async with database.engine.connect() as connection:
        columns = await connection.execute(text(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid "
            "LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE c.relname IN ('directory_persons', 'directory_structures', 'directory_activities') "
            "AND a.attnum > 0 "
            "AND NOT a.attisdropped "
            "ORDER BY c.relname, a.attnum"))
        indexes = await connection.execute(text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename IN ('directory_persons', "
            "'directory_structures', 'directory_activities') ORDER BY indexname"))
        return [tuple(row) for row in [*columns, *indexes]]


async def _rows(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with database.read() as session:
        for model in (Person, Structure, Activity):
            columns = [column for column in model.__table__.c if column.name not in ("id", "updated_at")]
            out[model.__tablename__] = sorted(tuple(row) for row in (await session.execute(select(*columns))).all())
    return out


async def test_first_load_on_two_connections_gives_the_single_connection_result(
        database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = small(tmp_path, persons=120, seed=3)
    header, *lines = read_lines(generated.activity_path)
    # the second line again at the end: its person listed in two places (folded), the line itself rejected
    first = write_lines(tmp_path / "v1" / generated.activity_path.name, [header, *lines, lines[1]])
    migrated = await _definitions(database)
    report = await import_file(database, first)
    assert report.rejected == 1 and report.details["persons"].inserted == 120
    side = await _rows(database)
    # the same tables as the migrations': no column the load used left behind, no default it set, the same indexes
    assert await _definitions(database) == migrated
    assert await _leftovers(database) == []
    # the ids are the line numbers (the header is line 1): an activity's own, a person's first line's
    assert await scalar(database, "SELECT min(id) FROM directory_activities") == 2
    folded = field(lines[1], ID_NAT)
    assert await scalar(database, f"SELECT id FROM directory_persons WHERE id_nat = '{folded}'") == \
        2 + next(index for index, line in enumerate(lines) if field(line, ID_NAT) == folded)
    # the sequences went with the new tables: still owned by the live columns, and later rows get new ids
    for table in ("directory_structures", "directory_activities"):
        assert await scalar(database, f"SELECT pg_get_serial_sequence('{table}', 'id')") == f"public.{table}_id_seq"
    largest = {table: await scalar(database, f"SELECT max(id) FROM {table}") for table in TABLES}
    newer = write_lines(tmp_path / "v2" / "PS_LibreAcces_Personne_activite_202612010000.txt",
                        [header, *lines, with_field(with_field(lines[1], ID_NAT, "899999999999"), FAMILY, "NOUVELLE")])
    assert (await import_file(database, newer)).details["activities"].inserted == 1  # not a first load: one connection
    for table, before in largest.items():
        assert await scalar(database, f"SELECT max(id) FROM {table}") > before, table
    # the same file with the side build turned off gives the same rows and counts
    async with database.engine.begin() as connection:
        await connection.execute(text("TRUNCATE directory_structures, directory_activities, directory_persons, "
                                      "directory_search_persons, directory_imports"))
    monkeypatch.setattr(side_build, "applies", _never)
    single = await import_file(database, first)
    assert await _rows(database) == side
    assert single.details == report.details


async def _never(_connection: Any) -> bool:
    return False


@pytest.mark.parametrize("where", ["persons", "side", "after", "commit", "unusable"])
async def test_a_failure_anywhere_leaves_the_directory_empty_and_no_scratch_table(
        database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """``persons``: the import's connection fails while the side build runs; ``side``: the side build fails;
    ``after``: the import fails after the side build committed its tables; ``commit``: the side build is stopped
    as its commit ends (the tables committed, the build not knowing it: a cancellation under load);
    ``unusable``: the side build's connection is left unusable once its tables are committed (a build cancelled
    within a statement: it cannot even be rolled back), so they are dropped on another connection."""
    generated = small(tmp_path, persons=60, seed=4)

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"broken {where}")

    if where == "persons":
        monkeypatch.setattr(Merger, "refresh_search", broken)
    elif where == "side":
        monkeypatch.setattr(side_build.SideBuild, "swap", broken)  # never reached: the build fails first
        original = Merger.run

        async def run(self: Merger, sql: str) -> int:
            if "directory_activities_next" in sql and sql.startswith("ALTER TABLE"):
                raise RuntimeError("broken side")
            return await original(self, sql)

        monkeypatch.setattr(Merger, "run", run)
    elif where == "commit":
        build = side_build.SideBuild.build

        async def unaware(self: side_build.SideBuild) -> dict[str, Any]:
            await build(self)
            self.built = False
            raise RuntimeError("broken commit")

        monkeypatch.setattr(side_build.SideBuild, "build", unaware)
    elif where == "unusable":
        build = side_build.SideBuild.build
        rollback = AsyncConnection.rollback

        async def broken_build(self: side_build.SideBuild) -> dict[str, Any]:
            await build(self)
            assert self.connection is not None
            await self.connection.begin()
            await self.connection.invalidate()  # in a transaction that, below, cannot be rolled back
            broken_connections.append(self.connection)
            raise RuntimeError("broken unusable")

        async def no_rollback(self: AsyncConnection) -> None:
            if self in broken_connections:
                raise RuntimeError("cannot roll back")
            await rollback(self)

        broken_connections: list[AsyncConnection] = []
        monkeypatch.setattr(side_build.SideBuild, "build", broken_build)
        monkeypatch.setattr(AsyncConnection, "rollback", no_rollback)
    else:
        monkeypatch.setattr(importer, "_words", broken)
    with pytest.raises(RuntimeError, match=f"broken {where}"):
        await import_file(database, generated.activity_path)
    assert await _leftovers(database) == []
    for table in ("directory_persons", "directory_structures", "directory_activities", "directory_imports"):
        assert await scalar(database, f"SELECT count(*) FROM {table}") == 0
    monkeypatch.undo()
    report = await import_file(database, generated.activity_path)
    assert report.details["activities"].inserted == generated.activity_lines


async def test_tables_a_crash_left_are_dropped_by_the_next_import(database: Database, tmp_path: Path) -> None:
    async with database.engine.begin() as connection:
        for name in NEXT:
            await connection.execute(text(f"CREATE TABLE {name} (id integer)"))
    generated = small(tmp_path, persons=30, seed=5)
    report = await import_file(database, generated.activity_path)
    assert report.details["activities"].inserted == generated.activity_lines
    assert await _leftovers(database) == []


async def test_an_import_is_refused_while_another_runs(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path, persons=20, seed=6)
    async with database.engine.connect() as other:  # another import's transaction, holding the lock
        await side_build.lock(other)
        with pytest.raises(ImportRefused, match="another import of the directory is running"):
            await import_file(database, generated.activity_path)
        await other.rollback()
    assert await scalar(database, "SELECT count(*) FROM directory_persons") == 0
    report = await import_file(database, generated.activity_path)  # the lock went with that transaction
    assert report.inserted == 20
