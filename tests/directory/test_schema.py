from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from directory import models
from directory.importer import import_file
from directory.merge import BULK_INDEXES
from directory.search import search
from directory.search_query import SearchQuery
from storage.base import Base
from storage.engine import Database
from storage.migrate import alembic_config
from tests.directory.helpers import FILLERS, read_lines, small, veran_vanished, write_lines


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


_DUPLICATE_KEY = text(  # an activity given another one's key
    "UPDATE directory_activities SET key = (SELECT max(key) FROM directory_activities) WHERE id = "
    "(SELECT min(id) FROM directory_activities WHERE key < (SELECT max(key) FROM directory_activities))")
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
            assert not {name for name in names if name.startswith("directory_person_fts")}  # gone (0014)
            assert every <= names
            hits = await connection.execute(text(
                "SELECT count(*) FROM directory_search_fts WHERE directory_search_fts MATCH 'a*'"))
        else:
            names = {row[0] for row in await connection.execute(text("SELECT indexname FROM pg_indexes"))}
            assert every <= names
            assert not {"ix_directory_persons_names_tsv", "ix_directory_persons_doc_tsv",
                        "ix_directory_persons_facets_tsv"} & names  # every search reads the postings (0014)
            unique = await connection.execute(text(
                "SELECT conname FROM pg_constraint WHERE contype = 'u' AND conname LIKE 'uq_directory_%'"))
            constraints = {name for table in BULK_INDEXES["postgresql"].values() for name, definition in table.items()
                           if definition.startswith("ALTER TABLE") and name.startswith("uq_")}
            assert {row[0] for row in unique} >= constraints and "uq_directory_activities_key" not in constraints
            assert {row[0] for row in await connection.execute(_PRIMARY)} >= _LOADED
            duplicated = "INSERT INTO directory_search_persons SELECT * FROM directory_search_persons LIMIT 1"
            with pytest.raises(IntegrityError):
                await connection.execute(text(duplicated))
            await connection.rollback()
            hits = await connection.execute(text(
                "SELECT count(*) FROM directory_search_vocabulary WHERE word >= 'a' AND word < 'b'"))
        assert hits.scalar_one() > 0
        assert "uq_directory_activities_key" in every  # a unique index, dropped and built again by a first load
        with pytest.raises(IntegrityError):  # and unique it is
            await connection.execute(_DUPLICATE_KEY)
        await connection.rollback()


async def _there_and_back(database: Database, below: str) -> AsyncIterator[bool]:
    """Up to ``heads``, down to ``below``, up again, yielding after each whether the database is at ``heads``.
    The pool is emptied each time: its connections' prepared statements name the old column types."""
    for revision in ("heads", below, "heads"):
        async with database.engine.begin() as connection:
            await connection.run_sync(_migrate, revision)
        await database.engine.dispose()
        yield revision == "heads"


def _migrate(connection: Connection, revision: str, up: bool | None = None) -> None:
    """Up or down to ``revision`` (``up`` unsaid: up to ``heads``, down to any other)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    if up if up is not None else revision == "heads":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def test_person_index_migration_keeps_the_imported_words(sqlite_url: str, tmp_path: Path) -> None:
    """SQLite: migration 0011 re-creates the persons' full-text index with their words only and fills it from the
    persons already imported; going back restores the filter tokens column, filled too."""
    database = Database(sqlite_url)
    try:
        await import_file(database, small(tmp_path).activity_path)
        for revision, columns, up in (("0010_directory_no_facets_gin", ["doc", "facets"], False),
                                      ("0013_directory_person_fts_lean", ["doc"], True)):
            async with database.engine.begin() as connection:
                await connection.run_sync(_migrate, revision, up)
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
        for revision, lean in (("0012_directory_names_gin", False), ("0013_directory_person_fts_lean", True)):
            async with database.engine.begin() as connection:
                await connection.run_sync(_migrate, revision, lean)
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


async def _copy_and_index(connection: AsyncConnection) -> tuple[list[Any], dict[str, list[int]]]:
    """The copy's rows in display order, and the positions its word index gives for a few words."""
    rows = list((await connection.execute(text(
        "SELECT pos, id, sort_key, doc, facets FROM directory_search_persons ORDER BY sort_key"))).all())
    found: dict[str, list[int]] = {}
    for word in ("veran", "dupont", "lyon", "p10"):
        if connection.dialect.name == "sqlite":
            query = f"SELECT rowid FROM directory_search_fts WHERE directory_search_fts MATCH '\"{word}\"*' ORDER BY 1"
        else:
            query = (f"SELECT DISTINCT p FROM directory_search_postings, unnest(positions) AS p "
                     f"WHERE word >= '{word}' AND word < '{word}~' ORDER BY 1")
        found[word] = [int(row[0]) for row in await connection.execute(text(query))]
    return rows, found


