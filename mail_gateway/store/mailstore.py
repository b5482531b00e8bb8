"""Durable storage of messages into folders, with group commit.

Every message goes through :meth:`MailStore.store`. A small message (up to ``inline_max`` octets, 64 KiB by
default: nearly all mail) is parsed on the spot and its bytes travel in its database row (``inline_data``):
creating a file costs more than everything else a delivery does. A larger one is parsed, and written to the blob
store (temporary file, rename), in a worker thread. Then one writer task per process (several on PostgreSQL)
takes whatever is waiting, up to ``max_batch`` messages, and for the whole batch:

1. if the batch has blobs, makes them durable with one barrier (``syncfs``, or an fsync per file and directory
   where the system lacks it), so a row never refers to bytes that could vanish;
2. in one transaction, inserts each content once (with its bytes when small), allocates UIDs and MODSEQs with
   ``UPDATE folders … RETURNING`` in a fixed order (no deadlocks between writers), inserts the folder rows and
   updates mailbox usage;
3. commits, and only then resolves each caller's future and publishes the folder changes.

So a caller that got its :class:`StoredCopy` back knows the message is on disk and committed: this is what
allows the SMTP ``250`` and the IMAP ``APPEND`` ``OK``. One fsync of the database journal serves the whole
batch, which is how a durable store keeps up with many concurrent senders. If a batch fails, each message is
retried alone so that one bad message does not fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Connection, Table, bindparam, select, text
from sqlalchemy.dialects import sqlite

from mail_gateway.errors import FolderNotFound
from mail_gateway.mime.structure import analyse
from mail_gateway.store.contents import read_contents
from mail_gateway.store.models import Folder, FolderMessage, Mailbox, MessageContent
from mail_gateway.store.notify import ChangeNotifier, FolderChanged
from storage.base import UTCDateTime, utcnow
from storage.blobs import BlobStore, blob_name
from storage.engine import Database

log = structlog.get_logger(__name__)

# Core statements on the tables, built once: SQLAlchemy then compiles each a single time (its compiled cache),
# and the ORM bulk paths, costly per call, are skipped on this hot path.
_FOLDERS = cast(Table, Folder.__table__)
_MAILBOXES = cast(Table, Mailbox.__table__)
_INSTANCES = cast(Table, FolderMessage.__table__)
_CONTENTS = cast(Table, MessageContent.__table__)
_INSERT_INSTANCES = _INSTANCES.insert()
_ADD_USAGE = (
    _MAILBOXES.update()
    .where(_MAILBOXES.c.id == bindparam("mailbox"))
    .values(used_bytes=_MAILBOXES.c.used_bytes + bindparam("grow"))
)


def _allocate_statement(by_id: bool) -> Any:
    folder = _FOLDERS.c.id if by_id else _FOLDERS.c.name
    return (
        _FOLDERS.update()
        .where(_FOLDERS.c.mailbox_id == bindparam("mailbox"), folder == bindparam("folder"))
        .values(
            uidnext=_FOLDERS.c.uidnext + bindparam("count"),
            highestmodseq=_FOLDERS.c.highestmodseq + bindparam("count"),
        )
        .returning(_FOLDERS.c.id, _FOLDERS.c.uidnext, _FOLDERS.c.uidvalidity, _FOLDERS.c.highestmodseq)
    )


_ALLOCATE_BY_ID = _allocate_statement(True)
_ALLOCATE_BY_NAME = _allocate_statement(False)


# PostgreSQL: the folder's allocation and its mailbox's usage in one statement (one round trip less per folder).
_ALLOCATE_AND_GROW_SQL = """WITH f AS (
    UPDATE folders SET uidnext = uidnext + :count, highestmodseq = highestmodseq + :count
    WHERE mailbox_id = :mailbox AND {column} = :folder
    RETURNING id, uidnext, uidvalidity, highestmodseq
), m AS (UPDATE mailboxes SET used_bytes = used_bytes + :grow WHERE id = :mailbox AND EXISTS (SELECT FROM f))
SELECT id, uidnext, uidvalidity, highestmodseq FROM f"""


_ALLOCATE_AND_GROW = {
    True: text(_ALLOCATE_AND_GROW_SQL.replace("{column}", "id")),
    False: text(_ALLOCATE_AND_GROW_SQL.replace("{column}", "name")),
}


INLINE_MAX = 64 * 1024  # default largest message kept in its database row rather than in a file
_PARSE_ON_LOOP = 16 * 1024  # parsing a message this small costs less than a hop to a worker thread

_INSERT_CONTENTS_IGNORE = sqlite.insert(_CONTENTS).on_conflict_do_nothing(index_elements=["sha256"])
# PostgreSQL: every new content of a batch from parallel arrays, ids of the inserted ones returned.
_INSERT_CONTENTS_ARRAYS = text(
    """INSERT INTO message_contents (sha256, size, structure, message_id, created_at, inline_data)
    SELECT sha, size, CAST(structure AS json), message_id, CAST(:created_at AS timestamptz), inline
    FROM unnest(CAST(:shas AS text[]), CAST(:sizes AS bigint[]), CAST(:structures AS text[]),
                CAST(:message_ids AS text[]), CAST(:inline AS bytea[])) AS v(sha, size, structure, message_id, inline)
    ON CONFLICT (sha256) DO NOTHING
    RETURNING sha256, id"""
).bindparams(bindparam("created_at", type_=UTCDateTime()))

FolderRef = str | int  # a folder name within the mailbox, or a folder id


@dataclass(frozen=True)
class StoredCopy:
    mailbox_id: int
    folder_id: int
    uid: int
    uidvalidity: int
    modseq: int
    sha256: str
    size: int


@dataclass
class _Job:
    raw: bytes
    sha256: str
    structure: dict[str, Any]
    targets: list[tuple[int, FolderRef]]
    flags: str
    internal_date: datetime
    inline: bool
    future: asyncio.Future[list[StoredCopy]] = field(repr=False)


def normalise_flags(flags: Iterable[str]) -> str:
    return " ".join(sorted(set(flags), key=str.lower))


class MailStore:
    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        notifier: ChangeNotifier,
        *,
        max_batch: int = 64,
        writers: int | None = None,
        inline_max: int = INLINE_MAX,
    ) -> None:
        self.database = database
        self.inline_max = inline_max
        self.blobs = blobs
        self.notifier = notifier
        self.max_batch = max_batch
        self.writers = writers if writers is not None else (1 if database.sqlite else 2)
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    # Life cycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._writer(), name=f"mailstore-writer-{i}") for i in range(self.writers)
            ]

    async def close(self) -> None:
        """Finish what was submitted, then stop the writers."""
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # API ----------------------------------------------------------------------------------------------

    async def store(
        self,
        raw: bytes,
        targets: Sequence[tuple[int, FolderRef]],
        *,
        flags: Iterable[str] = (),
        internal_date: datetime | None = None,
    ) -> list[StoredCopy]:
        """Store ``raw`` once and file it in each ``(mailbox_id, folder)``; return after the commit."""
        if not targets:
            return []
        self.start()
        inline = len(raw) <= self.inline_max
        if inline and len(raw) <= _PARSE_ON_LOOP:
            structure, sha256 = analyse(raw), blob_name(raw)
        else:
            structure, sha256 = await asyncio.to_thread(self._prepare, raw, inline)
        future: asyncio.Future[list[StoredCopy]] = asyncio.get_running_loop().create_future()
        job = _Job(
            raw, sha256, structure, list(targets), normalise_flags(flags), internal_date or utcnow(), inline, future
        )
        await self._queue.put(job)
        return await future

    def _prepare(self, raw: bytes, inline: bool) -> tuple[dict[str, Any], str]:
        """Worker-thread part: parse once and, unless the bytes go in the row, write the blob (unsynced)."""
        name = blob_name(raw) if inline else self.blobs.write_unsynced(raw)
        return analyse(raw), name

    async def deliver(self, raw: bytes, mailbox_ids: Sequence[int], folder: str = "INBOX") -> list[StoredCopy]:
        return await self.store(raw, [(mailbox_id, folder) for mailbox_id in mailbox_ids])

    async def append(
        self,
        mailbox_id: int,
        folder: FolderRef,
        raw: bytes,
        flags: Iterable[str] = (),
        internal_date: datetime | None = None,
    ) -> StoredCopy:
        copies = await self.store(raw, [(mailbox_id, folder)], flags=flags, internal_date=internal_date)
        return copies[0]

    async def read(self, sha256: str) -> bytes:
        return (await read_contents(self.database, self.blobs, [(sha256, None)]))[0]

    # Writer -------------------------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit_and_resolve(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit_and_resolve(self, batch: list[_Job]) -> None:
        try:
            results = await self._commit(batch)
        except Exception as error:
            if len(batch) == 1:
                log.warning("store.commit_failed", error=type(error).__name__, detail=str(error)[:200])
                if not batch[0].future.done():
                    batch[0].future.set_exception(error)
                return
            for job in batch:  # isolate the failing message
                await self._commit_and_resolve([job])
            return
        changed: dict[int, int] = {}
        for job, copies in zip(batch, results, strict=True):
            for copy in copies:
                changed[copy.folder_id] = max(changed.get(copy.folder_id, 0), copy.modseq)
            if not job.future.done():
                job.future.set_result(copies)
        for folder_id, modseq in changed.items():
            self.notifier.publish(FolderChanged(folder_id, modseq))

    async def _commit(self, batch: list[_Job]) -> list[list[StoredCopy]]:
        files = [job.sha256 for job in batch if not job.inline]
        if files:
            await asyncio.to_thread(self.blobs.barrier, files)
        dialect = "sqlite" if self.database.sqlite else "postgresql"
        return await self.database.run_write(lambda connection: _commit_batch(connection, batch, dialect))


def _commit_batch(connection: Connection, batch: list[_Job], dialect: str) -> list[list[StoredCopy]]:
    """The batch's transaction (synchronous: one worker-thread hop on SQLite, see ``Database.run_write``)."""
    content_ids = _content_ids(connection, batch, dialect)
    grown = dialect == "postgresql"  # usage is raised by the allocation statements there
    allocations = _allocate(connection, batch, grow_usage=grown)
    rows: list[dict[str, Any]] = []
    usage: dict[int, int] = {}
    results: list[list[StoredCopy]] = []
    for index, job in enumerate(batch):
        copies = []
        for target_index in range(len(job.targets)):
            mailbox_id, folder_id, uid, validity, modseq = allocations[(index, target_index)]
            rows.append(
                {
                    "folder_id": folder_id,
                    "uid": uid,
                    "content_id": content_ids[job.sha256],
                    "flags": job.flags,
                    "modseq": modseq,
                    "internal_date": job.internal_date,
                }
            )
            if not grown:
                usage[mailbox_id] = usage.get(mailbox_id, 0) + len(job.raw)
            copies.append(StoredCopy(mailbox_id, folder_id, uid, validity, modseq, job.sha256, len(job.raw)))
        results.append(copies)
    connection.execute(_INSERT_INSTANCES, rows)
    for mailbox_id in sorted(usage):
        connection.execute(_ADD_USAGE, {"mailbox": mailbox_id, "grow": usage[mailbox_id]})
    return results


