"""The IMAP store over the mail store tables (``folders``, ``folder_messages``, ``message_contents``,
``expunged_uids``), on SQLite and PostgreSQL.

Rules kept by every write (one transaction each, through ``database.write()``):

- a UID or MODSEQ is allocated with ``UPDATE folders SET ... RETURNING``, which also locks the folder row, so
  concurrent writers of one folder commit in allocation order (the MailStore does the same for deliveries);
- several folders are locked in id order (no deadlock between two COPY in opposite directions);
- every changed message gets a MODSEQ above the folder's previous highest; one STORE or EXPUNGE uses one;
- an expunged UID is recorded in ``expunged_uids`` with its MODSEQ (QRESYNC VANISHED, RFC 7162 §3.2.10);
- the change notification is published after the commit.

Appends go through :class:`mail_gateway.store.mailstore.MailStore`, which writes the blob durably first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mail_gateway.imap.errors import FolderExists, NoSuchFolder
from mail_gateway.imap.flag_writer import FlagWriter
from mail_gateway.imap.sql_writes import bump, has_flag, remove, transfer, transfer_pairs, uid_filter
from mail_gateway.imap.sqlite_reads import SqliteReader
from mail_gateway.imap.store import (
    DELIMITER,
    Changes,
    FolderCounts,
    FolderInfo,
    FolderWatch,
    MessageState,
    Snapshot,
    StoredMessage,
)
from mail_gateway.imap.watch import Watch
from mail_gateway.store.contents import read_contents
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.models import ExpungedUid, Folder, FolderMessage, Mailbox, MessageContent
from mail_gateway.store.notify import ChangeNotifier, FolderChanged
from storage.blobs import BlobStore
from storage.engine import Database


def _info(row: Any) -> FolderInfo:
    return FolderInfo(
        int(row.id),
        row.name,
        row.special_use,
        bool(row.subscribed),
        int(row.uidvalidity),
        int(row.uidnext),
        int(row.highestmodseq),
    )


_FOLDER_COLUMNS = (
    Folder.id,
    Folder.name,
    Folder.special_use,
    Folder.subscribed,
    Folder.uidvalidity,
    Folder.uidnext,
    Folder.highestmodseq,
)


def _flags(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


class SqlImapStore:
    def __init__(
        self,
        database: Database,
        blobs: BlobStore,
        mail_store: MailStore,
        notifier: ChangeNotifier,
        *,
        default_quota: int | None = None,
    ) -> None:
        self.database = database
        self.blobs = blobs
        self.mail_store = mail_store
        self.notifier = notifier
        self.default_quota = default_quota
        # SQLite: the hot reads bypass aiosqlite (see sqlite_reads); PostgreSQL uses asyncpg through SQLAlchemy.
        self.fast: SqliteReader | None = None
        if database.sqlite_path is not None:
            self.fast = SqliteReader(database.sqlite_path)
        self.flag_writer = FlagWriter(database, bump, uid_filter, self._publish)

    # Helpers ------------------------------------------------------------------------------------------------

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A Core connection for reads: lighter than an ORM session on the hot paths (SELECT, FETCH)."""
        return self.database.engine.connect()

    def _publish(self, folder_id: int, modseq: int) -> None:
        self.notifier.publish(FolderChanged(folder_id, modseq))

    # Folders ----------------------------------------------------------------------------------------------

    async def folders(self, mailbox_id: int) -> list[FolderInfo]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(*_FOLDER_COLUMNS).where(Folder.mailbox_id == mailbox_id).order_by(Folder.name)
            )
            return [_info(row) for row in rows]

    async def folder(self, mailbox_id: int, name: str) -> FolderInfo | None:
        if self.fast is not None:
            return await self.fast.folder(mailbox_id, name)
        async with self._read() as conn:
            rows = await conn.execute(
                select(*_FOLDER_COLUMNS).where(Folder.mailbox_id == mailbox_id, Folder.name == name)
            )
            row = rows.first()
            return _info(row) if row is not None else None

    async def create_folder(self, mailbox_id: int, name: str, special_use: str | None = None) -> FolderInfo:
        async with self.database.write() as session:
            return _info(await self._create(session, mailbox_id, name, special_use))

    async def _create(self, session: AsyncSession, mailbox_id: int, name: str, special_use: str | None) -> Folder:
        exists = await session.scalar(select(Folder.id).where(Folder.mailbox_id == mailbox_id, Folder.name == name))
        if exists is not None:
            raise FolderExists(f"{name} already exists")
        # RFC 3501 §2.3.1.1: a folder re-created under a name gets a larger UIDVALIDITY than before. Seconds
        # since 1970 fit in 32 bits until 2106; "+1 over the largest of this mailbox" covers fast re-creation.
        top = await session.scalar(select(func.max(Folder.uidvalidity)).where(Folder.mailbox_id == mailbox_id))
        validity = max(int(time.time()), int(top or 0) + 1) & 0xFFFFFFFF
        row = Folder(
            mailbox_id=mailbox_id,
            name=name,
            special_use=special_use,
            uidvalidity=validity,
            uidnext=1,
            highestmodseq=1,
            subscribed=True,
        )
        session.add(row)
        await session.flush()
        return row

    async def delete_folder(self, mailbox_id: int, name: str) -> None:
        async with self.database.write() as session:
            row = await session.scalar(select(Folder).where(Folder.mailbox_id == mailbox_id, Folder.name == name))
            if row is None:
                raise NoSuchFolder(f"{name} does not exist")
            size = await session.scalar(
                select(func.coalesce(func.sum(MessageContent.size), 0))
                .join(FolderMessage, FolderMessage.content_id == MessageContent.id)
                .where(FolderMessage.folder_id == row.id)
            )
            folder_id, modseq = row.id, row.highestmodseq
            await session.execute(delete(FolderMessage).where(FolderMessage.folder_id == folder_id))
            await session.execute(delete(ExpungedUid).where(ExpungedUid.folder_id == folder_id))
            await session.execute(delete(Folder).where(Folder.id == folder_id))
            await session.execute(
                update(Mailbox).where(Mailbox.id == mailbox_id).values(used_bytes=Mailbox.used_bytes - int(size or 0))
            )
        self._publish(folder_id, modseq + 1)  # sessions that have it selected learn it is gone

    async def rename_folder(self, mailbox_id: int, old: str, new: str) -> None:
        moved: tuple[int, int] | None = None
        async with self.database.write() as session:
            rows = list(await session.scalars(select(Folder).where(Folder.mailbox_id == mailbox_id)))
            names = {row.name for row in rows}
            if old not in names:
                raise NoSuchFolder(f"{old} does not exist")
            if new in names:
                raise FolderExists(f"{new} already exists")
            if old == "INBOX":
                # RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name; INBOX stays, empty.
                inbox = next(row for row in rows if row.name == "INBOX")
                target = await self._create(session, mailbox_id, new, None)
                uids = list(await session.scalars(select(FolderMessage.uid).where(FolderMessage.folder_id == inbox.id)))
                if uids:
                    moved = (inbox.id, await transfer(session, inbox.id, uids, target.id, move=True))
            else:
                for row in rows:
                    if row.name == old or row.name.startswith(old + DELIMITER):
                        row.name = new + row.name[len(old) :]
        if moved is not None:
            self._publish(moved[0], moved[1])

    async def set_subscribed(self, mailbox_id: int, name: str, subscribed: bool) -> None:
        async with self.database.write() as session:
            result = await session.execute(
                update(Folder)
                .where(Folder.mailbox_id == mailbox_id, Folder.name == name)
                .values(subscribed=subscribed)
                .returning(Folder.id)
            )
            if result.first() is None:
                raise NoSuchFolder(f"{name} does not exist")

    async def counts(self, folder_id: int) -> FolderCounts:
        async with self._read() as conn:
            folder = (await conn.execute(select(*_FOLDER_COLUMNS).where(Folder.id == folder_id))).first()
            if folder is None:
                raise NoSuchFolder("the folder no longer exists")
            row = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(case((has_flag("\\Seen"), 0), else_=1)), 0),
                        func.coalesce(func.sum(case((has_flag("\\Deleted"), 1), else_=0)), 0),
                        func.coalesce(func.sum(MessageContent.size), 0),
                    )
                    .select_from(FolderMessage)
                    .join(MessageContent, MessageContent.id == FolderMessage.content_id)
                    .where(FolderMessage.folder_id == folder_id)
                )
            ).one()
            return FolderCounts(
                int(row[0]),
                int(row[1]),
                int(row[2]),
                int(row[3]),
                folder.uidnext,
                folder.uidvalidity,
                folder.highestmodseq,
            )

    # Messages ---------------------------------------------------------------------------------------------

    async def snapshot(self, folder_id: int) -> Snapshot:
        if self.fast is not None:
            return await self.fast.snapshot(folder_id)
        async with self._read() as conn:
            folder = (await conn.execute(select(*_FOLDER_COLUMNS).where(Folder.id == folder_id))).first()
            if folder is None:
                raise NoSuchFolder("the folder no longer exists")
            result = await conn.execute(
                select(FolderMessage.uid, FolderMessage.flags)
                .where(FolderMessage.folder_id == folder_id)
                .order_by(FolderMessage.uid)
            )
            uids: list[int] = []
            unseen: int | None = None
            for uid, flags in result:
                uids.append(uid)
                if unseen is None and "\\Seen" not in flags.split():
                    unseen = uid
            return Snapshot(_info(folder), uids, unseen)

    async def changes(self, folder_id: int, since_modseq: int) -> Changes:
        if self.fast is not None:
            return await self.fast.changes(folder_id, since_modseq)
        async with self._read() as session:
            highest = await session.scalar(select(Folder.highestmodseq).where(Folder.id == folder_id))
            if highest is None:
                raise NoSuchFolder("the folder no longer exists")
            if highest <= since_modseq:
                return Changes(int(highest), [], [])
            rows = await session.execute(
                select(FolderMessage.uid, FolderMessage.flags, FolderMessage.modseq)
                .where(FolderMessage.folder_id == folder_id, FolderMessage.modseq > since_modseq)
                .order_by(FolderMessage.uid)
            )
            changed = [MessageState(int(uid), _flags(flags), int(modseq)) for uid, flags, modseq in rows]
            gone = await session.scalars(
                select(ExpungedUid.uid)
                .where(ExpungedUid.folder_id == folder_id, ExpungedUid.modseq > since_modseq)
                .order_by(ExpungedUid.uid)
            )
            return Changes(int(highest), changed, [int(uid) for uid in gone])

    async def states(self, folder_id: int, uids: Sequence[int]) -> list[MessageState]:
        if self.fast is not None:
            return await self.fast.states(folder_id, uids)
        wanted = set(uids)
        out: list[MessageState] = []
        async with self._read() as session:
            for condition in uid_filter(uids):
                rows = await session.execute(
                    select(FolderMessage.uid, FolderMessage.flags, FolderMessage.modseq).where(
                        FolderMessage.folder_id == folder_id, condition
                    )
                )
                out += [MessageState(int(u), _flags(f), int(m)) for u, f, m in rows if u in wanted]
        return sorted(out, key=lambda s: s.uid)

    async def messages(self, folder_id: int, uids: Sequence[int], *, structure: bool) -> list[StoredMessage]:
        if self.fast is not None:
            return await self.fast.messages(folder_id, uids, structure=structure)
        wanted = set(uids)
        columns: list[Any] = [
            FolderMessage.uid,
            FolderMessage.flags,
            FolderMessage.modseq,
            FolderMessage.internal_date,
            MessageContent.size,
            MessageContent.sha256,
        ]
        if structure:
            columns.append(MessageContent.structure)
        out: list[StoredMessage] = []
        async with self._read() as session:
            for condition in uid_filter(uids):
                rows = await session.execute(
                    select(*columns)
                    .join(MessageContent, MessageContent.id == FolderMessage.content_id)
                    .where(FolderMessage.folder_id == folder_id, condition)
                )
                for row in rows:
                    if row[0] in wanted:
                        out.append(
                            StoredMessage(
                                int(row[0]),
                                _flags(row[1]),
                                int(row[2]),
                                row[3],
                                int(row[4]),
                                row[5],
                                row[6] if structure else None,
                            )
                        )
        return sorted(out, key=lambda m: m.uid)

    async def read(self, sha256: str, length: int) -> bytes:
        return (await self.read_many([(sha256, length)]))[0]

    async def read_many(self, wanted: Sequence[tuple[str, int]]) -> list[bytes]:
        if not wanted:
            return []
        if self.fast is not None:
            return await self.fast.contents(wanted, lambda sha, length: self.blobs.read_range(sha, 0, length))
        return await read_contents(self.database, self.blobs, wanted)

    async def store_flags(
        self, folder_id: int, uids: Sequence[int], mode: str, flags: Sequence[str], unchangedsince: int | None
    ) -> tuple[list[MessageState], list[int]]:
        return await self.flag_writer.change(folder_id, uids, mode, flags, unchangedsince)

    async def expunge(self, folder_id: int, uids: Sequence[int] | None) -> list[int]:
        async with self.database.write() as session:
            query = select(FolderMessage.uid).where(FolderMessage.folder_id == folder_id, has_flag("\\Deleted"))
            found = [int(u) for u in await session.scalars(query)]
            gone = sorted(set(found) & set(uids)) if uids is not None else sorted(found)
            if not gone:
                return []
            modseq = await remove(session, folder_id, gone)
        self._publish(folder_id, modseq)
        return gone

    async def copy(
        self, folder_id: int, uids: Sequence[int], target_id: int, *, move: bool
    ) -> tuple[int, list[tuple[int, int]]]:
        async with self.database.write() as session:
            result = await transfer_pairs(session, folder_id, uids, target_id, move=move)
        validity, pairs, source_modseq, target_modseq = result
        if pairs:
            self._publish(target_id, target_modseq)
            if move:
                self._publish(folder_id, source_modseq)
        return validity, pairs

    async def append(
        self, mailbox_id: int, folder_id: int, raw: bytes, flags: Sequence[str], internal_date: datetime | None
    ) -> tuple[int, int]:
        copy = await self.mail_store.append(mailbox_id, folder_id, raw, flags, internal_date)
        return copy.uidvalidity, copy.uid

    async def quota(self, mailbox_id: int) -> tuple[int, int | None]:
        async with self._read() as session:
            row = (
                await session.execute(select(Mailbox.used_bytes, Mailbox.quota_bytes).where(Mailbox.id == mailbox_id))
            ).first()
        if row is None:
            return 0, None
        return int(row[0]), int(row[1]) if row[1] is not None else self.default_quota

    def watch(self, folder_id: int) -> FolderWatch:
        return Watch(self.notifier.subscribe(folder_id))
