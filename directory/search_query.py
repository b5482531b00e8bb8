"""What a practitioner search is: its parameters and their bounds, the results, and keyset cursors.

:mod:`directory.search` runs a :class:`SearchQuery`; the JSON and FHIR APIs and the mailbox search share the
cursor format and the limits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field

from directory.errors import InvalidQuery
from directory.text import fold, words
from policies.addresses import MAX_ADDRESS

DEFAULT_LIMIT = 20
MAX_LIMIT = 100  # a larger limit is capped, not refused
MAX_WORDS = 8
MAX_TEXT = 200

_PROFESSION = re.compile(r"\d{1,3}")
_SPECIALTY = re.compile(r"[A-Za-z0-9_-]{1,12}")
_POSTAL = re.compile(r"[0-9][0-9AB]{0,4}")
_DEPARTMENT = re.compile(r"(?:\d{2,3}|2[AB])", re.IGNORECASE)
_IDENTIFIER = re.compile(r"8\d{11}|\d{11}|0[0-9AB]{9}|[0-9AB]{9}")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    q: str = ""
    profession: str | None = None
    specialty: str | None = None
    city: str | None = None
    postal_code: str | None = None
    department: str | None = None
    mailbox: str | None = None
    has_mailbox: bool | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class Place:
    structure: str
    address: str
    postal_code: str
    city: str
    department: str
    phone: str
    mode: str


@dataclass(frozen=True, slots=True)
class Practitioner:
    id_nat: str
    id_type: str
    id_pp: str
    civility: str
    title: str
    family: str
    given: str
    profession_code: str
    profession_label: str
    specialties: list[tuple[str, str]]
    active: bool
    mailboxes: list[str] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Practitioner]
    next_cursor: str | None
    limit: int


def is_identifier(value: str) -> bool:
    """An idNat (RPPS or ADELI), an 11-digit RPPS or a 9-character ADELI."""
    return _IDENTIFIER.fullmatch(value.upper()) is not None


def check_query(query: SearchQuery) -> SearchQuery:
    """The query if every part is within bounds, else :class:`InvalidQuery` naming the parameter."""
    if len(query.q) > MAX_TEXT:
        raise InvalidQuery("q", f"the search text is longer than {MAX_TEXT} characters")
    if len(words(query.q)) > MAX_WORDS:
        raise InvalidQuery("q", f"the search text has more than {MAX_WORDS} words")
    checks = (
        ("profession", query.profession, _PROFESSION, "a profession code is 1 to 3 digits (10 doctor, 60 nurse)"),
        ("specialty", query.specialty, _SPECIALTY, "a specialty code is letters and digits, such as SM04"),
        ("postal_code", query.postal_code, _POSTAL, "a postal code (or its start) is up to 5 digits"),
        ("department", query.department, _DEPARTMENT, "a department is 2 or 3 digits, or 2A/2B"),
    )
    for name, value, pattern, message in checks:
        if value is not None and not pattern.fullmatch(value):
            raise InvalidQuery(name, message)
    if query.city is not None and (len(query.city) > MAX_TEXT or not fold(query.city)):
        raise InvalidQuery("city", "the city must contain letters and be at most 200 characters")
    if query.mailbox is not None and (len(query.mailbox) > MAX_ADDRESS or "@" not in query.mailbox):
        raise InvalidQuery("mailbox", "mailbox must be a whole mail address (name@domain)")
    if query.limit < 1:
        raise InvalidQuery("limit", "limit must be a positive number")
    return query


def query_fingerprint(query: SearchQuery) -> str:
    """What a cursor is bound to: the search's parameters, not its position."""
    parts = (query.q, query.profession, query.specialty, query.city, query.postal_code, query.department,
             query.mailbox, query.has_mailbox)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def encode_cursor(rank: int, sort_key: str, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([rank, sort_key, fingerprint]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[int, str]:
    try:
        if len(cursor) > 1000:
            raise ValueError("too long")
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        rank, sort_key, owner = value
        if not isinstance(rank, int) or not isinstance(sort_key, str) or not isinstance(owner, str):
            raise ValueError("bad types")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidQuery("cursor", "the cursor is not one this service gave: start the search again") from error
    if owner != fingerprint:
        raise InvalidQuery("cursor", "the cursor belongs to another search: start the search again")
    return rank, sort_key
