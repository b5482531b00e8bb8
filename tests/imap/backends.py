"""Both ImapStore implementations behind one test interface: the in-memory store and the SQL store on SQLite
and on the suite's PostgreSQL server."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from mail_gateway.imap.sql_store import SqlImapStore
from mail_gateway.imap.store import ImapStore
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.notify import InProcessNotifier
from storage.blobs import BlobStore
from storage.engine import Database
from tests.imap.memory_store import MemoryStore
from tests.mail_gateway.factories import make_mailbox
from tests.pg import PostgresServer

_names = itertools.count()


class Backend:
    """An ImapStore plus what a test needs to set up data in it."""

    def __init__(
        self,
        store: ImapStore,
        *,
        memory: MemoryStore | None = None,
        mail: MailStore | None = None,
        database: Database | None = None,
    ) -> None:
        self.store = store
        self.memory = memory
        self.mail = mail
        self.database = database
        self._next = itertools.count(1)

    async def mailbox(self, address: str | None = None, quota: int | None = None) -> int:
        if self.memory is not None:
            mailbox_id = next(self._next)
            self.memory.add_mailbox(mailbox_id, quota)
            return mailbox_id
        assert self.database is not None
        return (await make_mailbox(self.database, address, quota=quota)).id

    async def deliver(self, mailbox_id: int, raw: bytes, folder: str = "INBOX", flags: Sequence[str] = ()) -> int:
        if self.memory is not None:
            return self.memory.deliver(mailbox_id, raw, folder, flags)
        assert self.mail is not None
        copy = (await self.mail.store(raw, [(mailbox_id, folder)], flags=flags))[0]
        return copy.uid


@asynccontextmanager
async def sql_backend(url: str, tmp_path: Path) -> AsyncIterator[Backend]:
    database = Database(url)
    notifier = InProcessNotifier()
    blobs = BlobStore(tmp_path / "blobs")
    mail = MailStore(database, blobs, notifier)
    try:
        yield Backend(SqlImapStore(database, blobs, mail, notifier), mail=mail, database=database)
    finally:
        await mail.close()
        await database.dispose()


def database_url(request: pytest.FixtureRequest, engine: str, tmp_path: Path) -> tuple[str, PostgresServer | None]:
    if engine == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / f"imap-{next(_names)}.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}", None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"imap_{next(_names)}_{abs(hash(request.node.nodeid)) % 10**8}"
    server.psql(f"CREATE DATABASE {name} TEMPLATE template_mssante")
    return server.url(name), server


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """ "memory", or a fresh migrated database URL (a sync fixture: the templates are built with asyncio.run)."""
    if request.param == "memory":
        yield "memory"
        return
    url, server = database_url(request, request.param, tmp_path)
    try:
        yield url
    finally:
        if server is not None:
            server.psql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture
async def backend(backend_url: str, tmp_path: Path) -> AsyncIterator[Backend]:
    if backend_url == "memory":
        memory = MemoryStore()
        yield Backend(memory, memory=memory)
        return
    async with sql_backend(backend_url, tmp_path) as made:
        yield made
