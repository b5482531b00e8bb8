"""A short-lived, in-process cache of mailbox look-ups by address.

Every RCPT and every delivery asks "which mailbox is this, is it active, how full is it"; reading the database
each time would make mailbox look-ups the bottleneck of ingest. Entries live ``ttl`` seconds (absent
addresses for ``negative_ttl``), so a suspension or a new mailbox is seen within seconds on every node, and
usage figures (quota) may lag by as much: quotas are soft by that margin.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from mail_gateway.store.mailboxes import MailboxInfo
from mail_gateway.store.models import Mailbox
from storage.engine import Database
from storage.ttl_cache import Missing, TtlCache


class MailboxCache:
    def __init__(
        self,
        database: Database,
        *,
        ttl: float = 5.0,
        negative_ttl: float = 1.0,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.clock = clock
        self._entries: TtlCache[str, MailboxInfo | None] = TtlCache(
            ttl=ttl, negative_ttl=negative_ttl, max_entries=max_entries
        )

    async def get(self, address: str) -> MailboxInfo | None:
        """``address`` must already be normalised (lower case)."""
        now = self.clock()
        cached = self._entries.get(address, now)
        if not isinstance(cached, Missing):
            return cached
        async with self.database.read() as session:
            row = await session.scalar(select(Mailbox).where(Mailbox.address == address))
            info = MailboxInfo.of(row) if row is not None else None
        self._entries.put(address, info, now)
        return info

    def invalidate(self, address: str | None = None) -> None:
        if address is None:
            self._entries.clear()
        else:
            self._entries.forget(address)
