"""Evaluation of SEARCH keys against one message (RFC 3501 §6.4.4): pure, over data the handler loaded.

String matching is case-insensitive substring matching on decoded text: header fields are decoded from RFC 2047
encoded words, body parts from their transfer encoding and charset, so ``BODY "échographie"`` finds a
quoted-printable Latin-1 part.
"""

from __future__ import annotations

import base64
import binascii
import email.header
import quopri
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from mail_gateway.imap.protocol.search import DATE_KEYS, FLAG_KEYS, And, Key, Not, Or, SearchKey
from mail_gateway.imap.protocol.sequence_set import SequenceSet

NONE, HEADER, FULL = 0, 1, 2
MAX_DECODED = 10 * 1024 * 1024  # decoded text searched per message


@dataclass
class Candidate:
    msn: int
    uid: int
    flags: frozenset[str]
    modseq: int
    internal_date: datetime
    size: int
    structure: dict[str, Any] | None
    content: bytes = b""


@dataclass(frozen=True)
class Bounds:
    """The largest message number and UID of the view, for ``*``."""

    max_msn: int
    max_uid: int


def content_needed(key: SearchKey) -> int:
    if isinstance(key, And):
        return max((content_needed(k) for k in key.keys), default=NONE)
    if isinstance(key, Or):
        return max(content_needed(key.left), content_needed(key.right))
    if isinstance(key, Not):
        return content_needed(key.key)
    if key.name in ("BODY", "TEXT"):
        return FULL
    if key.name in ("BCC", "CC", "FROM", "SUBJECT", "TO", "HEADER"):
        return HEADER
    return NONE


def structure_needed(key: SearchKey) -> bool:
    if isinstance(key, And):
        return any(structure_needed(k) for k in key.keys)
    if isinstance(key, Or):
        return structure_needed(key.left) or structure_needed(key.right)
    if isinstance(key, Not):
        return structure_needed(key.key)
    return key.name.startswith("SENT") or content_needed(key) != NONE


def matches(key: SearchKey, message: Candidate, bounds: Bounds) -> bool:
    if isinstance(key, And):
        return all(matches(k, message, bounds) for k in key.keys)
    if isinstance(key, Or):
        return matches(key.left, message, bounds) or matches(key.right, message, bounds)
    if isinstance(key, Not):
        return not matches(key.key, message, bounds)
    return _leaf(key, message, bounds)


def _leaf(key: Key, message: Candidate, bounds: Bounds) -> bool:
    name = key.name
    if name == "ALL":
        return True
    if name in FLAG_KEYS:
        flag, present = FLAG_KEYS[name]
        return (flag in message.flags) == present
    if name in ("KEYWORD", "UNKEYWORD"):
        present = any(f.lower() == str(key.value).lower() for f in message.flags)
        return present == (name == "KEYWORD")
    if name == "SEQ":
        assert isinstance(key.value, SequenceSet)
        return key.value.contains(message.msn, bounds.max_msn)
    if name == "UID":
        assert isinstance(key.value, SequenceSet)
        return key.value.contains(message.uid, bounds.max_uid)
    if name == "LARGER":
        return message.size > int(str(key.value))
    if name == "SMALLER":
        return message.size < int(str(key.value))
    if name == "MODSEQ":
        return message.modseq >= int(str(key.value))
    if name in DATE_KEYS:
        assert isinstance(key.value, date)
        return _date_matches(name, key.value, message)
    if name == "BODY":
        return _contains(body_text(message), str(key.value))
    if name == "TEXT":
        return _contains(header_text(message) + "\n" + body_text(message), str(key.value))
    field = key.field if name == "HEADER" else name.lower()
    return any(_contains(value, str(key.value)) for value in header_values(message, field))


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _date_matches(name: str, wanted: date, message: Candidate) -> bool:
    if name.startswith("SENT"):
        found = _sent_date(message)
        if found is None:
            return False
        name = name[4:]
    else:
        # RFC 3501 §6.4.4: internal dates compare by day, disregarding time and timezone.
        found = message.internal_date.astimezone(UTC).date()
    if name == "BEFORE":
        return found < wanted
    if name == "ON":
        return found == wanted
    return found >= wanted  # SINCE


def _sent_date(message: Candidate) -> date | None:
    if message.structure is None:
        return None
    raw = message.structure.get("envelope", {}).get("date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).date()
    except (TypeError, ValueError, IndexError):
        return None


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; undecodable pieces are kept as they are."""
    try:
        parts = email.header.decode_header(value)
    except (ValueError, LookupError, binascii.Error):
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        try:
            out.append(chunk.decode(charset or "utf-8", "replace"))
        except LookupError:
            out.append(chunk.decode("utf-8", "replace"))
    return " ".join(p.strip() for p in out) if len(out) > 1 else "".join(out)


def _header_block(message: Candidate) -> bytes:
    if message.structure is None:
        return b""
    start, end = message.structure["part"]["header"]
    return message.content[start:end]


def header_values(message: Candidate, field: str) -> list[str]:
    values: list[str] = []
    current: list[bytes] | None = None
    for line in _header_block(message).splitlines():
        if line[:1] in (b" ", b"\t") and current is not None:
            current.append(line)
            continue
        if current is not None:
            values.append(decode_words(b" ".join(current).decode("utf-8", "replace").strip()))
            current = None
        name, colon, rest = line.partition(b":")
        if colon and name.strip().decode("ascii", "replace").lower() == field:
            current = [rest]
    if current is not None:
        values.append(decode_words(b" ".join(current).decode("utf-8", "replace").strip()))
    return values


def header_text(message: Candidate) -> str:
    return decode_words(_header_block(message).decode("utf-8", "replace"))


def body_text(message: Candidate) -> str:
    if message.structure is None:
        return ""
    pieces: list[str] = []
    _collect(message.structure["part"], message.content, pieces, [0])
    return "\n".join(pieces)


def _collect(part: dict[str, Any], content: bytes, out: list[str], budget: list[int]) -> None:
    if budget[0] > MAX_DECODED:
        return
    if part.get("parts"):
        for child in part["parts"]:
            _collect(child, content, out, budget)
        return
    inner = part.get("message")
    if inner is not None:
        start, end = inner["part"]["header"]
        out.append(decode_words(content[start:end].decode("utf-8", "replace")))
        _collect(inner["part"], content, out, budget)
        return
    if part["type"] not in ("text", "message"):
        return
    start, end = part["body"]
    data = _transfer_decode(content[start:end], part["encoding"])
    charset = part["params"].get("charset", "utf-8").lower()
    if charset in ("us-ascii", "ascii"):
        charset = "utf-8"  # a superset: undeclared 8-bit text is most often UTF-8
    try:
        text = data.decode(charset, "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    budget[0] += len(text)
    out.append(text)


def _transfer_decode(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(b"".join(data.split()), validate=False)
        except (binascii.Error, ValueError):
            return data
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data
