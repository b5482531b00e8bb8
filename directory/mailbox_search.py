"""Find mailbox addresses by a fragment ("cardio@chu-ly"): how a professional finds a colleague's address.

A substring match on the address, served on PostgreSQL by the trigram index of migration 0003 (``pg_trgm``
answers ``LIKE '%…%'``); SQLite scans the mailbox table, which is small next to the persons. LIKE wildcards in
the fragment are escaped, so ``%`` and ``_`` are plain characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from directory.errors import InvalidQuery
from directory.models import Mailbox
from directory.search_query import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from policies.addresses import MAX_ADDRESS

MIN_FRAGMENT = 3  # a trigram index needs three characters to narrow anything


@dataclass(frozen=True, slots=True)
class MailboxHit:
    address: str
    mailbox_type: str
    display_name: str
    profession_label: str
    structure_name: str


@dataclass(frozen=True, slots=True)
class MailboxPage:
    items: list[MailboxHit]
    next_cursor: str | None
    limit: int


def _escape(fragment: str) -> str:
    return fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def find_mailboxes(session: AsyncSession, fragment: str, cursor: str | None = None,
                         limit: int = DEFAULT_LIMIT) -> MailboxPage:
    """Active mailboxes whose address contains ``fragment`` (case-insensitive), in address order."""
    value = fragment.strip().lower()
    if not MIN_FRAGMENT <= len(value) <= MAX_ADDRESS:
        raise InvalidQuery("q", f"give {MIN_FRAGMENT} to {MAX_ADDRESS} characters of the address")
    if limit < 1:
        raise InvalidQuery("limit", "limit must be a positive number")
    limit = min(limit, MAX_LIMIT)
    fingerprint = "mailbox:" + value
    statement = select(Mailbox).where(Mailbox.active.is_(True), Mailbox.address.like(f"%{_escape(value)}%", "\\"))
    if cursor:
        statement = statement.where(Mailbox.address > decode_cursor(cursor, fingerprint[:40])[1])
    rows = list(await session.scalars(statement.order_by(Mailbox.address).limit(limit + 1)))
    items = [
        MailboxHit(
            box.address, box.kind,
            " ".join(part for part in (box.given, box.family) if part)
            or " – ".join(part for part in (box.service, box.structure_name) if part) or box.address,
            box.profession_label, box.structure_name,
        )
        for box in rows[:limit]
    ]
    next_cursor = encode_cursor(0, rows[limit - 1].address, fingerprint[:40]) if len(rows) > limit else None
    return MailboxPage(items, next_cursor, limit)
