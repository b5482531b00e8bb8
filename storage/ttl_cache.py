"""The one in-process cache shape of the operator: an LRU map whose entries expire.

Mailbox look-ups (SMTP), verified logins, directory owners and patient web sessions all keep what they read
for a few seconds, bounded in size, with a shorter life for "not found" answers. Time comes from the caller
(``now``, in seconds) so that each user keeps its own clock (monotonic, or the web layer's injected clock) and
tests can move it. An entry read at a time before it was stored (a clock that went back) is stale.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Missing(enum.Enum):
    """What :meth:`TtlCache.get` returns for a key it does not hold (a cached ``None`` is a value)."""

    MISSING = enum.auto()


MISSING = Missing.MISSING


class TtlCache(Generic[K, V]):
    """At most ``max_entries`` values, each for ``ttl`` seconds included (``None`` values for ``negative_ttl``,
    when given); the least recently used goes first. A lifetime of 0 stores nothing."""

    def __init__(self, *, ttl: float, max_entries: int, negative_ttl: float | None = None) -> None:
        for life in (ttl, negative_ttl):
            if life is not None and life < 0:
                raise ValueError(f"a cache lifetime must be 0 or more seconds, not {life}")
        if max_entries < 1:
            raise ValueError(f"a cache holds at least one entry, not {max_entries}")
        self.ttl = ttl
        self.negative_ttl = ttl if negative_ttl is None else negative_ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[V, float, float]] = OrderedDict()  # value, stored at, expires at

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: float) -> V | Missing:
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        value, stored_at, expires_at = entry
        if not stored_at <= now <= expires_at:
            del self._entries[key]
            return MISSING
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V, now: float) -> None:
        life = self.negative_ttl if value is None else self.ttl
        if life <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (value, now, now + life)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
