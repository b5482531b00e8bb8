"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed transaction survives a crash or a power
loss: the design promises that nothing acknowledged is ever lost. SQLite allows one writer at a time; callers
that write serialise through :func:`write_lock` to avoid ``database is locked`` errors under load, while
PostgreSQL writers run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """Create the async engine for ``url`` with the settings each backend needs for durability."""
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


T = TypeVar("T")


class Database:
    """An engine, its session factory and, on SQLite, the single-writer lock."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.sqlite = is_sqlite(url)
        self._write_lock = asyncio.Lock()
        self._sync_engine: Engine | None = None
        self._sync_engine_lock = threading.Lock()
        # PostgreSQL: hot write units (run_write) get their own small pool without the pre-ping round trip; a
        # connection that broke fails its unit, which the caller retries, and the pool replaces it.
        self._write_engine = (
            None if self.sqlite else create_async_engine(url, echo=echo, pool_size=4, max_overflow=4)
        )

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session for one unit of work that writes; it commits on success and rolls back on error."""
        lock: contextlib.AbstractAsyncContextManager[Any] = (
            self._write_lock if self.sqlite else contextlib.nullcontext()
        )
        async with lock, self.sessions() as session, session.begin():
            yield session

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one committed transaction with a synchronous connection; return its result.

        For short, hot units of work made of several statements. On SQLite the whole unit runs in one worker
        thread on a plain ``sqlite3`` connection (same file, same pragmas), under the same writer lock as
        :meth:`write`: one thread hop instead of one per statement with aiosqlite. On PostgreSQL it runs through
        ``AsyncConnection.run_sync`` on the pooled asyncpg connections.
        """
        lock: contextlib.AbstractAsyncContextManager[Any] = (
            self._write_lock if self.sqlite else contextlib.nullcontext()
        )
        async with lock:
            if self.sqlite and self._file_backed():
                return await asyncio.to_thread(self._sync_write, work)
            async with (self._write_engine or self.engine).begin() as connection:
                return await connection.run_sync(work)

    def _file_backed(self) -> bool:
        database = make_url(self.url).database
        return bool(database) and database != ":memory:"

    def _sync_write(self, work: Callable[[Connection], T]) -> T:
        with self._sync_engine_lock:
            if self._sync_engine is None:
                url = make_url(self.url).set(drivername="sqlite")
                engine = create_sync_engine(url, connect_args={"check_same_thread": False}, pool_size=1)
                event.listen(engine, "connect", _sqlite_pragmas)
                self._sync_engine = engine
        with self._sync_engine.begin() as connection:
            return work(connection)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._write_engine is not None:
            await self._write_engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None