async def test_search_copy_migration_holds_every_person(database: Database, tmp_path: Path) -> None:
    """Migration 0014: the copy holds every person with its active flag, numbered again in display order with
    its word index filled again when a person is inactive, and the person table's own search indexes go; going
    back restores them and a copy of the active persons only. Either way the index matches the copy's words."""
    await veran_vanished(database, tmp_path)
    sqlite = database.sqlite
    index_names = ("SELECT name FROM sqlite_master" if sqlite else "SELECT indexname FROM pg_indexes")
    persons_indexes = {"ix_directory_persons_sort_key", "ix_directory_persons_family_sort",
                       "directory_person_fts" if sqlite else "ix_directory_persons_names_tsv"}
    for revision, every in (("0013_directory_person_fts_lean", False), ("heads", True)):
        async with database.engine.begin() as connection:
            await connection.run_sync(_migrate, revision)
        async with database.engine.connect() as connection:
            names = {row[0] for row in await connection.execute(text(index_names))}
            assert (persons_indexes & names == set()) is every
            assert (persons_indexes <= names) is not every
            rows, found = await _copy_and_index(connection)
            persons = (await connection.execute(text(
                f"SELECT id, sort_key, doc, facets FROM directory_persons {'' if every else 'WHERE active '}"
                "ORDER BY sort_key"))).all()
            assert [tuple(row[1:]) for row in rows] == [tuple(row) for row in persons]
            assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
            for word, positions in found.items():
                holding = [row[0] for row in rows if f" {word}" in f" {row[3]} {row[4]}"]
                assert positions == holding, word
            assert bool(found["veran"]) is every and found["dupont"]
            if sqlite:
                await connection.execute(text(
                    "INSERT INTO directory_search_fts(directory_search_fts) VALUES ('integrity-check')"))
    async with database.read() as session:  # the search reads the copy's active flag
        assert len((await search(session, SearchQuery(q="dupont lyon", limit=100))).items) >= FILLERS
        assert not (await search(session, SearchQuery(q="veran"))).items


async def _tokens_state(connection: AsyncConnection) -> dict[str, list[Any]]:
    """Where filter tokens are stored: the persons' and the copy's ``facets``, the word counts, and the word
    index (SQLite: its terms, through ``fts5vocab``; PostgreSQL: its postings and vocabulary)."""
    state: dict[str, list[Any]] = {table: [tuple(row) for row in await connection.execute(text(
        f"SELECT id, facets FROM {table} ORDER BY id"))] for table in ("directory_persons", "directory_search_persons")}
    state["words"] = [tuple(row) for row in await connection.execute(text(
        "SELECT word, lines FROM directory_words ORDER BY word"))]
    if connection.dialect.name == "sqlite":
        await connection.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms "
                                      "USING fts5vocab(main, directory_search_fts, row)"))
        state["index"] = sorted(str(row[0]) for row in await connection.execute(text(
            "SELECT term FROM temp.search_terms")))
    else:
        state["index"] = [tuple(row) for row in await connection.execute(text(
            "SELECT word, first_pos, positions FROM directory_search_postings ORDER BY word, first_pos"))]
        state["index"] += [tuple(row) for row in await connection.execute(text(
            "SELECT word, lines FROM directory_search_vocabulary ORDER BY word"))]
    return state


