"""The IMAP hot paths on SQLite, in one worker-thread hop each, on per-thread plain ``sqlite3`` connections.

Through SQLAlchemy and aiosqlite, every statement costs several thread hand-offs (about 0.6 ms on the bench
machine), which dominated SELECT, FETCH and the per-command change check. Here a whole operation (its one to
three statements) runs in one hop on a plain ``sqlite3`` connection kept by the worker thread, in one read
transaction, so it sees one committed state. WAL mode (set by :mod:`storage.engine`) lets these readers run
beside the single writer. Writes go through ``database.write()``, or ``database.run_write()`` for batches of
flag changes (:mod:`mail_gateway.imap.flag_writer`: raw SQL on its ``sqlite3`` connection, one hop).

The SQL mirrors :class:`mail_gateway.imap.sql_store.SqlImapStore`'s SQLAlchemy queries, which PostgreSQL uses;
the store contract tests run both.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from mail_gateway.imap.errors import NoSuchFolder
from mail_gateway.imap.store import Changes, FolderInfo, MessageState, Snapshot, StoredMessage

T = TypeVar("T")
CHUNK = 500
_FOLDER = "SELECT id, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq FROM folders"


_SNAPSHOT = (
    "SELECT group_concat(uid), min(CASE WHEN instr(' ' || flags || ' ', ' \\Seen ') = 0 THEN uid END) "
    "FROM folder_messages WHERE folder_id = ?"
)


def _flags(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def _date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _info(row: Sequence[Any]) -> FolderInfo:
    return FolderInfo(int(row[0]), row[1], row[2], bool(row[3]), int(row[4]), int(row[5]), int(row[6]))


def uid_clauses(uids: Sequence[int]) -> list[tuple[str, list[int]]]:
    """Like the SQLAlchemy store: BETWEEN for a dense run, IN lists of at most CHUNK otherwise."""
    if not uids:
        return []
    low, high = min(uids), max(uids)
    if len(uids) > CHUNK and high - low < 4 * len(uids):
        return [("uid BETWEEN ? AND ?", [low, high])]
    ordered = sorted(uids)
    return [
        (f"uid IN ({','.join('?' * len(part))})", part)
        for part in (ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK))
    ]


class SqliteReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            connection.execute("PRAGMA busy_timeout=30000")
            self._local.connection = connection
        return connection

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def job() -> T:
            connection = self._connection()
            connection.execute("BEGIN")  # one snapshot for the whole operation
            try:
                return work(connection)
            finally:
                connection.execute("COMMIT")

        return await asyncio.to_thread(job)

    # Operations -------------------------------------------------------------------------------------------

    async def folder(self, mailbox_id: int, name: str) -> FolderInfo | None:
        def work(db: sqlite3.Connection) -> FolderInfo | None:
            row = db.execute(f"{_FOLDER} WHERE mailbox_id = ? AND name = ?", (mailbox_id, name)).fetchone()
            return _info(row) if row is not None else None

        return await self.run(work)

    async def snapshot(self, folder_id: int) -> Snapshot:
        def work(db: sqlite3.Connection) -> Snapshot:
            row = db.execute(f"{_FOLDER} WHERE id = ?", (folder_id,)).fetchone()
            if row is None:
                raise NoSuchFolder("the folder no longer exists")
            # The UIDs as one string built by SQLite, and the first one without the \Seen flag (a token of the
            # space-separated flags): stepping through a large folder row by row in Python cost more than the
            # rest of a SELECT. Sorted here: group_concat's order is not guaranteed before SQLite 3.44.
            listed, unseen = db.execute(_SNAPSHOT, (folder_id,)).fetchone()
            uids = sorted(map(int, listed.split(","))) if listed else []
            return Snapshot(_info(row), uids, unseen)

        return await self.run(work)

    async def changes(self, folder_id: int, since_modseq: int) -> Changes:
        def work(db: sqlite3.Connection) -> Changes:
            row = db.execute("SELECT highestmodseq FROM folders WHERE id = ?", (folder_id,)).fetchone()
            if row is None:
                raise NoSuchFolder("the folder no longer exists")
            highest = int(row[0])
            if highest <= since_modseq:
                return Changes(highest, [], [])
            changed = [
                MessageState(int(uid), _flags(flags), int(modseq))
                for uid, flags, modseq in db.execute(
                    "SELECT uid, flags, modseq FROM folder_messages WHERE folder_id = ? AND modseq > ? ORDER BY uid",
                    (folder_id, since_modseq),
                )
            ]
            gone = [
                int(uid)
                for (uid,) in db.execute(
                    "SELECT uid FROM expunged_uids WHERE folder_id = ? AND modseq > ? ORDER BY uid",
                    (folder_id, since_modseq),
                )
            ]
            return Changes(highest, changed, gone)

        return await self.run(work)

    async def states(self, folder_id: int, uids: Sequence[int]) -> list[MessageState]:
        wanted = set(uids)

        def work(db: sqlite3.Connection) -> list[MessageState]:
            out: list[MessageState] = []
            for clause, params in uid_clauses(uids):
                rows = db.execute(
                    f"SELECT uid, flags, modseq FROM folder_messages WHERE folder_id = ? AND {clause}",  # noqa: S608
                    (folder_id, *params),
                )
                out += [MessageState(int(u), _flags(f), int(m)) for u, f, m in rows if u in wanted]
            return sorted(out, key=lambda s: s.uid)

        return await self.run(work)

    async def messages(self, folder_id: int, uids: Sequence[int], *, structure: bool) -> list[StoredMessage]:
        wanted = set(uids)
        extra = ", c.structure" if structure else ""

        def work(db: sqlite3.Connection) -> list[StoredMessage]:
            out: list[StoredMessage] = []
            for clause, params in uid_clauses(uids):
                rows = db.execute(
                    "SELECT m.uid, m.flags, m.modseq, m.internal_date, c.size, c.sha256"  # noqa: S608
                    f"{extra} FROM folder_messages m JOIN message_contents c ON c.id = m.content_id "
                    f"WHERE m.folder_id = ? AND m.{clause}",
                    (folder_id, *params),
                )
                for row in rows:
                    if row[0] in wanted:
                        out.append(
                            StoredMessage(
                                int(row[0]),
                                _flags(row[1]),
                                int(row[2]),
                                _date(row[3]),
                                int(row[4]),
                                row[5],
                                json.loads(row[6]) if structure else None,
                            )
                        )
            return sorted(out, key=lambda m: m.uid)

        return await self.run(work)

    async def contents(
        self, wanted: Sequence[tuple[str, int]], from_blob: Callable[[str, int], bytes]
    ) -> list[bytes]:
        """The first ``length`` octets of each ``(sha256, length)``: from the row when the message is small
        (``inline_data``), else through ``from_blob``; all in the same worker-thread hop."""
        names = list(dict.fromkeys(sha for sha, _ in wanted))

        def work(db: sqlite3.Connection) -> list[bytes]:
            inline: dict[str, bytes] = {}
            for start in range(0, len(names), CHUNK):
                part = names[start : start + CHUNK]
                rows = db.execute(
                    "SELECT sha256, inline_data FROM message_contents "  # noqa: S608
                    f"WHERE inline_data IS NOT NULL AND sha256 IN ({','.join('?' * len(part))})",
                    part,
                )
                inline.update(rows)
            return [inline[sha][:length] if sha in inline else from_blob(sha, length) for sha, length in wanted]

        return await self.run(work)
