"""Failure throttling: how many failures a key (an address, an IP) may have within a sliding window.

Pure bookkeeping with an explicit ``now`` (seconds, any monotonic origin): the caller owns the clock. Memory is
bounded: each key keeps at most ``limit`` timestamps and the table at most ``max_keys`` keys (the oldest
entries are forgotten first, which can only make throttling more lenient, never lock anyone out wrongly).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Throttled:
    key: str
    retry_after: float  # seconds until one more attempt is allowed


class FailureWindow:
    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, key: str, now: float) -> Throttled | None:
        """``Throttled`` when ``key`` has reached the limit within the window, else None."""
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return None
        return Throttled(key, max(0.0, times[0] + self.window - now))

    def record(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            times = deque(maxlen=self.limit)
            self._failures[key] = times
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        self._failures.move_to_end(key)
        times.append(now)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)