async def test_facet_pairs_migration_writes_pairs_with_a_colon(database: Database, tmp_path: Path) -> None:
    """Migration 0015: a profession/place pair is ``p10:c69003``. SQLite's word index holds no pair (its tokenizer
    splits it; the search intersects the two tokens), PostgreSQL's postings hold it whole. Going back writes
    ``p10c69003`` everywhere (SQLite's index holds the pairs again); coming up again gives back exactly what
    the import wrote: the same strings, word counts and index."""
    await veran_vanished(database, tmp_path)
    async with database.engine.connect() as connection:
        imported = await _tokens_state(connection)
    pairs = {token for _, facets in imported["directory_persons"] for token in facets.split(" ") if ":" in token}
    assert {token.split(":")[1][0] for token in pairs} == {"c", "d", "v"}
    joined = {token.replace(":", "") for token in pairs}
    assert {"~" + token for token in pairs} <= {word for word, _ in imported["words"]}
    if database.sqlite:
        assert not joined & set(imported["index"])
        assert all(set(token.split(":")) <= set(imported["index"]) for token in pairs)
    else:
        assert pairs <= {row[0] for row in imported["index"]}
    for revision in ("0014_directory_copy_all_persons", "heads"):
        async with database.engine.begin() as connection:
            await connection.run_sync(_migrate, revision)
        async with database.engine.connect() as connection:
            state = await _tokens_state(connection)
        if revision == "heads":
            assert state == imported
            continue
        for table in ("directory_persons", "directory_search_persons"):
            assert state[table] == [(key, facets.replace(":", "")) for key, facets in imported[table]]
        assert state["words"] == sorted((word.replace(":", ""), lines) for word, lines in imported["words"])
        if database.sqlite:
            assert joined <= set(state["index"])
        else:
            assert sorted(state["index"]) == sorted((row[0].replace(":", ""), *row[1:]) for row in imported["index"])
    async with database.read() as session:  # a profession in a place: the pair on PostgreSQL, both tokens on SQLite
        found = await search(session, SearchQuery(profession="10", city="lyon", limit=100))
        assert found.items and all(item.profession_code == "10" for item in found.items)


async def test_activity_key_migration_keeps_the_rows_and_their_uniqueness(database: Database, tmp_path: Path) -> None:
    """Migration 0016: the activities' key is unique through an index instead of a table constraint (SQLite
    rebuilds the table, PostgreSQL swaps them); the rows stay the same and the key stays unique either way."""
    await import_file(database, small(tmp_path).activity_path)
    rows = "SELECT * FROM directory_activities ORDER BY id"
    constraint = ("SELECT count(*) FROM sqlite_master WHERE name = 'directory_activities' AND sql LIKE "
                  "'%CONSTRAINT uq_directory_activities_key UNIQUE%'" if database.sqlite else
                  "SELECT count(*) FROM pg_constraint WHERE conname = 'uq_directory_activities_key'")
    index = ("SELECT count(*) FROM sqlite_master WHERE name = 'uq_directory_activities_key' AND sql LIKE 'CREATE "
             "UNIQUE%'" if database.sqlite else
             "SELECT count(*) FROM pg_indexes WHERE indexname = 'uq_directory_activities_key'")
    async with database.engine.connect() as connection:
        imported = [tuple(row) for row in await connection.execute(text(rows))]
    assert len(imported) > 10
    for revision, as_index in (("0015_directory_facet_pairs", False), ("heads", True)):
        async with database.engine.begin() as connection:
            await connection.run_sync(_migrate, revision)
        async with database.engine.connect() as connection:
            assert [tuple(row) for row in await connection.execute(text(rows))] == imported
            assert (await connection.execute(text(constraint))).scalar_one() == (0 if as_index else 1)
            named = as_index or not database.sqlite  # a PostgreSQL constraint's index has its name
            assert (await connection.execute(text(index))).scalar_one() == (1 if named else 0)
            with pytest.raises(IntegrityError):
                await connection.execute(_DUPLICATE_KEY)
            await connection.rollback()


