"""Who a professional is, as the patient sees them: name, profession, structure, never the address.

The directory (when the composition root provides one) knows professions and structures; otherwise the local
mailbox's display name is used, then the ``From`` display name, then a neutral label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from mail_gateway.store.models import Mailbox
from storage.engine import Database

UNKNOWN_PROFESSIONAL = "Professionnel de santé"


@dataclass(frozen=True)
class SenderIdentity:
    name: str
    profession: str | None = None
    structure: str | None = None


class Directory(Protocol):
    async def identify(self, address: str) -> SenderIdentity | None:
        """The identity of the professional behind ``address``, or None when unknown."""


class MailboxDirectory:
    """Falls back on the display names of our own professional mailboxes."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def identify(self, address: str) -> SenderIdentity | None:
        async with self.database.read() as session:
            name = await session.scalar(select(Mailbox.display_name).where(Mailbox.address == address.lower()))
        return SenderIdentity(name) if name else None


async def identify(directory: Directory, address: str, header_name: str = "") -> SenderIdentity:
    found = await directory.identify(address)
    if found is not None:
        return found
    name = header_name.strip()
    if name and "@" not in name:
        return SenderIdentity(name[:200])
    return SenderIdentity(UNKNOWN_PROFESSIONAL)
