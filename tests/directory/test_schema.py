from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from directory import models
from directory.importer import import_file
from directory.merge import BULK_INDEXES
from storage.base import Base
from storage.engine import Database
from tests.directory.helpers import small


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection)
    return [diff for diff in compare_metadata(context, Base.metadata)
            if "directory_" in repr(diff) and "directory_person_fts" not in repr(diff)
            and "directory_search_fts" not in repr(diff)
            and "directory_search_postings" not in repr(diff) and "directory_search_vocabulary" not in repr(diff)
            and "_tsv" not in repr(diff) and "_trgm" not in repr(diff)]


async def test_migration_matches_the_models(database: Database) -> None:
    assert models.Person.__tablename__ == "directory_persons"
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_first_import_keeps_the_search_indexes(database: Database, tmp_path: Path) -> None:
    """The first load drops and rebuilds the secondary indexes (PostgreSQL: the GIN indexes and the unique
    constraints too); they must be there afterwards, as the migration made them."""
    generated = small(tmp_path)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
        every = {name for table in BULK_INDEXES[connection.dialect.name].values() for name in table}
        if database.sqlite:
            names = {row[0] for row in await connection.execute(text("SELECT name FROM sqlite_master"))}
            assert {"directory_person_fts", "directory_persons_fts_insert"} <= names
            assert every <= names
            config = await connection.execute(text("SELECT k, v FROM directory_person_fts_config"))
            assert {row[0]: row[1] for row in config}.get("hashsize", 1024 * 1024) == 1024 * 1024
            hits = await connection.execute(text(
                "SELECT count(*) FROM directory_person_fts WHERE directory_person_fts MATCH 'doc:a*'"))
        else:
            names = {row[0] for row in await connection.execute(text("SELECT indexname FROM pg_indexes"))}
            assert every <= names
            assert "ix_directory_persons_doc_tsv" in names  # filter tokens are read from the postings (0010)
            assert "ix_directory_persons_facets_tsv" not in names
            unique = await connection.execute(text(
                "SELECT conname FROM pg_constraint WHERE contype = 'u' AND conname LIKE 'uq_directory_%'"))
            assert {row[0] for row in unique} >= {name for name in every if name.startswith("uq_")}
            hits = await connection.execute(text(
                "SELECT count(*) FROM directory_persons WHERE to_tsvector('simple'::regconfig, doc) @@ "
                "to_tsquery('simple', 'a:*')"))
        assert hits.scalar_one() > 0
