"""SEARCH keys (RFC 3501 §6.4.4, RFC 7162 §3.1.5): grammar, a tree of keys, and its rendering back to text.

Evaluation lives in :mod:`mail_gateway.imap.protocol.matching`. Strings are decoded with the command's
``CHARSET`` (US-ASCII or UTF-8; anything else is ``NO [BADCHARSET]``, RFC 3501 §6.4.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mail_gateway.imap.errors import CommandRefused, LimitExceeded, ProtocolError
from mail_gateway.imap.protocol.reader import MONTHS, Reader
from mail_gateway.imap.protocol.response import astring, string
from mail_gateway.imap.protocol.sequence_set import SequenceSet

CHARSETS = ("US-ASCII", "UTF-8")
FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True),
    "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True),
    "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True),
    "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True),
    "UNSEEN": ("\\Seen", False),
    "NEW": ("\\Recent", True),
    "RECENT": ("\\Recent", True),
    "OLD": ("\\Recent", False),
}
STRING_KEYS = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
DATE_KEYS = frozenset({"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"})
SIZE_KEYS = frozenset({"LARGER", "SMALLER"})
_WITH_ARGUMENT = STRING_KEYS | DATE_KEYS | SIZE_KEYS | {"KEYWORD", "UNKEYWORD", "HEADER", "UID", "MODSEQ"}


@dataclass(frozen=True)
class Key:
    """A leaf: ``name`` is the key, ``value`` its argument (str, date, int, SequenceSet, flag), ``field`` for
    HEADER."""

    name: str
    value: object = None
    field: str = ""


@dataclass(frozen=True)
class And:
    keys: tuple[SearchKey, ...]


@dataclass(frozen=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class Not:
    key: SearchKey


SearchKey = Key | And | Or | Not


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise LimitExceeded("too many search keys")


def parse_program(reader: Reader, charset: str, *, max_keys: int = 10_000, max_ranges: int = 10_000) -> SearchKey:
    """One or more keys separated by spaces, ANDed (RFC 3501 §6.4.4), up to the end of the command."""
    budget = _Budget(max_keys)
    keys = [parse_key(reader, charset, budget, max_ranges)]
    while reader.maybe(b" "):
        keys.append(parse_key(reader, charset, budget, max_ranges))
    return keys[0] if len(keys) == 1 else And(tuple(keys))


def _text(raw: bytes, charset: str) -> str:
    try:
        return raw.decode("utf-8" if charset == "UTF-8" else "ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"search string is not valid {charset}") from None


def parse_key(reader: Reader, charset: str, budget: _Budget, max_ranges: int) -> SearchKey:
    budget.spend()
    if reader.peek() == b"(":
        reader.open_paren()
        keys = [parse_key(reader, charset, budget, max_ranges)]
        while reader.maybe(b" "):
            keys.append(parse_key(reader, charset, budget, max_ranges))
        reader.close_paren()
        return keys[0] if len(keys) == 1 else And(tuple(keys))
    if reader.peek()[:1] in (b"*", b"$") or reader.peek().isdigit():
        return Key("SEQ", SequenceSet.parse(reader.sequence_set_text(), max_ranges=max_ranges))
    word = reader.keyword()
    if word == "ALL" or word in FLAG_KEYS:
        return Key(word)
    if word in ("NOT", "OR"):
        # Recursion depth of NOT/OR chains is bounded like parentheses.
        reader.depth += 1
        if reader.depth > reader.max_depth:
            raise LimitExceeded(f"search keys nest deeper than {reader.max_depth}")
        reader.sp()
        first = parse_key(reader, charset, budget, max_ranges)
        if word == "NOT":
            reader.depth -= 1
            return Not(first)
        reader.sp()
        second = parse_key(reader, charset, budget, max_ranges)
        reader.depth -= 1
        return Or(first, second)
    if word not in _WITH_ARGUMENT:
        raise ProtocolError(f"unknown search key {word[:40]!r}")
    reader.sp()
    if word in STRING_KEYS:
        return Key(word, _text(reader.astring(), charset))
    if word in DATE_KEYS:
        return Key(word, reader.date())
    if word in SIZE_KEYS:
        return Key(word, reader.number())
    if word in ("KEYWORD", "UNKEYWORD"):
        return Key(word, reader.flag())
    if word == "HEADER":
        field = reader.astring().decode("ascii", "replace").lower()
        reader.sp()
        return Key(word, _text(reader.astring(), charset), field)
    if word == "UID":
        return Key(word, SequenceSet.parse(reader.sequence_set_text(), max_ranges=max_ranges))
    if word == "MODSEQ":
        # RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
        if reader.peek() == b'"':
            reader.quoted()
            reader.sp()
            reader.atom()
            reader.sp()
        return Key(word, reader.number())
    raise ProtocolError(f"unknown search key {word[:40]!r}")


def parse_charset(reader: Reader) -> str:
    charset = reader.astring().decode("ascii", "replace").upper()
    if charset not in CHARSETS:
        raise CommandRefused(f"charset {charset[:40]} is not supported", "BADCHARSET (US-ASCII UTF-8)")
    return charset


def render(key: SearchKey) -> bytes:
    """The key as SEARCH program text (used by tests for round-trips and by nothing on the wire)."""
    if isinstance(key, And):
        return b"(" + b" ".join(render(k) for k in key.keys) + b")"
    if isinstance(key, Or):
        return b"OR " + render(key.left) + b" " + render(key.right)
    if isinstance(key, Not):
        return b"NOT " + render(key.key)
    if key.name == "SEQ":
        return str(key.value).encode()
    head = key.name.encode()
    value = key.value
    if value is None:
        return head
    if key.name == "HEADER":
        return head + b" " + astring(key.field) + b" " + string(str(value))
    if isinstance(value, date):
        return head + b" " + f"{value.day}-{MONTHS[value.month - 1].capitalize()}-{value.year:04d}".encode()
    if isinstance(value, str) and key.name in STRING_KEYS:
        return head + b" " + string(value)
    return head + b" " + str(value).encode()