def _content_ids(connection: Connection, batch: list[_Job], dialect: str) -> dict[str, int]:
    """Insert each new content once and return the ids of all; one statement in the common case."""
    wanted = {job.sha256: job for job in batch}
    jobs = list(wanted.values())
    now = utcnow()
    if dialect == "sqlite":
        # A plain executemany (sqlite3's own loop) and one SELECT cost less here than SQLAlchemy building a
        # multi-row INSERT … RETURNING for each batch; no round trips to save on an embedded database.
        rows = [
            {"sha256": job.sha256, "size": len(job.raw), "structure": job.structure,
             "message_id": _message_id(job.structure), "created_at": now,
             "inline_data": job.raw if job.inline else None}
            for job in jobs
        ]
        connection.execute(_INSERT_CONTENTS_IGNORE, rows)
        found: dict[str, int] = {}
        existing = list(wanted)
    else:
        # One fixed statement over arrays, whatever the batch size: one round trip, no SQL built per batch.
        columns = {
            "shas": [job.sha256 for job in jobs],
            "sizes": [len(job.raw) for job in jobs],
            "structures": [json.dumps(job.structure) for job in jobs],
            "message_ids": [_message_id(job.structure) for job in jobs],
            "inline": [job.raw if job.inline else None for job in jobs],
            "created_at": now,
        }
        found = {sha: content_id for sha, content_id in connection.execute(_INSERT_CONTENTS_ARRAYS, columns)}
        existing = [sha for sha in wanted if sha not in found]  # the same bytes were stored before
    if existing:
        select_ids = select(_CONTENTS.c.sha256, _CONTENTS.c.id).where(_CONTENTS.c.sha256.in_(existing))
        found.update({sha: content_id for sha, content_id in connection.execute(select_ids)})
    return found


