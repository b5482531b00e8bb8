"""Factories for mail-side test data."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

from mail_gateway.passwords import hash_password
from mail_gateway.store.mailboxes import MailboxInfo, create_mailbox
from storage.engine import Database

_seq = itertools.count(1)
PASSWORD = "correct horse battery staple"
_HASH = hash_password(PASSWORD)


async def make_mailbox(
    database: Database, address: str | None = None, *, kind: str = "PER", quota: int | None = None
) -> MailboxInfo:
    n = next(_seq)
    address = address or f"user{n}@mssante.localhost"
    owner = f"8{n:011d}" if kind == "PER" else f"1{n:09d}"
    async with database.write() as session:
        row = await create_mailbox(
            session, address=address, kind=kind, owner_id=owner, display_name=f"Dr Test {n}",
            password_hash=_HASH, quota_bytes=quota,
        )
        return MailboxInfo.of(row)


def make_message(
    sender: str = "alice@mssante.localhost",
    to: str = "bob@mssante.localhost",
    subject: str = "Compte rendu",
    body: str = "Bonjour,\r\nVoici le compte rendu.\r\n",
    *,
    extra_headers: str = "",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: {make_msgid(domain='test.example')}\r\n"
        f"{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()
