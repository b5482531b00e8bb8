"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed transaction survives a crash or a power
loss: the design promises that nothing acknowledged is ever lost. A new database file gets pages of
:data:`SQLITE_PAGE_SIZE` bytes (SQLite's default is 4,096); an existing file keeps the page size it was created
with (docs/storage.md says how to convert one). SQLite allows one writer at a time; callers
that write serialise through :func:`write_lock` to avoid ``database is locked`` errors under load, while
PostgreSQL writers run concurrently.

Hot read paths (a web page) use :meth:`Database.reading`: a connection from a second, autocommit pool, so a
one-statement read costs one round trip on PostgreSQL instead of six (the writers' pool pings each checkout in
a transaction of its own, then runs BEGIN, the query and ROLLBACK). A statement in autocommit sees one
consistent snapshot, like any statement under PostgreSQL's READ COMMITTED; several statements see several.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Connection, Dialect, Engine, Executable, Select, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InvalidRequestError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite database on disk; ``None`` for another engine or an in-memory database (which a
    second connection would not see)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


# Bytes per page of a new SQLite database file. Four times SQLite's default: a bulk write (the directory's import
# of the national extraction, about 2 GB) writes, logs and checkpoints a quarter as many pages and B-tree cells
# (2,000,000 lines: 50.3 -> 45.7 s, its commit's checkpoint 7.5-7.8 -> 4.9-5.1 s; docs/directory.md), while the mail
# store's small transactions log a few pages each either way (bench/smtp_ingest.py, bench/imap.py, bench/web.py:
# see docs/storage.md). Only a new, empty file takes it: the pragma must come before the journal mode,
# which writes the file's first page.
SQLITE_PAGE_SIZE = 16384


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # a no-op on a file that has pages already
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA query_only=ON")  # this connection never writes
    cursor.execute("PRAGMA busy_timeout=0")  # never wait in the event loop: fall back to the threaded reader
    cursor.close()


def _closed_by_the_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Checkout check of the read pool, without a round trip: a connection whose socket the server closed (a
    restart) is replaced (the pool retries on :class:`DisconnectionError`)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """Create the async engine for ``url`` with the settings each backend needs for durability."""
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


T = TypeVar("T")

_AUTOCOMMIT: dict[str, Any] = {
    "isolation_level": "AUTOCOMMIT",
    "skip_autocommit_rollback": True,  # nothing to roll back: no ROLLBACK (or aiosqlite thread hop) per use
    "pool_reset_on_return": None,
}


def create_read_engine(url: str, *, echo: bool = False, pool_size: int = 20) -> AsyncEngine:
    """The engine of :meth:`Database.reading`: autocommit (no BEGIN, no ROLLBACK when the connection goes back
    to the pool) and, on PostgreSQL, a local liveness check at checkout instead of a pinging round trip."""
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, **_AUTOCOMMIT)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size // 2, **_AUTOCOMMIT)
    event.listen(engine.sync_engine, "checkout", _closed_by_the_server)
    return engine


def create_sqlite_loop_reader(url: str, *, echo: bool = False) -> Engine | None:
    """On a SQLite file, a synchronous engine for :meth:`Database.rows`, used from the event loop's thread
    (``None`` for an in-memory database, which another connection would not see)."""
    if sqlite_file(url) is None:
        return None
    engine = sqlalchemy.create_engine(
        make_url(url).set(drivername="sqlite+pysqlite"), echo=echo, poolclass=QueuePool, pool_size=2, max_overflow=8,
        connect_args={"check_same_thread": False}, **_AUTOCOMMIT,
    )
    event.listen(engine, "connect", _sqlite_reader_pragmas)
    return engine


_REQUIRED = object()


