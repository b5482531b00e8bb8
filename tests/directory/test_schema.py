from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from directory import models
from storage.base import Base
from storage.engine import Database


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection)
    return [diff for diff in compare_metadata(context, Base.metadata)
            if "directory_" in repr(diff) and "directory_person_fts" not in repr(diff)
            and "_tsv" not in repr(diff) and "_trgm" not in repr(diff)]


async def test_migration_matches_the_models(database: Database) -> None:
    assert models.Person.__tablename__ == "directory_persons"
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
