"""What the IMAP handlers need from a mail store, as a ``Protocol``.

Two implementations: :class:`mail_gateway.imap.sql_store.SqlImapStore` over the mail store tables, and the
in-memory store of the tests. Both allocate UIDs and MODSEQs inside the same unit of work that changes a folder,
publish a change notification after the commit, and raise :mod:`mail_gateway.imap.errors` for refusals.

Folder names are UTF-8 with ``/`` as the hierarchy delimiter; ``INBOX`` is always spelt so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

DELIMITER = "/"


@dataclass(frozen=True)
class FolderInfo:
    id: int
    name: str
    special_use: str | None
    subscribed: bool
    uidvalidity: int
    uidnext: int
    highestmodseq: int


@dataclass(frozen=True)
class FolderCounts:
    """STATUS data (RFC 3501 §6.3.10, RFC 7162 §3.1.2, RFC 8438 SIZE, RFC 9051 DELETED)."""

    messages: int
    unseen: int
    deleted: int
    size: int
    uidnext: int
    uidvalidity: int
    highestmodseq: int


@dataclass(frozen=True)
class Snapshot:
    """What SELECT needs: the folder, its UIDs in order and the UID of the first unseen message."""

    folder: FolderInfo
    uids: Sequence[int]
    first_unseen_uid: int | None


@dataclass(frozen=True)
class MessageState:
    uid: int
    flags: tuple[str, ...]
    modseq: int


@dataclass(frozen=True)
class StoredMessage:
    uid: int
    flags: tuple[str, ...]
    modseq: int
    internal_date: datetime
    size: int
    sha256: str
    structure: dict[str, Any] | None  # None unless asked for


@dataclass(frozen=True)
class Changes:
    """Everything that happened in a folder after a MODSEQ: new or re-flagged messages and expunged UIDs."""

    highestmodseq: int
    changed: Sequence[MessageState]
    expunged: Sequence[int]


class FolderWatch(Protocol):
    """A subscription to a folder's change notifications (see :mod:`mail_gateway.store.notify`)."""

    async def wait(self, timeout: float | None = None) -> object | None: ...  # noqa: ASYNC109

    def pending(self) -> bool: ...

    def collect(self) -> int:
        """The highest MODSEQ announced since the last call, 0 when nothing was."""

    def drain(self) -> None: ...

    def close(self) -> None: ...


class ImapStore(Protocol):
    # Folders ------------------------------------------------------------------------------------------
    async def folders(self, mailbox_id: int) -> list[FolderInfo]: ...

    async def folder(self, mailbox_id: int, name: str) -> FolderInfo | None: ...

    async def create_folder(self, mailbox_id: int, name: str, special_use: str | None = None) -> FolderInfo: ...

    async def delete_folder(self, mailbox_id: int, name: str) -> None: ...

    async def rename_folder(self, mailbox_id: int, old: str, new: str) -> None:
        """Rename a folder and its children; renaming INBOX moves its messages to a new folder (RFC 3501
        §6.3.5)."""

    async def set_subscribed(self, mailbox_id: int, name: str, subscribed: bool) -> None: ...

    async def counts(self, folder_id: int) -> FolderCounts: ...

    # Messages ------------------------------------------------------------------------------------------
    async def snapshot(self, folder_id: int) -> Snapshot: ...

    async def changes(self, folder_id: int, since_modseq: int) -> Changes: ...

    async def states(self, folder_id: int, uids: Sequence[int]) -> list[MessageState]: ...

    async def messages(self, folder_id: int, uids: Sequence[int], *, structure: bool) -> list[StoredMessage]: ...

    async def read(self, sha256: str, length: int) -> bytes:
        """The first ``length`` bytes of a stored message."""

    async def read_many(self, wanted: Sequence[tuple[str, int]]) -> list[bytes]:
        """Several :meth:`read` at once (one worker-thread hop for a whole FETCH batch)."""

    async def store_flags(
        self, folder_id: int, uids: Sequence[int], mode: str, flags: Sequence[str], unchangedsince: int | None
    ) -> tuple[list[MessageState], list[int]]:
        """Change flags (``mode`` "", "+" or "-"); return the new states of changed messages and the UIDs
        refused because their MODSEQ exceeded ``unchangedsince`` (RFC 7162 §3.1.3)."""

    async def expunge(self, folder_id: int, uids: Sequence[int] | None) -> list[int]:
        """Remove the messages flagged ``\\Deleted`` (among ``uids`` when given); return their UIDs."""

    async def copy(
        self, folder_id: int, uids: Sequence[int], target_id: int, *, move: bool
    ) -> tuple[int, list[tuple[int, int]]]:
        """Copy (or move) messages; return the target's UIDVALIDITY and (source UID, new UID) pairs."""

    async def append(
        self, mailbox_id: int, folder_id: int, raw: bytes, flags: Sequence[str], internal_date: datetime | None
    ) -> tuple[int, int]:
        """Store durably, then return (UIDVALIDITY, UID): the OK may only follow this (design: durability)."""

    async def quota(self, mailbox_id: int) -> tuple[int, int | None]:
        """(used bytes, limit in bytes or None)."""

    def watch(self, folder_id: int) -> FolderWatch: ...
