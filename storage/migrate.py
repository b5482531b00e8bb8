"""Bring a database to the newest schema with Alembic (``mssante init`` calls this; it is idempotent).

Each package adds its tables as migration files in ``storage/migrations/versions``; packages developed in
parallel may branch from the foundation revision, so we upgrade to ``heads``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.engine import Database
from storage.errors import MigrationError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


async def upgrade(database: Database) -> None:
    config = alembic_config()
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_upgrade, config)
    except Exception as error:  # any failure here is reported as one clear error
        raise MigrationError(f"the database schema could not be upgraded: {error}") from error


def _current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def is_current(database: Database) -> bool:
    """True when the database is at every head revision (used to refuse to serve an old schema)."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    async with database.engine.connect() as connection:
        current: Any = await connection.run_sync(_current)
    return bool(current == heads)
