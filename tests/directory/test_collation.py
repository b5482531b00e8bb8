"""A structure's columns are the least of its lines' values in byte order on PostgreSQL too, whatever the
database's collation (``directory.aggregate.structure_select``)."""

from __future__ import annotations

from pathlib import Path

from directory.importer import import_file
from storage.engine import Database
from storage.migrate import upgrade
from tests.directory.helpers import known_directory, person_line, scalar
from tests.pg import PostgresServer

# two persons working at one structure that their lines name differently
FOYER = ("810000000901", "ROUX", "Paul", "10", "Médecin", "", "", "Lyon", "69003", "69383", "69")
ECOLE = ("810000000902", "BLANC", "Marie", "60", "Infirmier", "", "", "Lyon", "69003", "69383", "69")


async def test_a_structure_takes_the_least_values_in_byte_order_on_a_database_of_another_collation(
        postgres_server: PostgresServer, tmp_path: Path) -> None:
    """A structure's columns are the least of its lines' values in byte order (SQLite's, and that of PostgreSQL's
    staging tables), whatever the database's collation: on a French one the first load (lines in
    ``directory_activities_next``, of the database's collation) chose "ÉCOLE" before "FOYER", and the re-import
    of the same file (staged lines, "C") then reported the structure updated."""
    path, _ = known_directory(tmp_path, extra=[person_line(FOYER, "FOYER DES TILLEULS", "TX-COLLATION"),
                                               person_line(ECOLE, "ÉCOLE DES TILLEULS", "TX-COLLATION")])
    postgres_server.psql("CREATE DATABASE collation_fr TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'fr-FR' "
                         "LOCALE 'C.UTF-8'")
    database = Database(postgres_server.url("collation_fr"))
    try:
        await upgrade(database)
        assert await scalar(database, "SELECT 'É' < 'F'") is True  # the database's own order
        await import_file(database, path)  # a first load: the side build
        query = "SELECT name FROM directory_structures WHERE key = 'TX-COLLATION'"
        assert await scalar(database, query) == "FOYER DES TILLEULS"
        again = await import_file(database, path, force=True)
        assert again.details["structures"].updated == 0
        assert await scalar(database, query) == "FOYER DES TILLEULS"
    finally:
        await database.dispose()
        postgres_server.psql("DROP DATABASE IF EXISTS collation_fr WITH (FORCE)")
