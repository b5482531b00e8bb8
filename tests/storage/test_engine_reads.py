"""Database.rows and Database.reading: the fast read paths return what the ORM session reads, on both engines."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Executable, Integer, bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError, InvalidRequestError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from patient_inbox.models import PatientAccount
from storage.engine import SQLITE_PAGE_SIZE, Database

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


async def add_account(database: Database, n: int) -> None:
    async with database.write() as session:
        session.add(
            PatientAccount(
                ins=f"1850775123456{n:02d}", address=f"p{n}@patient.example", family_name="Dupont",
                given_names="Élodie", birth_date=NOW.date(), email="e@example.org", state="active",
                created_at=NOW, state_changed_at=NOW, failed_logins=0,
            )
        )


async def test_rows_match_an_orm_read_and_see_each_commit(database: Database) -> None:
    query = select(PatientAccount.id, PatientAccount.address, PatientAccount.created_at).where(
        PatientAccount.family_name == bindparam("name")
    ).order_by(PatientAccount.id)
    assert await database.rows(query, {"name": "Dupont"}) == []
    await add_account(database, 1)
    await add_account(database, 2)
    fast = await database.rows(query, {"name": "Dupont"})
    async with database.read() as session:
        reference = (await session.execute(query, {"name": "Dupont"})).all()
    assert [tuple(r) for r in fast] == [tuple(r) for r in reference]
    assert fast[0][2] == NOW and fast[0][2].tzinfo is not None  # the column types apply (aware UTC datetime)
    async with database.reading() as connection:
        assert (await connection.execute(query, {"name": "Dupont"})).all() == reference


async def test_the_sqlite_loop_reader_never_writes(sqlite_url: str) -> None:
    db_url = sqlite_url
    database = Database(db_url)
    try:
        with pytest.raises(OperationalError, match="attempt to write a readonly database"):
            await database.rows(text("INSERT INTO patient_sessions (id) VALUES ('x')"))
    finally:
        await database.dispose()


async def test_a_locked_sqlite_file_is_read_through_the_waiting_reader(sqlite_url: str) -> None:
    """While another connection holds an exclusive lock, the in-loop read gives way to the threaded one
    (which waits for the lock) instead of failing or blocking the event loop."""
    db_url = sqlite_url
    database = Database(db_url)
    await add_account(database, 1)
    await database.dispose()  # no connection left open: the journal mode can change
    blocker = sqlite3.connect(db_url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None)
    try:
        assert blocker.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
        blocker.execute("BEGIN EXCLUSIVE")  # with a rollback journal, an exclusive lock keeps readers out

        async def release() -> None:
            await asyncio.sleep(0.2)
            blocker.execute("COMMIT")

        threaded = database.reading
        used: list[bool] = []

        def spied() -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
            used.append(True)
            return threaded()

        database.reading = spied  # type: ignore[method-assign,assignment]
        releasing = asyncio.create_task(release())
        rows = await database.rows(select(PatientAccount.address))
        await releasing
        assert [r[0] for r in rows] == ["p1@patient.example"]
        assert used == [True]  # the in-loop read gave way
        assert [r[0] for r in await database.rows(select(PatientAccount.address))] == ["p1@patient.example"]
        assert used == [True]  # and the next read is in the loop again
    finally:
        blocker.close()
        await database.dispose()


async def test_rows_apply_bind_and_result_conversions_like_sqlalchemy(database: Database) -> None:
    """The in-loop reader runs a statement compiled once with the types' own conversions: an aware datetime
    parameter, expanding IN lists and plain SQL text give what an ORM session gives."""
    for n in range(3):
        await add_account(database, n)
    async with database.write() as session:
        await session.execute(
            update(PatientAccount).where(PatientAccount.id == 2).values(created_at=NOW + timedelta(hours=1))
        )
    later = NOW.astimezone(timezone(timedelta(hours=-5)))  # same instant, another zone: compared in UTC
    queries: list[tuple[Executable, dict[str, Any]]] = [
        (
            select(PatientAccount.id, PatientAccount.created_at, PatientAccount.birth_date)
            .where(PatientAccount.created_at <= bindparam("t"))
            .order_by(PatientAccount.id),
            {"t": later},
        ),
        (
            select(PatientAccount.address).where(PatientAccount.id.in_(bindparam("ids", expanding=True)))
            .order_by(PatientAccount.address),
            {"ids": [1, 3]},
        ),
        (text("SELECT count(*) FROM patient_accounts WHERE id > :n"), {"n": 1}),
        # values bound by the statement itself, and one also given by the caller
        (select(PatientAccount.address, func.length(PatientAccount.address)).where(PatientAccount.id > 1), {}),
        (select(PatientAccount.address).where(PatientAccount.id == bindparam("id", 1)), {"id": 2}),
    ]
    for query, params in queries:
        for _ in range(2):  # compiled once, then from the cache
            fast = await database.rows(query, params)
            async with database.read() as session:
                reference = (await session.execute(query, params)).all()
            assert [tuple(r) for r in fast] == [tuple(r) for r in reference], query
    [(first, created, born), (third, _, _)] = await database.rows(queries[0][0], queries[0][1])
    assert [r[0] for r in await database.rows(queries[4][0])] == ["p0@patient.example"]  # default bound value
    with pytest.raises(InvalidRequestError, match="'t'"):
        await database.rows(queries[0][0], {})
    assert (first, third) == (1, 3) and created == NOW and created.tzinfo is not None and born == NOW.date()


# PostgreSQL: Database.rows runs plain SELECTs on held read-pool connections through the driver -------------------


def _held(database: Database) -> Any:
    held = database._held_readers
    assert held is not None
    return held


async def test_postgres_rows_use_held_connections_and_fall_back_beyond_them(postgres_url: str) -> None:
    database = Database(postgres_url, read_pool_size=4)  # two held connections
    try:
        await add_account(database, 1)
        query = select(PatientAccount.address, PatientAccount.created_at)
        assert await database.rows(query) == [("p1@patient.example", NOW)]
        assert _held(database)._held == 1 and len(_held(database)._idle) == 1
        # Ten concurrent reads: two on held connections, the others on the ordinary pool; all answer.
        slow = select(PatientAccount.address, func.pg_sleep(0.05).label("s"))
        answers = await asyncio.gather(*(database.rows(slow) for _ in range(10)))
        assert all([r[0] for r in rows] == ["p1@patient.example"] for rows in answers)
        assert _held(database)._held == 2 and len(_held(database)._idle) == 2
    finally:
        await database.dispose()


async def test_postgres_rows_survive_a_connection_the_server_closed(postgres_url: str) -> None:
    database = Database(postgres_url, read_pool_size=2)
    try:
        await add_account(database, 1)
        query = select(PatientAccount.address, func.pg_backend_pid().label("pid"))
        [(_, pid)] = await database.rows(query)
        async with database.write() as session:  # a restart, as far as this connection is concerned
            await session.execute(select(func.pg_terminate_backend(pid)))
        for _ in range(3):
            [(address, new_pid)] = await database.rows(query)
            assert address == "p1@patient.example" and new_pid != pid
    finally:
        await database.dispose()


async def test_postgres_rows_report_statement_errors_as_sqlalchemy_does(postgres_url: str) -> None:
    database = Database(postgres_url, read_pool_size=2)
    try:
        failing = select((PatientAccount.id // bindparam("zero", type_=Integer)).label("q"))
        await add_account(database, 1)
        with pytest.raises(DBAPIError, match="division by zero"):
            await database.rows(failing, {"zero": 0})
        assert await database.rows(failing, {"zero": 1}) == [(1,)]  # and reads go on
        assert _held(database)._held == 1  # the failed read dropped its connection, the next one took another
        numeric = select((PatientAccount.id / bindparam("two", type_=Integer)).label("q"))
        assert await database.rows(numeric, {"two": 2}) == [(Decimal("0.5"),)]  # left to SQLAlchemy: same result
    finally:
        await database.dispose()


async def test_postgres_rows_cancelled_mid_read_drop_their_connection(postgres_url: str) -> None:
    database = Database(postgres_url, read_pool_size=2)
    try:
        await add_account(database, 1)
        sleeping = asyncio.create_task(database.rows(select(func.pg_sleep(5).label("s"))))
        await asyncio.sleep(0.3)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        assert _held(database)._held == 0 and not _held(database)._idle  # its state was unknown: closed
        assert [r[0] for r in await database.rows(select(PatientAccount.address))] == ["p1@patient.example"]
        assert not _held(database)._dropped  # handed back to the pool by the next read, not kept
    finally:
        await database.dispose()


async def test_read_only_sessions_read_like_read_sessions(database: Database) -> None:
    """Database.read_only: an ORM session on the autocommit read pool sees every commit and loads objects."""
    await add_account(database, 1)
    async with database.read_only() as session:
        [account] = (await session.scalars(select(PatientAccount))).all()
        assert account.address == "p1@patient.example" and account.created_at == NOW
        await add_account(database, 2)  # committed meanwhile: the next statement sees it (its own snapshot)
        assert len((await session.scalars(select(PatientAccount))).all()) == 2


async def test_a_new_sqlite_file_gets_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """A new database file is created with SQLITE_PAGE_SIZE pages in WAL mode; a file created earlier with
    SQLite's default pages is opened, read and written as it is (the pragma cannot change a file with pages)."""
    assert SQLITE_PAGE_SIZE != 4096
    for name, created in (("new.db", None), ("old.db", 4096)):
        path = tmp_path / name
        if created is not None:
            with contextlib.closing(sqlite3.connect(path)) as old:
                old.execute(f"PRAGMA page_size = {created}")
                old.execute("CREATE TABLE kept (value TEXT)")
                old.execute("INSERT INTO kept VALUES ('before')")
                old.commit()
        database = Database(f"sqlite+aiosqlite:///{path}")
        try:
            async with database.write() as session:
                await session.execute(text("CREATE TABLE IF NOT EXISTS kept (value TEXT)"))
                await session.execute(text("INSERT INTO kept VALUES ('after')"))
        finally:
            await database.dispose()
        with contextlib.closing(sqlite3.connect(path)) as check:
            assert check.execute("PRAGMA page_size").fetchone() == (created or SQLITE_PAGE_SIZE,)
            assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert check.execute("SELECT value FROM kept ORDER BY value").fetchall() == (
                [("after",), ("before",)] if created else [("after",)])
