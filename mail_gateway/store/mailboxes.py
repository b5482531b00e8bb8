"""Local mailboxes (BAL): creation with their default folders, look-up, password and state changes."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mail_gateway.errors import InvalidMailbox, MailboxExists, MailboxNotFound
from mail_gateway.store.models import Folder, Mailbox
from policies.addresses import address_problem, normalise
from policies.identifiers import owner_id_problem

MAILBOX_KINDS = ("PER", "ORG", "APP")
# RFC 6154 special-use attributes of the folders every mailbox starts with.
DEFAULT_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
)
STATES = ("active", "suspended")


@dataclass(frozen=True)
class MailboxInfo:
    """What the protocol layers need to know of a mailbox, detached from any session."""

    id: int
    address: str
    kind: str
    owner_id: str
    display_name: str
    state: str
    quota_bytes: int | None
    used_bytes: int

    @classmethod
    def of(cls, row: Mailbox) -> MailboxInfo:
        return cls(
            row.id, row.address, row.kind, row.owner_id, row.display_name, row.state, row.quota_bytes, row.used_bytes
        )


def new_uidvalidity(largest_in_mailbox: int = 0) -> int:
    """RFC 3501 §2.3.1.1: a folder recreated under the same name must get a larger UIDVALIDITY.

    Seconds since the epoch (32 bits until 2106), and never below what the mailbox already used.
    """
    return max(int(time.time()), largest_in_mailbox + 1)


async def create_mailbox(
    session: AsyncSession,
    *,
    address: str,
    kind: str,
    owner_id: str,
    display_name: str,
    password_hash: str | None,
    quota_bytes: int | None = None,
) -> Mailbox:
    address = normalise(address)
    problem = address_problem(address) or owner_id_problem(kind, owner_id)
    if kind not in MAILBOX_KINDS:
        problem = f"unknown mailbox type {kind!r}: use PER, ORG or APP"
    if not display_name.strip() or len(display_name) > 200:
        problem = problem or "the display name must have 1 to 200 characters"
    if quota_bytes is not None and quota_bytes <= 0:
        problem = problem or "the quota must be a positive number of bytes"
    if problem:
        raise InvalidMailbox(problem)
    if await session.scalar(select(Mailbox.id).where(Mailbox.address == address)) is not None:
        raise MailboxExists(f"the mailbox {address} already exists")
    mailbox = Mailbox(
        address=address,
        kind=kind,
        owner_id=owner_id,
        display_name=display_name.strip(),
        password_hash=password_hash,
        state="active",
        quota_bytes=quota_bytes,
        used_bytes=0,
    )
    session.add(mailbox)
    try:
        await session.flush()
    except IntegrityError:
        raise MailboxExists(f"the mailbox {address} already exists") from None
    validity = new_uidvalidity()
    for name, special_use in DEFAULT_FOLDERS:
        session.add(
            Folder(
                mailbox_id=mailbox.id,
                name=name,
                special_use=special_use,
                uidvalidity=validity,
                uidnext=1,
                highestmodseq=1,
                subscribed=True,
            )
        )
    await session.flush()
    return mailbox


async def get_mailbox(session: AsyncSession, address: str) -> Mailbox:
    mailbox = await session.scalar(select(Mailbox).where(Mailbox.address == normalise(address)))
    if mailbox is None:
        raise MailboxNotFound(f"there is no mailbox {normalise(address)}")
    return mailbox


async def find_mailbox(session: AsyncSession, address: str) -> MailboxInfo | None:
    row = await session.scalar(select(Mailbox).where(Mailbox.address == normalise(address)))
    return MailboxInfo.of(row) if row is not None else None


async def list_mailboxes(session: AsyncSession) -> list[Mailbox]:
    return list((await session.scalars(select(Mailbox).order_by(Mailbox.address))).all())


async def set_password(session: AsyncSession, address: str, password_hash: str) -> None:
    mailbox = await get_mailbox(session, address)
    mailbox.password_hash = password_hash


async def set_state(session: AsyncSession, address: str, state: str) -> Mailbox:
    if state not in STATES:
        raise InvalidMailbox(f"unknown state {state!r}")
    mailbox = await get_mailbox(session, address)
    mailbox.state = state
    return mailbox


async def set_quota(session: AsyncSession, address: str, quota_bytes: int | None) -> None:
    if quota_bytes is not None and quota_bytes <= 0:
        raise InvalidMailbox("the quota must be a positive number of bytes")
    mailbox = await get_mailbox(session, address)
    mailbox.quota_bytes = quota_bytes
