from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from directory import models
from directory.importer import import_file
from directory.merge import BULK_INDEXES
from storage.base import Base
from storage.engine import Database
from storage.migrate import alembic_config
from tests.directory.helpers import read_lines, small, write_lines


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


_PRIMARY = text("SELECT conname FROM pg_constraint WHERE contype = 'p' AND conname LIKE 'pk_directory_%'")
_LOADED = {f"pk_directory_{name}" for name in ("persons", "structures", "activities", "mailboxes", "search_persons")}


async def test_first_import_keeps_the_search_indexes(database: Database, tmp_path: Path) -> None:
    """The first load drops and rebuilds the secondary indexes (PostgreSQL: the GIN indexes, the unique
    constraints and the primary keys too); they must be there afterwards, as the migration made them, and
    after an import that changed persons (which rebuilds the search's ordered copy)."""
    generated = small(tmp_path)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    if not database.sqlite:
        async with database.engine.connect() as connection:
            assert {row[0] for row in await connection.execute(_PRIMARY)} >= _LOADED
        header, *lines = read_lines(generated.activity_path)
        newer = write_lines(tmp_path / "v2" / "PS_LibreAcces_Personne_activite_202612010000.txt",
                            [header, *lines[1:]])
        assert (await import_file(database, newer)).deactivated == 1
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
            assert "ix_directory_persons_names_tsv" in names  # FHIR's name searches (0012)
            assert not {"ix_directory_persons_doc_tsv", "ix_directory_persons_facets_tsv"} & names  # postings
            unique = await connection.execute(text(
                "SELECT conname FROM pg_constraint WHERE contype = 'u' AND conname LIKE 'uq_directory_%'"))
            assert {row[0] for row in unique} >= {name for name in every if name.startswith("uq_")}
            assert {row[0] for row in await connection.execute(_PRIMARY)} >= _LOADED
            duplicated = "INSERT INTO directory_search_persons SELECT * FROM directory_search_persons LIMIT 1"
            with pytest.raises(IntegrityError):
                await connection.execute(text(duplicated))
            await connection.rollback()
            hits = await connection.execute(text(
                "SELECT count(*) FROM directory_persons WHERE to_tsvector('simple'::regconfig, doc) @@ "
                "to_tsquery('simple', 'a:*')"))
        assert hits.scalar_one() > 0


def _migrate(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if revision == "heads":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def test_person_index_migration_keeps_the_imported_words(sqlite_url: str, tmp_path: Path) -> None:
    """SQLite: migration 0011 re-creates the persons' full-text index with their words only and fills it from the
    persons already imported; going back restores the filter tokens column, filled too."""
    database = Database(sqlite_url)
    try:
        await import_file(database, small(tmp_path).activity_path)
        for revision, columns in (("0010_directory_no_facets_gin", ["doc", "facets"]), ("heads", ["doc"])):
            async with database.engine.begin() as connection:
                await connection.run_sync(_migrate, revision)
            async with database.engine.connect() as connection:
                found = [row[1] for row in await connection.execute(text("PRAGMA table_info(directory_person_fts)"))]
                assert found == columns
                hits = await connection.execute(text(
                    "SELECT count(*) FROM directory_person_fts WHERE directory_person_fts MATCH 'doc:a*'"))
                holding = await connection.execute(text(
                    "SELECT count(*) FROM directory_persons WHERE ' ' || doc LIKE '% a%'"))
                assert hits.scalar_one() == holding.scalar_one() > 0
                await connection.execute(text("INSERT INTO directory_person_fts(directory_person_fts) "
                                              "VALUES ('integrity-check')"))
    finally:
        await database.dispose()


async def test_person_index_keeps_rows_not_offsets(sqlite_url: str, tmp_path: Path) -> None:
    """SQLite: migration 0013 re-creates the persons' full-text index without the words' offsets nor the
    column sizes (``detail=column, columnsize=0``), filled from the persons already imported, and its triggers
    follow later changes; going back restores the full index. The same rows match either way."""
    database = Database(sqlite_url)
    try:
        await import_file(database, small(tmp_path).activity_path)
        for revision, lean in (("0012_directory_names_gin", False), ("heads", True)):
            async with database.engine.begin() as connection:
                await connection.run_sync(_migrate, revision)
            async with database.engine.begin() as connection:
                schema = (await connection.execute(text(
                    "SELECT sql FROM sqlite_master WHERE name = 'directory_person_fts'"))).scalar_one()
                tables = {row[0] for row in await connection.execute(text("SELECT name FROM sqlite_master"))}
                assert ("detail=column, columnsize=0" in schema) is lean
                assert ("directory_person_fts_docsize" in tables) is not lean
                await connection.execute(text("UPDATE directory_persons SET doc = doc || ' zzqx' "
                                              "WHERE id = (SELECT min(id) FROM directory_persons)"))
                for word in ("a", "zzqx"):
                    hits = await connection.execute(text(
                        f"SELECT count(*) FROM directory_person_fts WHERE directory_person_fts MATCH 'doc:{word}*'"))
                    holding = await connection.execute(text(
                        f"SELECT count(*) FROM directory_persons WHERE ' ' || doc LIKE '% {word}%'"))
                    assert hits.scalar_one() == holding.scalar_one() > 0
                await connection.execute(text("INSERT INTO directory_person_fts(directory_person_fts) "
                                              "VALUES ('integrity-check')"))
                await connection.execute(text(
                    "UPDATE directory_persons SET doc = replace(doc, ' zzqx', '') WHERE doc LIKE '% zzqx'"))
    finally:
        await database.dispose()
