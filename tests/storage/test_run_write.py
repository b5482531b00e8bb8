"""Database.run_write: one synchronous unit of work, committed whole or not at all, on both engines."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import Connection, Table, func, insert, select

from mail_gateway.store.models import MessageContent
from storage.engine import Database

CONTENTS = cast(Table, MessageContent.__table__)


def add_content(connection: Connection, n: int) -> None:
    connection.execute(
        insert(CONTENTS),
        {"sha256": f"{n:064x}", "size": n, "structure": {}, "created_at": datetime.now(UTC)},
    )


async def count(database: Database) -> int:
    async with database.read() as session:
        return int(await session.scalar(select(func.count()).select_from(MessageContent)) or 0)


async def test_a_unit_commits_whole_or_not_at_all(database: Database) -> None:
    def adds_two(connection: Connection) -> None:
        add_content(connection, 1)
        add_content(connection, 2)

    await database.run_write(adds_two)

    def fails(connection: Connection) -> None:
        add_content(connection, 3)
        raise RuntimeError("the unit breaks after its first write")

    with pytest.raises(RuntimeError, match="breaks"):
        await database.run_write(fails)
    assert await count(database) == 2


async def test_a_sqlite_unit_holds_the_write_lock_from_its_first_read(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE: a unit that reads, then writes what it read, cannot be overtaken by another writer."""
    database = Database(sqlite_url)
    assert database.sqlite_path is not None
    other = sqlite3.connect(database.sqlite_path, timeout=0, isolation_level=None, check_same_thread=False)
    outcome: list[str] = []

    def reads_first(connection: Connection) -> int:
        seen = connection.execute(select(func.count()).select_from(CONTENTS)).scalar_one()
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            outcome.append("another writer got in")
        except sqlite3.OperationalError as error:
            outcome.append(str(error))
        add_content(connection, seen + 1)
        return int(seen)

    try:
        assert await database.run_write(reads_first) == 0
    finally:
        other.close()
        await database.dispose()
    assert outcome == ["database is locked"]
