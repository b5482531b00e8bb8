"""Transcript driver for the sans-IO core: client bytes in, server lines out, with the in-memory store.

Every transcript runs twice (see ``chunking`` in conftest): with each client line fed whole, and one byte at a
time. Both must produce the same server output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mail_gateway.imap.connection import Connection
from mail_gateway.imap.handlers.common import Action
from mail_gateway.imap.session import Config, Session
from tests.imap.memory_store import MemoryStore

PASSWORD = "s3cret-pass"


@dataclass(frozen=True)
class Account:
    id: int
    address: str


@dataclass(frozen=True)
class Outcome:
    mailbox: Account | None
    reason: str
    message: str


class Accounts:
    """Password checks for the transcripts (the real Authenticator is used by the socket tests)."""

    def __init__(self, accounts: dict[str, int]) -> None:
        self.accounts = accounts
        self.attempts = 0

    async def verify_password(self, address: str, password: str, remote_ip: str) -> Outcome:
        self.attempts += 1
        mailbox_id = self.accounts.get(address.lower())
        if mailbox_id is None or password != PASSWORD:
            return Outcome(None, "invalid", "the address or the password is wrong")
        return Outcome(Account(mailbox_id, address.lower()), "ok", "authenticated")


class Client:
    def __init__(self, connection: Connection, *, bytewise: bool) -> None:
        self.connection = connection
        self.bytewise = bytewise
        self.action = Action.NONE

    async def send(self, data: bytes | str) -> list[str]:
        raw = data.encode() if isinstance(data, str) else data
        if not raw.endswith(b"\n"):
            raw += b"\r\n"
        out = bytearray()
        pieces = [raw[i : i + 1] for i in range(len(raw))] if self.bytewise else [raw]
        for piece in pieces:
            reply, self.action = await self.connection.receive(piece)
            out += reply
        return split_lines(bytes(out))

    async def wakeup(self) -> list[str]:
        return split_lines(await self.connection.idle_wakeup())


def split_lines(data: bytes) -> list[str]:
    """Server output as lines; a literal's content is kept inside its line (``{3}\\r\\nabc``)."""
    lines: list[str] = []
    pos = 0
    current = bytearray()
    while pos < len(data):
        end = data.find(b"\r\n", pos)
        if end < 0:
            current += data[pos:]
            break
        current += data[pos:end]
        match = re.search(rb"\{(\d+)\}$", current)
        if match:
            size = int(match.group(1))
            current += b"\r\n" + data[end + 2 : end + 2 + size]
            pos = end + 2 + size
            continue
        lines.append(current.decode("utf-8", "replace"))
        current = bytearray()
        pos = end + 2
    if current:
        lines.append(current.decode("utf-8", "replace"))
    return lines


def make_session(
    store: MemoryStore, accounts: Accounts, *, secure: bool = True, config: Config | None = None
) -> Session:
    return Session(
        store,
        accounts,
        config or Config(hostname="imap.test"),
        secure=secure,
        tls_active=secure,
        starttls_available=True,
        remote_ip="192.0.2.10",
    )


def client(
    store: MemoryStore, accounts: Accounts, *, bytewise: bool, secure: bool = True, config: Config | None = None
) -> Client:
    return Client(Connection(make_session(store, accounts, secure=secure, config=config)), bytewise=bytewise)
