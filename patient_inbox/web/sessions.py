"""Server-side web sessions: created (and so rotated) at each stage change, ended by idle time or age.

The cookie carries a random token; the table keeps its SHA-256. Logging in, finishing activation and logging
out always issue a new token and delete the old row, so a token fixed or seen before login is worthless
after it (session fixation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from patient_inbox.models import PatientAccount, WebSession
from patient_inbox.web.security import new_token, token_id
from storage.engine import Database

TOUCH_EVERY = timedelta(seconds=30)  # write last_seen at most this often (one write per page would be wasteful)
ENROL = "enrol"
FULL = "full"


@dataclass(frozen=True)
class Current:
    token: str
    session: WebSession
    account: PatientAccount


async def start(
    database: Database,
    *,
    account_id: int,
    stage: str,
    now: datetime,
    replaces: str | None = None,
    max_age: timedelta = timedelta(hours=12),
) -> str:
    """A new session for ``account_id``; the session behind ``replaces`` (a cookie value) is deleted, and so
    are this account's sessions older than ``max_age`` (dead anyway: the table does not grow without bound)."""
    token = new_token()
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


async def end(database: Database, token: str | None) -> None:
    if token:
        async with database.write() as session:
            await session.execute(delete(WebSession).where(WebSession.id == token_id(token)))


async def load(
    database: Database,
    token: str | None,
    *,
    now: datetime,
    idle: timedelta,
    max_age: timedelta,
) -> tuple[Current | None, bool]:
    """The live session behind ``token`` and whether an expired one was found (to tell the person why).

    It reads, then may write (touch or delete the row) once the read connection is back in the pool.
    """
    if not token:
        return None, False
    key = token_id(token)
    query = (
        select(WebSession, PatientAccount)
        .join(PatientAccount, PatientAccount.id == WebSession.patient_id)
        .where(WebSession.id == key)
    )
    async with database.read() as session:
        found = (await session.execute(query)).first()
    if found is None:
        return None, False
    row, account = found
    if now - row.last_seen_at > idle or now - row.created_at > max_age:
        await end(database, token)
        return None, True
    if now - row.last_seen_at > TOUCH_EVERY:
        async with database.write() as session:
            live = await session.get(WebSession, key)
            if live is not None:
                live.last_seen_at = now
    return Current(token, row, account), False


async def set_pending_totp(database: Database, token: str, secret: str) -> None:
    async with database.write() as session:
        row = await session.get(WebSession, token_id(token))
        if row is not None:
            row.pending_totp = secret
