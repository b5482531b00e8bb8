"""A session's subscription to its selected folder's change notifications, remembering the highest MODSEQ
announced, so a session whose view is already that recent skips the database entirely.

The notification contract (:mod:`mail_gateway.store.notify`) only says "folder N changed, now at MODSEQ M"; a
PostgreSQL ``LISTEN``/``NOTIFY`` implementation can carry the same two numbers.
"""

from __future__ import annotations

from mail_gateway.store.notify import FolderChanged, Subscription


class Watch:
    def __init__(self, subscription: Subscription) -> None:
        self._subscription = subscription
        self._seen = 0  # highest MODSEQ announced and not yet collected

    async def wait(self, timeout: float | None = None) -> FolderChanged | None:  # noqa: ASYNC109
        event = await self._subscription.wait(timeout)
        if event is not None:
            self._seen = max(self._seen, event.modseq)
        return event

    def pending(self) -> bool:
        return self._seen > 0 or self._subscription.pending()

    def collect(self) -> int:
        """The highest MODSEQ announced since the last call (0: nothing), emptying the queue."""
        self._seen = max(self._seen, self._subscription.take_modseq())
        seen, self._seen = self._seen, 0
        return seen

    def drain(self) -> None:
        self.collect()

    def close(self) -> None:
        self._subscription.close()
