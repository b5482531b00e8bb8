from __future__ import annotations

from sqlalchemy import inspect

from storage.engine import Database
from storage.migrate import is_current, upgrade


async def test_migrations_are_idempotent_and_complete(database: Database) -> None:
    assert await is_current(database)
    await upgrade(database)  # a second run changes nothing and does not fail
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert {"mailboxes", "folders", "message_contents", "folder_messages", "expunged_uids"} <= tables
