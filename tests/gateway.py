"""A real gateway (every listener of ``mssante serve``) running in a background thread for tests.

Tests talk to it with real clients over real sockets and TLS; ``run`` executes a coroutine on the gateway's
own loop to look at the store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from certs.tls import client_context
from mail_gateway.passwords import hash_password
from mail_gateway.store.contents import read_contents
from mail_gateway.store.mailboxes import MailboxInfo, create_mailbox
from mail_gateway.store.models import Folder, FolderMessage, Mailbox, MessageContent
from mssante.serve import serve
from mssante.settings import Settings
from storage.blobs import BlobStore, blob_name
from storage.engine import Database

T = TypeVar("T")
PASSWORD = "correct horse battery staple"


def gateway_settings(data_dir: Path, db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": db_url,
        "smtp_mx_port": 0,
        "smtp_submission_port": 0,
        "smtps_port": 0,
        "imap_port": 0,
        "imaps_port": 0,
        "http_port": 0,
        "shutdown_grace": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class RunningGateway:
    settings: Settings
    ports: dict[str, int] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None
    stop: asyncio.Event | None = None
    thread: threading.Thread | None = None
    error: BaseException | None = None
    database: Database | None = None

    @property
    def ca(self) -> Path:
        return self.settings.tls_dir / "dev-ca.pem"

    def client_tls(self) -> ssl.SSLContext:
        return client_context(self.ca)

    def start(self) -> None:
        ready = threading.Event()

        def on_ready(ports: dict[str, int]) -> None:
            self.ports = ports
            ready.set()

        def main() -> None:
            async def runner() -> None:
                self.loop = asyncio.get_running_loop()
                self.stop = asyncio.Event()
                self.database = Database(self.settings.effective_database_url)
                try:
                    await serve(self.settings, on_ready=on_ready, stop=self.stop)
                finally:
                    await self.database.dispose()

            try:
                asyncio.run(runner())
            except BaseException as error:  # reported to the test thread
                self.error = error
                ready.set()

        self.thread = threading.Thread(target=main, name="gateway", daemon=True)
        self.thread.start()
        if not ready.wait(60) or self.error is not None:
            raise RuntimeError(f"the gateway did not start: {self.error!r}")

    def close(self) -> None:
        if self.loop is not None and self.stop is not None and self.thread is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop.set)
            self.thread.join(30)
        if self.error is not None:
            raise self.error

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        assert self.loop is not None
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def add_mailbox(self, address: str, *, kind: str = "PER", owner: str = "810001234567",
                    password: str = PASSWORD, quota: int | None = None) -> MailboxInfo:
        async def action() -> MailboxInfo:
            assert self.database is not None
            async with self.database.write() as session:
                row = await create_mailbox(
                    session, address=address, kind=kind, owner_id=owner, display_name=f"Dr {address}",
                    password_hash=hash_password(password), quota_bytes=quota,
                )
                return MailboxInfo.of(row)

        return self.run(action())

    def inbox(self, address: str, folder: str = "INBOX") -> list[bytes]:
        """The stored bytes of every message in ``folder`` of ``address``, by UID."""

        async def action() -> list[bytes]:
            assert self.database is not None
            async with self.database.read() as session:
                rows = await session.execute(
                    select(MessageContent.sha256)
                    .join(FolderMessage, FolderMessage.content_id == MessageContent.id)
                    .join(Folder, Folder.id == FolderMessage.folder_id)
                    .join(Mailbox, Mailbox.id == Folder.mailbox_id)
                    .where(Mailbox.address == address, Folder.name == folder)
                    .order_by(FolderMessage.uid)
                )
                names = [sha for (sha,) in rows.all()]
            contents = await read_contents(self.database, BlobStore(self.settings.blob_dir), [(n, None) for n in names])
            for name, raw in zip(names, contents, strict=True):
                assert blob_name(raw) == name, "stored bytes no longer match their name"
            return contents

        return self.run(action())


def strip_trace(raw: bytes) -> bytes:
    """The message without the leading ``Received:`` field we add (it may be folded over several lines)."""
    assert raw.startswith(b"Received: "), raw[:80]
    end = raw.index(b"\r\n", 0)
    while raw[end + 2 : end + 3] in (b" ", b"\t"):
        end = raw.index(b"\r\n", end + 2)
    return raw[end + 2 :]
