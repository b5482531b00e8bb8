"""Group commit for flag changes (STORE, and the implicit ``\\Seen`` of FETCH BODY[]).

On SQLite every write transaction ends in an fsync under the single-writer lock, so 100 clients each storing a
flag would wait for 100 fsyncs in a row. Here concurrent flag changes are queued and one writer task applies
whatever is waiting in one transaction, with one commit, then answers each caller and publishes the changes,
as :class:`mail_gateway.store.mailstore.MailStore` does for deliveries. Each change still gets its own MODSEQ
(``UPDATE folders … RETURNING`` in arrival order). If a batch fails, each change is retried alone so that one
bad request does not fail its neighbours.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mail_gateway.imap.errors import NoSuchFolder
from mail_gateway.imap.sqlite_reads import uid_clauses
from mail_gateway.imap.store import MessageState
from mail_gateway.store.mailstore import normalise_flags
from mail_gateway.store.models import FolderMessage
from storage.engine import Database

CHUNK = 500
MAX_BATCH = 256

Result = tuple[list[MessageState], list[int], int]  # states, refused UIDs, MODSEQ used (0: nothing changed)


@dataclass
class FlagChange:
    folder_id: int
    uids: Sequence[int]
    mode: str  # "" replace, "+" add, "-" remove
    flags: Sequence[str]
    unchangedsince: int | None
    future: asyncio.Future[Result] = field(repr=False)


def _flags(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def _plan(
    change: FlagChange, current: list[tuple[int, str, int]]
) -> tuple[list[MessageState], list[int], dict[str, list[int]]]:
    """Unchanged states, refused UIDs, and the UIDs to update grouped by their new flags."""
    by_flags: dict[str, list[int]] = defaultdict(list)
    states: list[MessageState] = []
    refused: list[int] = []
    for uid, text, old_modseq in sorted(current):
        if change.unchangedsince is not None and old_modseq > change.unchangedsince:
            refused.append(uid)  # RFC 7162 §3.1.3
            continue
        old = _flags(text)
        if change.mode == "+":
            new = normalise_flags([*old, *change.flags])
        elif change.mode == "-":
            new = normalise_flags(f for f in old if f not in change.flags)
        else:
            new = normalise_flags(change.flags)
        if new == text:
            states.append(MessageState(uid, old, old_modseq))
        else:
            by_flags[new].append(uid)
    return states, refused, by_flags


def _apply_sqlite(db: sqlite3.Connection, change: FlagChange) -> Result:
    """:meth:`FlagWriter._apply` in plain SQL, for one thread hop per batch on SQLite."""
    wanted = set(change.uids)
    current: list[tuple[int, str, int]] = []
    for clause, params in uid_clauses(change.uids):
        rows = db.execute(
            f"SELECT uid, flags, modseq FROM folder_messages WHERE folder_id = ? AND {clause}",  # noqa: S608
            (change.folder_id, *params),
        )
        current += [(int(u), f, int(m)) for u, f, m in rows if u in wanted]
    states, refused, by_flags = _plan(change, current)
    modseq = 0
    if by_flags:
        row = db.execute(
            "UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq",
            (change.folder_id,),
        ).fetchone()
        if row is None:
            raise NoSuchFolder("the folder no longer exists")
        modseq = int(row[0])
        for text, group in by_flags.items():
            for i in range(0, len(group), CHUNK):
                part = group[i : i + CHUNK]
                db.execute(
                    f"UPDATE folder_messages SET flags = ?, modseq = ? WHERE folder_id = ? "  # noqa: S608
                    f"AND uid IN ({','.join('?' * len(part))})",
                    (text, modseq, change.folder_id, *part),
                )
            states += [MessageState(uid, _flags(text), modseq) for uid in group]
    return sorted(states, key=lambda s: s.uid), refused, modseq


def _driver(connection: Connection) -> sqlite3.Connection:
    raw = connection.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)  # Database.run_write on a SQLite file
    return raw


class FlagWriter:
    def __init__(
        self,
        database: Database,
        bump: Callable[[AsyncSession, int], Awaitable[tuple[int, int, int]]],
        uid_filter: Callable[[Sequence[int]], list[ColumnElement[bool]]],
        publish: Callable[[int, int], None],
    ) -> None:
        self.database = database
        self._bump = bump
        self._uid_filter = uid_filter
        self._publish = publish
        self._pending: list[FlagChange] = []
        self._writer: asyncio.Task[None] | None = None

    async def change(
        self, folder_id: int, uids: Sequence[int], mode: str, flags: Sequence[str], unchangedsince: int | None
    ) -> tuple[list[MessageState], list[int]]:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append(FlagChange(folder_id, uids, mode, flags, unchangedsince, future))
        if self._writer is None:
            # The writer lives only while there is work: no task outlives the last request.
            self._writer = asyncio.create_task(self._write(), name="imap-flag-writer")
        states, refused, _ = await future
        return states, refused

    async def _write(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._commit(batch)
        finally:
            self._writer = None

    async def _commit(self, batch: list[FlagChange]) -> None:
        try:
            if self.database.sqlite_path is not None:
                # SQLite file: the whole batch in one thread hop, raw SQL on the unit's sqlite3 connection.
                results = await self.database.run_write(
                    lambda connection: [_apply_sqlite(_driver(connection), change) for change in batch]
                )
            else:
                async with self.database.write() as session:
                    results = [await self._apply(session, change) for change in batch]
        except Exception as error:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(error)
                return
            for change in batch:  # isolate the failing one
                await self._commit([change])
            return
        newest: dict[int, int] = {}
        for change, result in zip(batch, results, strict=True):
            if result[2]:
                newest[change.folder_id] = max(newest.get(change.folder_id, 0), result[2])
            if not change.future.done():
                change.future.set_result(result)
        for folder_id, modseq in newest.items():
            self._publish(folder_id, modseq)

    async def _apply(self, session: AsyncSession, change: FlagChange) -> Result:
        wanted = set(change.uids)
        current: list[tuple[int, str, int]] = []
        for condition in self._uid_filter(change.uids):
            rows = await session.execute(
                select(FolderMessage.uid, FolderMessage.flags, FolderMessage.modseq).where(
                    FolderMessage.folder_id == change.folder_id, condition
                )
            )
            current += [(int(u), f, int(m)) for u, f, m in rows if u in wanted]
        states, refused, by_flags = _plan(change, current)
        modseq = 0
        if by_flags:
            # RFC 7162 §3.1: one new MODSEQ for the messages this STORE changed.
            modseq, _, _ = await self._bump(session, change.folder_id)
            for text, group in by_flags.items():
                for i in range(0, len(group), CHUNK):
                    await session.execute(
                        update(FolderMessage)
                        .where(FolderMessage.folder_id == change.folder_id, FolderMessage.uid.in_(group[i : i + CHUNK]))
                        .values(flags=text, modseq=modseq)
                    )
                states += [MessageState(uid, _flags(text), modseq) for uid in group]
        return sorted(states, key=lambda s: s.uid), refused, modseq
