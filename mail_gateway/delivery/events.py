"""Delivery events: published after a copy is committed, for listeners wired by the composition root.

``mail_gateway`` knows nothing of its listeners (the patient vault feed is one); ``mssante`` subscribes them.
Events carry ids and hashes only, never content, so they are safe to log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryEvent:
    recipient: str
    mailbox_id: int
    folder_id: int
    uid: int
    sha256: str
    size: int
    message_id: str | None
    channel: str  # submission, mx, web


Listener = Callable[[DeliveryEvent], Awaitable[None]]


class EventBus:
    """Calls every listener for every event, in the background; a failing listener is logged, not fatal."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, event: DeliveryEvent) -> None:
        for listener in self._listeners:
            task = asyncio.create_task(self._run(listener, event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _run(self, listener: Listener, event: DeliveryEvent) -> None:
        try:
            await listener(event)
        except Exception as error:
            log.error("delivery_event.listener_failed", listener=getattr(listener, "__qualname__", "?"),
                      error=type(error).__name__, mailbox_id=event.mailbox_id, uid=event.uid)

    async def drain(self) -> None:
        """Wait for the listeners already running (graceful shutdown)."""
        if self._pending:
            await asyncio.gather(*tuple(self._pending), return_exceptions=True)