def _allocate(
    connection: Connection, batch: list[_Job], *, grow_usage: bool
) -> dict[tuple[int, int], tuple[int, int, int, int, int]]:
    """Allocate one UID and MODSEQ per target: one ``UPDATE … RETURNING`` per folder, folders in a fixed order.

    A folder receiving ``k`` messages gets its UIDNEXT and HIGHESTMODSEQ raised by ``k`` at once; the messages
    take the ``k`` values below the new ones, in submission order. With ``grow_usage`` the same statement adds
    the folder's new octets to its mailbox's usage (mailboxes are then locked in the same fixed order).
    """
    by_folder: dict[tuple[int, FolderRef], list[tuple[int, int]]] = {}
    for j, job in enumerate(batch):
        for t, target in enumerate(job.targets):
            by_folder.setdefault(target, []).append((j, t))
    allocations: dict[tuple[int, int], tuple[int, int, int, int, int]] = {}
    for (mailbox_id, folder), keys in sorted(by_folder.items(), key=lambda item: (item[0][0], str(item[0][1]))):
        count = len(keys)
        by_id = isinstance(folder, int)
        params: dict[str, Any] = {"mailbox": mailbox_id, "folder": folder, "count": count}
        if grow_usage:
            params["grow"] = sum(len(batch[j].raw) for j, _ in keys)
            statement = _ALLOCATE_AND_GROW[by_id]
        else:
            statement = _ALLOCATE_BY_ID if by_id else _ALLOCATE_BY_NAME
        row = connection.execute(statement, params).first()
        if row is None:
            raise FolderNotFound(f"folder {folder!r} does not exist in mailbox {mailbox_id}")
        folder_id, uidnext, validity, modseq = row
        for offset, key in enumerate(keys):
            first = offset - count
            allocations[key] = (mailbox_id, folder_id, uidnext + first, validity, modseq + first + 1)
    return allocations


def _message_id(structure: dict[str, Any]) -> str | None:
    value = structure.get("envelope", {}).get("message-id")
    return value[:998] if isinstance(value, str) else None
