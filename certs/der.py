"""A minimal, bounded reader of DER (X.690 §10) type-length-value triples.

It reads the definite-length, low-tag-number subset of DER that CMS signers emit and refuses everything else
with :class:`DERError`: high tag numbers, indefinite lengths (BER), non-minimal lengths, lengths of more than
three bytes (16 MiB) and any value running past the end of its parent. It never copies the input: a TLV is the
triple (tag, start of value, end of value) over the caller's buffer, always inside ``[pos, end)``.
"""

from __future__ import annotations


class DERError(ValueError):
    """The bytes are not in the DER subset this reader accepts; the message says where and why."""


def tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The TLV at ``pos``, which must fit before ``end``: (tag byte, value start, value end)."""
    if pos + 2 > end:
        raise DERError(f"truncated TLV header at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError(f"high tag number at offset {pos}")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0:
            raise DERError(f"indefinite length (BER) at offset {pos - 2}")
        if count > 3 or pos + count > end:
            raise DERError(f"length of {count} bytes at offset {pos - 2}")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise DERError(f"non-minimal length at offset {pos - 2}")
        pos += count
    stop = pos + length
    if stop > end:
        raise DERError(f"value at offset {pos} runs past its parent's end ({stop} > {end})")
    return tag, pos, stop


def expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """The value bounds of the TLV at ``pos``, which must carry ``tag``."""
    found, start, stop = tlv(data, pos, end)
    if found != tag:
        raise DERError(f"tag 0x{found:02x} at offset {pos}, expected 0x{tag:02x}")
    return start, stop


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Every TLV in ``[start, end)`` as (tag, TLV start, value start, value end); they must fill it exactly."""
    items = []
    pos = start
    while pos < end:
        tag, value, stop = tlv(data, pos, end)
        items.append((tag, pos, value, stop))
        pos = stop
    return items
