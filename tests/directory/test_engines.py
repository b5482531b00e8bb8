"""The same data and the same searches give the same pages on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from directory.importer import import_file
from directory.search import search
from directory.search_query import SearchQuery
from storage.engine import Database
from tests.directory.helpers import small
from tests.pg import PostgresServer

QUERIES = [
    SearchQuery(q="martin"), SearchQuery(q="ma", limit=7), SearchQuery(q="jean pierre"), SearchQuery(q="veran"),
    SearchQuery(q="le"), SearchQuery(q="d"), SearchQuery(q="cardio"), SearchQuery(q="infirmier paris"),
    SearchQuery(q="marie", profession="60"), SearchQuery(profession="10", postal_code="69"),
    SearchQuery(profession="10", department="2A"), SearchQuery(city="saint"), SearchQuery(specialty="SM54", limit=5),
    SearchQuery(has_mailbox=True, limit=9), SearchQuery(q="helene"), SearchQuery(q="zoe", has_mailbox=False),
    SearchQuery(q="bou", city="lyon"), SearchQuery(limit=11), SearchQuery(q="de la"),
]


async def _pages(database: Database, query: SearchQuery) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    async with database.read() as session:
        while len(pages) < 4:
            page = await search(session, _with_cursor(query, cursor))
            pages.append([item.id_nat for item in page.items])
            cursor = page.next_cursor
            if cursor is None:
                break
    return pages


def _with_cursor(query: SearchQuery, cursor: str | None) -> SearchQuery:
    return SearchQuery(query.q, query.profession, query.specialty, query.city, query.postal_code, query.department,
                       query.mailbox, query.has_mailbox, cursor, query.limit)


@pytest.mark.postgres
async def test_same_pages_on_both_engines(
    tmp_path: Path, sqlite_template: Path, postgres_server: PostgresServer
) -> None:
    sqlite_path = tmp_path / "engines.db"
    shutil.copyfile(sqlite_template, sqlite_path)
    postgres_server.psql("CREATE DATABASE engines_compare TEMPLATE template_mssante")
    generated = small(tmp_path, persons=400, seed=11)
    databases = [Database(f"sqlite+aiosqlite:///{sqlite_path}"), Database(postgres_server.url("engines_compare"))]
    try:
        for database in databases:
            await import_file(database, generated.activity_path)
            await import_file(database, generated.mailbox_path)
        answered = 0
        for query in QUERIES:
            on_sqlite, on_postgres = [await _pages(database, query) for database in databases]
            assert on_sqlite == on_postgres, query
            answered += bool(on_sqlite[0])
        assert answered >= len(QUERIES) - 4  # the comparison is not between empty pages
    finally:
        for database in databases:
            await database.dispose()
        postgres_server.psql("DROP DATABASE IF EXISTS engines_compare WITH (FORCE)")
