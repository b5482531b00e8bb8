"""Who a professional is, as the patient sees them: name, profession, structure, never the address.

The professional directory knows names, professions and structures; for an address it does not know (or no
longer lists), the local mailbox's display name is used, then the ``From`` display name, then a neutral label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from directory.resolve import Resolver
from mail_gateway.store.models import Mailbox
from storage.engine import Database

UNKNOWN_PROFESSIONAL = "Professionnel de santé"


@dataclass(frozen=True)
class SenderIdentity:
    name: str
    profession: str | None = None
    structure: str | None = None
    mailbox_type: str | None = None  # PER, ORG, APP, CAB when the directory or our store knows it


class Directory(Protocol):
    async def identify(self, address: str) -> SenderIdentity | None:
        """The identity of the professional behind ``address``, or None when unknown."""


class ProfessionalDirectory:
    """The professional directory (``directory.resolve``) first, our own mailboxes' display names second."""

    def __init__(self, resolver: Resolver, fallback: Directory) -> None:
        self.resolver = resolver
        self.fallback = fallback

    async def identify(self, address: str) -> SenderIdentity | None:
        owner = await self.resolver.resolve(address)
        if owner is None or not owner.active:
            return await self.fallback.identify(address)
        profession = " – ".join(part for part in (owner.profession_label, owner.specialty_label) if part) or None
        structure = (owner.structure_name or None) if owner.kind == "person" else None
        return SenderIdentity(
            owner.display_name[:200], profession and profession[:200], structure and structure[:200], owner.mailbox_type
        )


class MailboxDirectory:
    """Falls back on the display names of our own professional mailboxes."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def identify(self, address: str) -> SenderIdentity | None:
        async with self.database.read() as session:
            row = (
                await session.execute(
                    select(Mailbox.display_name, Mailbox.kind).where(Mailbox.address == address.lower())
                )
            ).first()
        return SenderIdentity(row[0], mailbox_type=row[1]) if row is not None else None


async def identify(directory: Directory, address: str, header_name: str = "") -> SenderIdentity:
    found = await directory.identify(address)
    if found is not None:
        return found
    name = header_name.strip()
    if name and "@" not in name:
        return SenderIdentity(name[:200])
    return SenderIdentity(UNKNOWN_PROFESSIONAL)
