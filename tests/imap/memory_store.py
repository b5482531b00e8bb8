"""An in-memory :class:`ImapStore` for transcript tests: same contract as the SQL store, no database.

It keeps the rules the SQL store keeps: UIDs and MODSEQs grow per folder, every change bumps the folder's
highest MODSEQ, expunged UIDs are remembered with their MODSEQ, and each change is published after it is made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mail_gateway.imap.errors import FolderExists, NoSuchFolder
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
from mail_gateway.mime.structure import analyse
from mail_gateway.store.notify import FolderChanged, InProcessNotifier


@dataclass
class _Message:
    uid: int
    sha256: str
    flags: tuple[str, ...]
    modseq: int
    internal_date: datetime


@dataclass
class _Folder:
    id: int
    mailbox_id: int
    name: str
    special_use: str | None
    uidvalidity: int
    subscribed: bool = True
    uidnext: int = 1
    highestmodseq: int = 1
    messages: dict[int, _Message] = field(default_factory=dict)
    expunged: dict[int, int] = field(default_factory=dict)

    def info(self) -> FolderInfo:
        return FolderInfo(
            self.id, self.name, self.special_use, self.subscribed, self.uidvalidity, self.uidnext, self.highestmodseq
        )

    def bump(self) -> int:
        self.highestmodseq += 1
        return self.highestmodseq


def _flags(flags: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(set(flags), key=str.lower))


class MemoryStore:
    def __init__(self, notifier: InProcessNotifier | None = None) -> None:
        self.notifier = notifier or InProcessNotifier()
        self._folders: dict[int, _Folder] = {}
        self._blobs: dict[str, bytes] = {}
        self._structures: dict[str, dict[str, Any]] = {}
        self._quota: dict[int, int | None] = {}
        self._next_id = 1
        self._validity = 1000

    # Test set-up -----------------------------------------------------------------------------------------

    def add_mailbox(self, mailbox_id: int, quota: int | None = None) -> None:
        self._quota[mailbox_id] = quota
        for name, use in (("INBOX", None), ("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash")):
            self._new_folder(mailbox_id, name, use)

    def deliver(self, mailbox_id: int, raw: bytes, folder: str = "INBOX", flags: Sequence[str] = ()) -> int:
        target = self._by_name(mailbox_id, folder)
        uid = self._add(target, raw, flags, datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
        self._publish(target)
        return uid

    # Internals ------------------------------------------------------------------------------------------

    def _new_folder(self, mailbox_id: int, name: str, use: str | None) -> _Folder:
        self._validity += 1
        folder = _Folder(self._next_id, mailbox_id, name, use, self._validity)
        self._folders[folder.id] = folder
        self._next_id += 1
        return folder

    def _by_name(self, mailbox_id: int, name: str) -> _Folder:
        for folder in self._folders.values():
            if folder.mailbox_id == mailbox_id and folder.name == name:
                return folder
        raise NoSuchFolder(f"{name} does not exist")

    def _get(self, folder_id: int) -> _Folder:
        folder = self._folders.get(folder_id)
        if folder is None:
            raise NoSuchFolder("the folder no longer exists")
        return folder

    def _add(self, folder: _Folder, raw: bytes, flags: Sequence[str], date: datetime) -> int:
        sha = hashlib.sha256(raw).hexdigest()
        if sha not in self._blobs:
            self._blobs[sha] = raw
            self._structures[sha] = analyse(raw)
        uid = folder.uidnext
        folder.uidnext += 1
        folder.messages[uid] = _Message(uid, sha, _flags(flags), folder.bump(), date)
        return uid

    def _publish(self, folder: _Folder) -> None:
        self.notifier.publish(FolderChanged(folder.id, folder.highestmodseq))

    # ImapStore ----------------------------------------------------------------------------------------------

    async def folders(self, mailbox_id: int) -> list[FolderInfo]:
        return sorted((f.info() for f in self._folders.values() if f.mailbox_id == mailbox_id), key=lambda f: f.name)

    async def folder(self, mailbox_id: int, name: str) -> FolderInfo | None:
        try:
            return self._by_name(mailbox_id, name).info()
        except NoSuchFolder:
            return None

    async def create_folder(self, mailbox_id: int, name: str, special_use: str | None = None) -> FolderInfo:
        if await self.folder(mailbox_id, name) is not None:
            raise FolderExists(f"{name} already exists")
        return self._new_folder(mailbox_id, name, special_use).info()

    async def delete_folder(self, mailbox_id: int, name: str) -> None:
        folder = self._by_name(mailbox_id, name)
        del self._folders[folder.id]
        self._publish(folder)

    async def rename_folder(self, mailbox_id: int, old: str, new: str) -> None:
        source = self._by_name(mailbox_id, old)
        if old == "INBOX":
            target = self._new_folder(mailbox_id, new, None)
            for message in sorted(source.messages.values(), key=lambda m: m.uid):
                self._add(target, self._blobs[message.sha256], message.flags, message.internal_date)
                source.expunged[message.uid] = source.bump()
            source.messages.clear()
            self._publish(source)
            return
        for folder in self._folders.values():
            if folder.mailbox_id == mailbox_id and (folder.name == old or folder.name.startswith(old + DELIMITER)):
                folder.name = new + folder.name[len(old) :]

    async def set_subscribed(self, mailbox_id: int, name: str, subscribed: bool) -> None:
        self._by_name(mailbox_id, name).subscribed = subscribed

    async def counts(self, folder_id: int) -> FolderCounts:
        folder = self._get(folder_id)
        messages = folder.messages.values()
        return FolderCounts(
            len(folder.messages),
            sum("\\Seen" not in m.flags for m in messages),
            sum("\\Deleted" in m.flags for m in messages),
            sum(len(self._blobs[m.sha256]) for m in messages),
            folder.uidnext,
            folder.uidvalidity,
            folder.highestmodseq,
        )

    async def snapshot(self, folder_id: int) -> Snapshot:
        folder = self._get(folder_id)
        uids = sorted(folder.messages)
        unseen = next((u for u in uids if "\\Seen" not in folder.messages[u].flags), None)
        return Snapshot(folder.info(), uids, unseen)

    async def changes(self, folder_id: int, since_modseq: int) -> Changes:
        folder = self._get(folder_id)
        changed = [
            MessageState(m.uid, m.flags, m.modseq)
            for m in sorted(folder.messages.values(), key=lambda m: m.uid)
            if m.modseq > since_modseq
        ]
        expunged = sorted(uid for uid, modseq in folder.expunged.items() if modseq > since_modseq)
        return Changes(folder.highestmodseq, changed, expunged)

    async def states(self, folder_id: int, uids: Sequence[int]) -> list[MessageState]:
        folder = self._get(folder_id)
        return [
            MessageState(uid, folder.messages[uid].flags, folder.messages[uid].modseq)
            for uid in sorted(set(uids))
            if uid in folder.messages
        ]

    async def messages(self, folder_id: int, uids: Sequence[int], *, structure: bool) -> list[StoredMessage]:
        folder = self._get(folder_id)
        out = []
        for uid in sorted(set(uids)):
            m = folder.messages.get(uid)
            if m is None:
                continue
            out.append(
                StoredMessage(
                    m.uid,
                    m.flags,
                    m.modseq,
                    m.internal_date,
                    len(self._blobs[m.sha256]),
                    m.sha256,
                    self._structures[m.sha256] if structure else None,
                )
            )
        return out

    async def read(self, sha256: str, length: int) -> bytes:
        return self._blobs[sha256][:length]

    async def read_many(self, wanted: Sequence[tuple[str, int]]) -> list[bytes]:
        return [self._blobs[sha][:length] for sha, length in wanted]

    async def store_flags(
        self, folder_id: int, uids: Sequence[int], mode: str, flags: Sequence[str], unchangedsince: int | None
    ) -> tuple[list[MessageState], list[int]]:
        folder = self._get(folder_id)
        states: list[MessageState] = []
        refused: list[int] = []
        for uid in uids:
            m = folder.messages.get(uid)
            if m is None:
                continue
            if unchangedsince is not None and m.modseq > unchangedsince:
                refused.append(uid)
                continue
            if mode == "+":
                new = _flags([*m.flags, *flags])
            elif mode == "-":
                new = _flags([f for f in m.flags if f not in flags])
            else:
                new = _flags(flags)
            if new != m.flags:
                m.flags = new
                m.modseq = folder.bump()
            states.append(MessageState(uid, m.flags, m.modseq))
        self._publish(folder)
        return states, refused

    async def expunge(self, folder_id: int, uids: Sequence[int] | None) -> list[int]:
        folder = self._get(folder_id)
        chosen = set(uids) if uids is not None else set(folder.messages)
        gone = sorted(u for u in chosen if u in folder.messages and "\\Deleted" in folder.messages[u].flags)
        if gone:
            modseq = folder.bump()
            for uid in gone:
                del folder.messages[uid]
                folder.expunged[uid] = modseq
            self._publish(folder)
        return gone

    async def copy(
        self, folder_id: int, uids: Sequence[int], target_id: int, *, move: bool
    ) -> tuple[int, list[tuple[int, int]]]:
        source = self._get(folder_id)
        target = self._get(target_id)
        pairs = []
        for uid in sorted(uids):
            m = source.messages.get(uid)
            if m is None:
                continue
            pairs.append((uid, self._add(target, self._blobs[m.sha256], m.flags, m.internal_date)))
        if move and pairs:
            modseq = source.bump()
            for uid, _ in pairs:
                del source.messages[uid]
                source.expunged[uid] = modseq
            self._publish(source)
        self._publish(target)
        return target.uidvalidity, pairs

    async def append(
        self, mailbox_id: int, folder_id: int, raw: bytes, flags: Sequence[str], internal_date: datetime | None
    ) -> tuple[int, int]:
        folder = self._get(folder_id)
        uid = self._add(folder, raw, flags, internal_date or datetime.now(UTC))
        self._publish(folder)
        return folder.uidvalidity, uid

    async def quota(self, mailbox_id: int) -> tuple[int, int | None]:
        used = sum(
            len(self._blobs[m.sha256])
            for f in self._folders.values()
            if f.mailbox_id == mailbox_id
            for m in f.messages.values()
        )
        return used, self._quota.get(mailbox_id)

    def watch(self, folder_id: int) -> FolderWatch:
        return Watch(self.notifier.subscribe(folder_id))
