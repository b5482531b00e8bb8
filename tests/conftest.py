"""Shared fixtures: databases on both engines, made fresh for each test from a migrated template.

``db_url`` is parametrised over SQLite and PostgreSQL; a test that takes it (or ``database``) runs on both.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.engine import Database
from storage.migrate import upgrade
from tests.gateway import RunningGateway, gateway_settings
from tests.pg import PostgresServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        server.psql("CREATE DATABASE template_mssante")
        asyncio.run(_migrate(server.url("template_mssante")))
        yield server
    finally:
        server.stop()


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL on each engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    yield from _postgres_database(request)


def _postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{next(_counter)}_{abs(hash(request.node.nodeid)) % 10**8}"
    server.psql(f"CREATE DATABASE {name} TEMPLATE template_mssante")
    try:
        yield server.url(name)
    finally:
        server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite database URL, for what exists on SQLite only (no PostgreSQL run to skip)."""
    path = tmp_path / "sqlite-only.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty PostgreSQL database URL, for what exists on PostgreSQL only."""
    yield from _postgres_database(request)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def gateway(db_url: str, tmp_path: Path) -> Iterator[RunningGateway]:
    """The whole server on port 0, in a background thread, on each database engine."""
    running = RunningGateway(gateway_settings(tmp_path / "var", db_url))
    running.start()
    try:
        yield running
    finally:
        running.close()
