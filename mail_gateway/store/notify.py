"""Change notifications between sessions: "something changed in folder N, look again".

A notification carries no data, only the folder id and the new highest MODSEQ; listeners re-read the store. That
keeps the contract small enough for a PostgreSQL ``LISTEN``/``NOTIFY`` implementation to replace the in-process
one when several nodes serve the same database. Publishers call :meth:`ChangeNotifier.publish` only after the
change has committed.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FolderChanged:
    folder_id: int
    modseq: int


class ChangeNotifier(Protocol):
    def publish(self, event: FolderChanged) -> None: ...

    def subscribe(self, folder_id: int) -> Subscription: ...


class Subscription:
    """A listener's queue of changes for one folder; close it when the session leaves the folder."""

    MAX_PENDING = 1000  # a slow listener only needs to know "changed": extra events are dropped

    def __init__(self, hub: InProcessNotifier, folder_id: int) -> None:
        self._hub = hub
        self.folder_id = folder_id
        self.queue: asyncio.Queue[FolderChanged] = asyncio.Queue(self.MAX_PENDING)

    def deliver(self, event: FolderChanged) -> None:
        if not self.queue.full():
            self.queue.put_nowait(event)

    async def wait(self, timeout: float | None = None) -> FolderChanged | None:  # noqa: ASYNC109
        """Wait for the next change; ``None`` on timeout. Pending duplicates are folded into one."""
        try:
            event = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        while not self.queue.empty():
            event = self.queue.get_nowait()
        return event

    def take_modseq(self) -> int:
        """The highest MODSEQ announced since the last call (0: nothing), emptying the queue."""
        highest = 0
        while not self.queue.empty():
            highest = max(highest, self.queue.get_nowait().modseq)
        return highest

    def pending(self) -> bool:
        return not self.queue.empty()

    def drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class InProcessNotifier:
    """Fan-out of folder changes to subscribers of this process."""

    def __init__(self) -> None:
        self._subscribers: dict[int, set[Subscription]] = defaultdict(set)

    def publish(self, event: FolderChanged) -> None:
        for subscription in tuple(self._subscribers.get(event.folder_id, ())):
            subscription.deliver(event)

    def subscribe(self, folder_id: int) -> Subscription:
        subscription = Subscription(self, folder_id)
        self._subscribers[folder_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        listeners = self._subscribers.get(subscription.folder_id)
        if listeners is not None:
            listeners.discard(subscription)
            if not listeners:
                del self._subscribers[subscription.folder_id]
