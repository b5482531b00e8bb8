"""Database.rows and Database.reading: the fast read paths return what the ORM session reads, on both engines."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Executable, bindparam, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from patient_inbox.models import PatientAccount
from storage.engine import Database

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
    ]
    for query, params in queries:
        for _ in range(2):  # compiled once, then from the cache
            fast = await database.rows(query, params)
            async with database.read() as session:
                reference = (await session.execute(query, params)).all()
            assert [tuple(r) for r in fast] == [tuple(r) for r in reference], query
    [(first, created, born), (third, _, _)] = await database.rows(queries[0][0], queries[0][1])
    assert (first, third) == (1, 3) and created == NOW and created.tzinfo is not None and born == NOW.date()
