"""Sequence sets (RFC 3501 §9 ``sequence-set``): ``1,3:5,7:*``, reversed ranges and ``*``.

A set is parsed once into ranges with ``None`` standing for ``*``; it is resolved against the session's view
(the largest message number or UID) only when used, because ``*`` means "the largest at that moment".
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mail_gateway.imap.errors import LimitExceeded, ProtocolError

MAX_NUMBER = 0xFFFFFFFF  # RFC 3501 §9: nz-number is a 32-bit unsigned integer

Bound = int | None  # None is "*"


@dataclass(frozen=True)
class SequenceSet:
    ranges: tuple[tuple[Bound, Bound], ...]

    @classmethod
    def parse(cls, text: bytes | str, *, max_ranges: int = 10_000) -> SequenceSet:
        raw = text.decode("ascii", "replace") if isinstance(text, bytes) else text
        if "$" in raw:
            raise ProtocolError("SEARCHRES ($, RFC 5182) is not supported by this server")
        if not raw:
            raise ProtocolError("empty sequence set")
        parts = raw.split(",")
        if len(parts) > max_ranges:
            raise LimitExceeded(f"a sequence set may have at most {max_ranges} ranges")
        ranges: list[tuple[Bound, Bound]] = []
        for part in parts:
            first, colon, last = part.partition(":")
            low = _bound(first)
            ranges.append((low, _bound(last) if colon else low))
        return cls(tuple(ranges))

    @classmethod
    def of(cls, numbers: Sequence[int]) -> SequenceSet:
        """The compact set of sorted ``numbers`` (``1,2,3,7`` → ``1:3,7``)."""
        ranges: list[tuple[Bound, Bound]] = []
        for number in sorted(set(numbers)):
            if ranges and ranges[-1][1] == number - 1:
                ranges[-1] = (ranges[-1][0], number)
            else:
                ranges.append((number, number))
        return cls(tuple(ranges))

    def __str__(self) -> str:
        return ",".join(_fmt(a) if a == b else f"{_fmt(a)}:{_fmt(b)}" for a, b in self.ranges)

    def spans(self, largest: int) -> Iterator[tuple[int, int]]:
        """Each range as ``(low, high)`` with ``*`` resolved to ``largest``; a reversed range is swapped."""
        for first, last in self.ranges:
            a = largest if first is None else first
            b = largest if last is None else last
            yield (a, b) if a <= b else (b, a)

    def contains(self, number: int, largest: int) -> bool:
        return any(low <= number <= high for low, high in self.spans(largest))

    def select(self, sorted_values: Sequence[int], largest: int | None = None) -> list[int]:
        """The members of ``sorted_values`` (ascending) within the set, ascending, without duplicates."""
        if not sorted_values:
            return []
        top = sorted_values[-1] if largest is None else largest
        chosen: set[int] = set()
        for low, high in self.spans(top):
            start = bisect.bisect_left(sorted_values, low)
            stop = bisect.bisect_right(sorted_values, high)
            chosen.update(sorted_values[start:stop])
        return sorted(chosen)

    def indexes(self, count: int) -> list[int]:
        """Message sequence numbers (1-based) in the set for a view of ``count`` messages.

        RFC 3501 §6.4.8: a number beyond ``count`` is an error for message sequence numbers.
        """
        chosen: set[int] = set()
        for (first, last), (low, high) in zip(self.ranges, self.spans(count), strict=True):
            if count == 0 and (first is None or last is None):
                continue  # "1:*" in an empty folder selects nothing
            if low < 1 or high > count:
                raise ProtocolError("message sequence number out of range (RFC 3501 §9)")
            chosen.update(range(low, high + 1))
        return sorted(chosen)


def _bound(text: str) -> Bound:
    if text == "*":
        return None
    if not text.isdigit() or text.startswith("0") or len(text) > 10:
        raise ProtocolError(f"bad number in sequence set: {text[:20]!r}")
    value = int(text)
    if value > MAX_NUMBER:
        raise ProtocolError("sequence numbers are 32-bit (RFC 3501 §9)")
    return value


def _fmt(bound: Bound) -> str:
    return "*" if bound is None else str(bound)
