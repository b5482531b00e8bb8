"""A structure's columns are the least of its lines' values in byte order on PostgreSQL too, whatever the
database's collation (``directory.aggregate.structure_select``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from directory.importer import import_file
from storage.engine import Database
from storage.migrate import upgrade
from tests.directory.helpers import read_lines, small, with_field, write_lines
from tests.pg import PostgresServer


async def _scalar(database: Database, sql: str) -> Any:
    async with database.engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


TECHNICAL_ID, STRUCTURE_NAME = 23, 24  # positions in the generated 56-column file


async def test_a_structure_takes_the_least_values_in_byte_order_on_a_database_of_another_collation(
        postgres_server: PostgresServer, tmp_path: Path) -> None:
    """A structure's columns are the least of its lines' values in byte order (SQLite's, and that of PostgreSQL's
    staging tables), whatever the database's collation: on a French one the first load (lines in
    ``directory_activities_next``, of the database's collation) chose "ÉCOLE" before "FOYER", and the re-import
    of the same file (staged lines, "C") then reported the structure updated."""
    header, *lines = read_lines(small(tmp_path, persons=30, seed=6).activity_path)
    for index, name in ((3, "FOYER DES TILLEULS"), (11, "ÉCOLE DES TILLEULS")):  # one new structure, two names
        lines[index] = with_field(with_field(lines[index], TECHNICAL_ID, "TX-COLLATION"), STRUCTURE_NAME, name)
    path = write_lines(tmp_path / "fr" / "PS_LibreAcces_Personne_activite_202611010000.txt", [header, *lines])
    postgres_server.psql("CREATE DATABASE collation_fr TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'fr-FR' "
                         "LOCALE 'C.UTF-8'")
    database = Database(postgres_server.url("collation_fr"))
    try:
        await upgrade(database)
        assert await _scalar(database, "SELECT 'É' < 'F'") is True  # the database's own order
        await import_file(database, path)  # a first load: the side build
        query = "SELECT name FROM directory_structures WHERE key = 'TX-COLLATION'"
        assert await _scalar(database, query) == "FOYER DES TILLEULS"
        again = await import_file(database, path, force=True)
        assert again.details["structures"].updated == 0
        assert await _scalar(database, query) == "FOYER DES TILLEULS"
    finally:
        await database.dispose()
        postgres_server.psql("DROP DATABASE IF EXISTS collation_fr WITH (FORCE)")