@dataclass(frozen=True)
class _Compiled:
    """A read statement compiled once for the fast read paths (the in-loop SQLite reader, PostgreSQL's held
    connections): its SQL, the bound parameters in order with their types' bind processors, and each result
    column's processor (the same conversions SQLAlchemy applies when it executes the statement itself, looked up
    once instead of at every execution)."""

    plain: bool  # False: something this shortcut does not handle (expanding IN, literal binds, not a SELECT)
    sql: str = ""
    names: tuple[str, ...] = ()
    binds: tuple[Callable[[Any], Any] | None, ...] = ()
    results: tuple[Callable[[Any], Any] | None, ...] = ()
    defaults: tuple[Any, ...] = ()  # a literal's own value (``func.f(1)``), else _REQUIRED

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> _Compiled:
        if not isinstance(statement, Select):
            return cls(plain=False)
        compiled = statement.compile(dialect=dialect)
        names = compiled.positiontup
        if names is None or compiled.literal_execute_params or compiled.post_compile_params:
            return cls(plain=False)
        parameters = [compiled.binds[name] for name in names]
        if any(p.callable is not None for p in parameters):
            return cls(plain=False)
        binds = tuple(p.type.dialect_impl(dialect).bind_processor(dialect) for p in parameters)
        defaults = tuple(_REQUIRED if p.required else p.value for p in parameters)
        columns = statement.selected_columns
        try:  # a processor that needs the driver's type code (PostgreSQL numerics) is left to SQLAlchemy
            results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        except (TypeError, InvalidRequestError):
            return cls(plain=False)
        return cls(True, compiled.string, tuple(names), binds, results, defaults)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = [params.get(n, d) for n, d in zip(self.names, self.defaults, strict=True)]
        if _REQUIRED in values:
            missing = [n for n, v in zip(self.names, values, strict=True) if v is _REQUIRED]
            raise InvalidRequestError(f"A value is required for bind parameter {missing[0]!r}")
        return [value if bind is None else bind(value) for value, bind in zip(values, self.binds, strict=True)]

    def convert(self, fetched: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """Rows as tuples, each column through its processor if it has one."""
        converting = [(i, p) for i, p in enumerate(self.results) if p is not None]
        if not converting:
            return [row if type(row) is tuple else tuple(row) for row in fetched]
        rows: list[Sequence[Any]] = []
        for row in fetched:
            values = list(row)
            for i, process in converting:
                values[i] = process(values[i])
            rows.append(tuple(values))
        return rows


class _HeldReaders:
    """PostgreSQL: a few connections of the read pool kept checked out for :meth:`Database.rows`, which runs a
    compiled statement on them through the driver (asyncpg's own prepared-statement cache) instead of through
    SQLAlchemy's execution machinery. Per page this saves the pool checkout and the execution context: about
    0.3 ms of CPU of the 0.4 ms an inbox query cost (``bench/web.py``).

    The connections come from the read pool itself, so they were set up by the dialect (codecs, settings) and
    are in autocommit: nothing to reset between uses. A read that fails here for any reason (a connection the
    server closed, an error the statement raises) is run again by the caller on the ordinary path, which reports
    errors as SQLAlchemy does; a read cancelled mid-flight closes its connection, whose state is unknown.
    Without an idle connection and with ``size`` held, the caller takes the ordinary path too (no waiting here).
    """

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self._engine = engine
        self._size = size
        self._idle: list[tuple[AsyncConnection, Any]] = []
        self._held = 0
        self._dropped: list[AsyncConnection] = []

    async def fetch(self, sql: str, arguments: list[Any]) -> list[Any] | None:
        """The rows, or ``None`` when the caller should run the statement on the ordinary path."""
        if self._dropped:  # connections dropped since: invalidated and handed back to the pool, not kept
            await self._release_dropped()
        held = None
        while self._idle:
            held = self._idle.pop()
            if not held[1].is_closed():
                break
            self._drop(held)
            held = None
        if held is None:
            if self._held >= self._size:
                return None
            self._held += 1
            try:
                connection = await self._engine.connect()
                held = (connection, (await connection.get_raw_connection()).driver_connection)
            except BaseException:
                self._held -= 1
                raise
        try:
            rows: list[Any] = await held[1].fetch(sql, *arguments)
        except Exception:
            self._drop(held)
            return None
        except BaseException:  # cancelled while the server answers: the connection's state is unknown
            self._drop(held)
            raise
        self._idle.append(held)
        return rows

    def _drop(self, held: tuple[AsyncConnection, Any]) -> None:
        self._held -= 1
        held[1].terminate()
        self._dropped.append(held[0])

    async def _release_dropped(self) -> None:
        dropped, self._dropped = self._dropped, []
        for connection in dropped:
            await connection.invalidate()
            await connection.close()

    async def close(self) -> None:
        for connection, _driver in self._idle:
            await connection.close()
        self._idle.clear()
        await self._release_dropped()
        self._held = 0


class Database:
    """An engine, its session factory and, on SQLite, the single-writer lock."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, read_pool_size: int = 20) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, pool_size=pool_size)
        self.reader = create_read_engine(url, echo=echo, pool_size=read_pool_size)
        self._loop_reader = create_sqlite_loop_reader(url, echo=echo)
        self._held_readers = None if is_sqlite(url) else _HeldReaders(self.reader, max(1, read_pool_size // 2))
        self._compiled: dict[Executable, _Compiled] = {}
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.sqlite = is_sqlite(url)
        self.sqlite_path = sqlite_file(url)  # None for PostgreSQL and in-memory SQLite
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

        For short, hot units of work made of several statements (the mail store's batches, IMAP flag changes).
        On a SQLite file the whole unit runs in one worker thread on a plain ``sqlite3`` connection (same file,
        same pragmas) in a ``BEGIN IMMEDIATE`` transaction, so a unit that reads before it writes is atomic too,
        under the same writer lock as :meth:`write`: one thread hop instead of one per statement with aiosqlite.
        ``connection.connection.driver_connection`` is that ``sqlite3`` connection, for raw SQL. On PostgreSQL
        the unit runs through ``AsyncConnection.run_sync`` on a small pool of its own without pre-ping.
        """
        lock: contextlib.AbstractAsyncContextManager[Any] = (
            self._write_lock if self.sqlite else contextlib.nullcontext()
        )
        async with lock:
            if self.sqlite_path is not None:
                return await asyncio.to_thread(self._sync_write, work)
            async with (self._write_engine or self.engine).begin() as connection:
                return await connection.run_sync(work)

    def _sync_write(self, work: Callable[[Connection], T]) -> T:
        with self._sync_engine_lock:
            if self._sync_engine is None:
                url = make_url(self.url).set(drivername="sqlite+pysqlite")
                # isolation_level=None: no implicit BEGIN from the driver; the "begin" event opens each unit.
                engine = create_sync_engine(
                    url, connect_args={"check_same_thread": False, "isolation_level": None}, pool_size=1
                )
                event.listen(engine, "connect", _sqlite_pragmas)
                event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
                self._sync_engine = engine
        with self._sync_engine.begin() as connection:
            return work(connection)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def read_only(self) -> AsyncIterator[AsyncSession]:
        """An ORM session for a page's reads on a connection of the autocommit read pool: on PostgreSQL no
        ping, BEGIN or ROLLBACK around them (four round trips instead of seven for a page of four queries).
        Each statement sees its own snapshot. Reads only: in autocommit a write would be committed at once, so
        write through :meth:`write`."""
        async with self.reader.connect() as connection, AsyncSession(bind=connection) as session:
            yield session

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only, in autocommit: each statement is its own snapshot. Nothing written
        through it is rolled back: write through :meth:`write`."""
        async with self.reader.connect() as connection:
            yield connection

    async def rows(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        """The rows of one read-only statement, as fast as the engine allows.

        PostgreSQL: one round trip on a connection of the autocommit pool, through the driver when the statement
        is a plain SELECT (:class:`_HeldReaders`), else through SQLAlchemy. SQLite file: the statement runs right
        here in the event loop's thread, since an indexed read of a few rows costs less than handing it to aiosqlite's
        thread (four hand-offs per statement, each waiting for the GIL under load); it never waits for a lock
        there (``busy_timeout=0``): if the file is busy (a checkpoint, a recovery), it runs on the threaded
        reader instead, which waits.
        """
        if self._loop_reader is not None:
            try:
                return self._read_in_loop(self._loop_reader, statement, params or {})
            except (OperationalError, sqlite3.OperationalError) as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
        if self._held_readers is not None:
            compiled = self._compiled_for(statement, self.reader.dialect)
            if compiled.plain:
                fetched = await self._held_readers.fetch(compiled.sql, compiled.arguments(params or {}))
                if fetched is not None:
                    return compiled.convert(fetched)
        async with self.reading() as connection:
            return (await connection.execute(statement, params)).all()

    def _compiled_for(self, statement: Executable, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = _Compiled.of(statement, dialect)
            if len(self._compiled) >= 256:  # module-level statements in practice: a bound all the same
                self._compiled.clear()
            self._compiled[statement] = compiled
        return compiled

    def _read_in_loop(self, engine: Engine, statement: Executable, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        compiled = self._compiled_for(statement, engine.dialect)
        if not compiled.plain:
            with engine.connect() as connection:
                return list(connection.execute(statement, params).all())
        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            fetched = driver.execute(compiled.sql, compiled.arguments(params)).fetchall()
        return compiled.convert(fetched)

    async def dispose(self) -> None:
        if self._loop_reader is not None:
            self._loop_reader.dispose()
        if self._held_readers is not None:
            await self._held_readers.close()
        await self.reader.dispose()
        await self.engine.dispose()
        if self._write_engine is not None:
            await self._write_engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None
