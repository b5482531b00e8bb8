"""A local SMTP relay (aiosmtpd) standing in for NOTIFY_SMARTHOST: it keeps what it receives."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Captured:
    mail_from: str
    recipients: list[str]
    data: bytes


@dataclass
class RelayHandler:
    messages: list[Captured] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 OK"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Captured]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_relay() -> Iterator[tuple[str, RelayHandler]]:
    """Yield ``host:port`` and the handler holding what the relay received."""
    handler = RelayHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield f"127.0.0.1:{controller.port}", handler
    finally:
        controller.stop()