async def test_identifier_columns_compare_bytes_on_postgresql(database: Database, tmp_path: Path) -> None:
    """Migration 0017: on PostgreSQL the directory's identifier columns (idNat, keys, FINESS, mailbox addresses)
    have the ``"C"`` collation (their index builds sort twice as fast); going back gives them the default one.
    The lookups and joins through them find the same rows either way (a mailbox's owner, a person by idNat)."""
    generated = small(tmp_path)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    columns = [(table, column) for table, listed in (
        ("directory_persons", ("id_nat", "id_pp")), ("directory_structures", ("key", "finess_site")),
        ("directory_activities", ("key", "id_nat", "structure_key")),
        ("directory_mailboxes", ("address", "domain", "id_nat", "structure_id"))) for column in listed]
    owners = text("SELECT m.address, p.id_nat, s.key FROM directory_mailboxes m "
                  "JOIN directory_persons p ON p.id_nat = m.id_nat "
                  "JOIN directory_activities a ON a.id_nat = p.id_nat "
                  "JOIN directory_structures s ON s.key = a.structure_key ORDER BY 1, 2, 3")
    found = []
    async for upgraded in _there_and_back(database, "0016_directory_activities_key"):
        collation = "C" if upgraded else None
        async with database.engine.connect() as connection:
            if not database.sqlite:
                rows = await connection.execute(text(
                    "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                    "WHERE table_name LIKE 'directory_%'"))
                collations = {(str(row[0]), str(row[1])): row[2] for row in rows}
                assert [collations[key] for key in columns] == [collation] * len(columns)
                assert collations[("directory_persons", "family")] is None  # names keep the default
            found.append([tuple(row) for row in await connection.execute(owners)])
    assert found[0] and found[0] == found[1] == found[2]


async def test_family_names_of_the_search_copy_compare_bytes_on_postgresql(database: Database, tmp_path: Path) -> None:
    """Migration 0018: on PostgreSQL the search copy's folded family names have the ``"C"`` collation (its
    family index builds faster) and the postings' positions no planner statistics; going back gives them the
    default ones. Searches by name, the family equality and prefix the search and the FHIR API use, find the
    same persons in the same order either way."""
    generated = small(tmp_path, persons=120, seed=11)
    await import_file(database, generated.activity_path)
    async with database.engine.connect() as connection:
        families = [str(row[0]) for row in await connection.execute(text(
            "SELECT DISTINCT family_norm FROM directory_search_persons ORDER BY 1 LIMIT 12"))]
    queries = [*families, *(family[:2] for family in families), *(f"{family} {family[:1]}" for family in families)]
    prefix = " OR ".join(f"family_norm LIKE '{family[:2]}%'" for family in families)
    lookups = [f"SELECT sort_key FROM directory_search_persons WHERE family_norm IN "
               f"({', '.join(repr(family) for family in families)}) ORDER BY sort_key",
               f"SELECT sort_key FROM directory_search_persons WHERE {prefix} ORDER BY sort_key"]
    found = []
    async for upgraded in _there_and_back(database, "0017_directory_code_collation"):
        async with database.engine.connect() as connection:
            if not database.sqlite:
                collated = (await connection.execute(text(
                    "SELECT collation_name FROM information_schema.columns WHERE table_name = "
                    "'directory_search_persons' AND column_name = 'family_norm'"))).scalar_one()
                assert collated == ("C" if upgraded else None)
                target = (await connection.execute(text(
                    "SELECT attstattarget FROM pg_attribute WHERE attrelid = 'directory_search_postings'::regclass "
                    "AND attname = 'positions'"))).scalar_one()
                assert target == 0 if upgraded else target in (-1, None)  # -1 (or NULL since PostgreSQL 17): default
            rows = [[str(row[0]) for row in await connection.execute(text(lookup))] for lookup in lookups]
        async with database.read() as session:
            results = [[item.id_nat for item in (await search(session, SearchQuery(q=query, limit=50))).items]
                       for query in queries]
        found.append((rows, results))
    assert all(found[0][0]) and all(found[0][1])
    assert found[0] == found[1] == found[2]
