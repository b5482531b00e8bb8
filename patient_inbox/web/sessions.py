"""Server-side web sessions: created (and so rotated) at each stage change, ended by idle time or age.

The cookie carries a random token; the table keeps its SHA-256. Logging in, finishing activation and logging
out always issue a new token and delete the old row, so a token fixed or seen before login is worthless
after it (session fixation).

A logged-in (``full``) session, once read, is trusted from memory (:class:`SessionCache`) for a few seconds,
so a page costs no session read. Idle time and age are still checked at every request, the row is still
touched every ``TOUCH_EVERY`` (a touch that finds the row gone ends the session), and logging out or rotating
in this process forgets the token at once. Only another process (or node) deleting the row is seen late, by
at most the cache's ``ttl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, select, update

from patient_inbox.models import PatientAccount, WebSession
from patient_inbox.web.security import new_token, token_id
from storage.engine import Database
from storage.ttl_cache import Missing, TtlCache

TOUCH_EVERY = timedelta(seconds=30)  # write last_seen at most this often (one write per page would be wasteful)
ENROL = "enrol"
FULL = "full"
_SESSION_COLUMNS = [c.key for c in WebSession.__table__.columns]
_ACCOUNT_COLUMNS = [c.key for c in PatientAccount.__table__.columns]
_SESSION_QUERY = (
    select(*WebSession.__table__.columns, *PatientAccount.__table__.columns)
    .join_from(WebSession, PatientAccount, PatientAccount.id == WebSession.patient_id)
    .where(WebSession.id == bindparam("key"))
)  # plain columns, one statement through Database.rows: the session and its account in one round trip


def _rows_to_objects(values: Sequence[Any]) -> tuple[WebSession, PatientAccount]:
    """Transient (never added to any ORM session) copies of the two rows, for reading only."""
    split = len(_SESSION_COLUMNS)
    row = WebSession(**dict(zip(_SESSION_COLUMNS, values[:split], strict=True)))
    account = PatientAccount(**dict(zip(_ACCOUNT_COLUMNS, values[split:], strict=True)))
    return row, account


@dataclass(frozen=True)
class Current:
    token: str
    session: WebSession
    account: PatientAccount


@dataclass
class _Cached:
    session: WebSession  # detached rows, read-only from here on
    account: PatientAccount
    last_seen_at: datetime  # the row's value, as this process last read or wrote it
    read_at: datetime  # when the row was read: trusted until read_at + ttl


class SessionCache:
    """Logged-in sessions read within the last ``ttl`` seconds, by token id, at most ``max_entries`` of them.

    ``ttl`` 0 turns the cache off (every request reads its session row). An entry is trusted from its
    ``read_at`` on (a clock that went back makes it stale).
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        if ttl < 0:
            raise ValueError(f"the session cache ttl must be 0 or more seconds, not {ttl}")
        self._entries: TtlCache[str, _Cached] = TtlCache(ttl=ttl, max_entries=max_entries)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: datetime) -> _Cached | None:
        entry = self._entries.get(key, now.timestamp())
        return None if isinstance(entry, Missing) else entry

    def put(self, key: str, entry: _Cached) -> None:
        self._entries.put(key, entry, entry.read_at.timestamp())

    def forget(self, key: str) -> None:
        self._entries.forget(key)


async def start(
    database: Database,
    *,
    account_id: int,
    stage: str,
    now: datetime,
    replaces: str | None = None,
    max_age: timedelta = timedelta(hours=12),
    cache: SessionCache | None = None,
) -> str:
    """A new session for ``account_id``; the session behind ``replaces`` (a cookie value) is deleted, and so
    are this account's sessions older than ``max_age`` (dead anyway: the table does not grow without bound)."""
    token = new_token()
    if replaces and cache is not None:
        cache.forget(token_id(replaces))
    async with database.write() as session:
        if replaces:
            await session.execute(delete(WebSession).where(WebSession.id == token_id(replaces)))
        await session.execute(
            delete(WebSession).where(WebSession.patient_id == account_id, WebSession.created_at < now - max_age)
        )
        session.add(
            WebSession(id=token_id(token), patient_id=account_id, stage=stage, created_at=now, last_seen_at=now)
        )
    return token


async def end(database: Database, token: str | None, cache: SessionCache | None = None) -> None:
    if token:
        if cache is not None:
            cache.forget(token_id(token))
        async with database.write() as session:
            await session.execute(delete(WebSession).where(WebSession.id == token_id(token)))


async def load(
    database: Database,
    token: str | None,
    *,
    now: datetime,
    idle: timedelta,
    max_age: timedelta,
    cache: SessionCache | None = None,
) -> tuple[Current | None, bool]:
    """The live session behind ``token`` and whether an expired one was found (to tell the person why).

    It reads (unless ``cache`` holds the session), then may write (touch or delete the row) once the read
    connection is back in the pool.
    """
    if not token:
        return None, False
    key = token_id(token)
    entry = cache.get(key, now) if cache is not None else None
    if entry is None:
        found = await database.rows(_SESSION_QUERY, {"key": key})
        if not found:
            return None, False
        row, account = _rows_to_objects(found[0])
        entry = _Cached(row, account, row.last_seen_at, now)
        if cache is not None and row.stage == FULL:  # enrolment rows change (pending_totp): always read
            cache.put(key, entry)
    if now - entry.last_seen_at > idle or now - entry.session.created_at > max_age:
        await end(database, token, cache)
        return None, True
    if now - entry.last_seen_at > TOUCH_EVERY:
        async with database.write() as session:
            touched = await session.execute(
                update(WebSession).where(WebSession.id == key).values(last_seen_at=now)
            )
        if not cast("CursorResult[Any]", touched).rowcount:  # the row is gone: logged out elsewhere since read
            if cache is not None:
                cache.forget(key)
            return None, False
        entry.last_seen_at = now
    return Current(token, entry.session, entry.account), False


async def set_pending_totp(database: Database, token: str, secret: str) -> None:
    async with database.write() as session:
        row = await session.get(WebSession, token_id(token))
        if row is not None:
            row.pending_totp = secret
