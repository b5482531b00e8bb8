"""``server.py`` on real sockets with the in-memory store: timeouts, internal errors, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs.devca import ensure_dev_tls
from certs.tls import server_context
from mail_gateway.imap.protocol.limits import Limits
from mail_gateway.imap.server import ImapConfig, ImapListeners, start_imap
from mail_gateway.imap.store import Snapshot
from tests.imap.conftest import BOB
from tests.imap.harness import PASSWORD, Accounts
from tests.imap.memory_store import MemoryStore


class BrokenStore(MemoryStore):
    """A store with a bug: SELECT of the folder named "Broken" raises an unexpected exception."""

    async def snapshot(self, folder_id: int) -> Snapshot:
        folder = self._get(folder_id)
        if folder.name == "Broken":
            raise RuntimeError("secret internal detail /var/lib/x.db")
        return await super().snapshot(folder_id)


@dataclass
class Running:
    listeners: ImapListeners
    store: BrokenStore

    @property
    def port(self) -> int:
        return self.listeners.ports()["imap"]


@pytest.fixture
async def running(tmp_path: Path, accounts: Accounts) -> AsyncIterator[Running]:
    dev = ensure_dev_tls(tmp_path / "tls", ["localhost"])
    store = BrokenStore()
    store.add_mailbox(BOB)
    await store.create_folder(BOB, "Broken")
    config = ImapConfig(
        host="127.0.0.1",
        port=0,
        tls_port=0,
        hostname="imap.test",
        max_message_size=1_000_000,
        limits=Limits(unauthenticated_timeout=0.5, idle_timeout=1.0),
    )
    listeners = await start_imap(config, store, accounts, server_context(dev.cert, dev.key))
    try:
        yield Running(listeners, store)
    finally:
        await listeners.close()


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await reader.readline()).startswith(b"* OK [CAPABILITY IMAP4rev1")
    return reader, writer


async def test_inactivity_ends_with_bye(running: Running) -> None:
    reader, writer = await _open(running.port)
    assert await asyncio.wait_for(reader.readline(), 5) == b"* BYE autologout: idle for too long\r\n"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # After login the longer timeout applies, also in IDLE (RFC 2177 clients re-issue IDLE in time).
    reader, writer = await _open(running.port)
    writer.write(f"a LOGIN bob@mssante.test {PASSWORD}\r\nb SELECT INBOX\r\nc IDLE\r\n".encode())
    line = b""
    while line != b"+ idling\r\n":
        line = await asyncio.wait_for(reader.readline(), 5)
        assert line.startswith((b"* ", b"a OK", b"b OK", b"+ ")), line
    assert await asyncio.wait_for(reader.readline(), 5) == b"* BYE autologout: idle for too long\r\n"
    writer.close()


async def test_an_internal_error_never_shows_a_traceback(running: Running) -> None:
    reader, writer = await _open(running.port)
    writer.write(f"a LOGIN bob@mssante.test {PASSWORD}\r\nb SELECT Broken\r\nc NOOP\r\n".encode())
    assert (await reader.readline()).startswith(b"a OK")
    assert await reader.readline() == b"b NO [SERVERBUG] internal server error\r\n"
    assert await reader.readline() == b"c OK NOOP completed\r\n"  # the connection carries on
    writer.close()


async def test_shutdown_says_bye_to_clients(running: Running) -> None:
    reader, writer = await _open(running.port)
    writer.write(f"a LOGIN bob@mssante.test {PASSWORD}\r\n".encode())
    assert (await reader.readline()).startswith(b"a OK")
    await running.listeners.close()
    assert await asyncio.wait_for(reader.readline(), 5) == b"* BYE server shutting down\r\n"
    writer.close()
