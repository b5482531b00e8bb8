"""A cursor over one complete command's bytes (literals included), with the RFC 3501 §9 lexical rules.

The framer has already collected the literals, so a literal here is ``{N}`` or ``{N+}`` (RFC 7888), CRLF, and
exactly N octets that follow in the same buffer. Every method raises :class:`ProtocolError` on bad input.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

from mail_gateway.imap.errors import LimitExceeded, ProtocolError
from mail_gateway.imap.protocol import utf7

# RFC 3501 §9: ATOM-CHAR is any CHAR except atom-specials; resp-specials "]" is allowed in ASTRING-CHAR.
_ATOM_STOP = frozenset(b'(){ %*"\\]') | frozenset(range(0, 33)) | frozenset(range(127, 256))
_ASTRING_STOP = _ATOM_STOP - {ord("]")}
_LIST_STOP = _ASTRING_STOP - {ord("%"), ord("*")}
_LITERAL = re.compile(rb"\{(\d{1,10})(\+)?\}\r\n")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_TIME = re.compile(rb'"([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"')
_DATE = re.compile(rb"(\d{1,2})-([A-Za-z]{3})-(\d{4})")


class Reader:
    def __init__(self, data: bytes, *, max_depth: int = 64) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth
        self.depth = 0

    # Position ------------------------------------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self, count: int = 1) -> bytes:
        return self.data[self.pos : self.pos + count]

    def expect(self, token: bytes) -> None:
        if self.data[self.pos : self.pos + len(token)].upper() != token.upper():
            raise ProtocolError(f"expected {token.decode()!r} at octet {self.pos}")
        self.pos += len(token)

    def sp(self) -> None:
        self.expect(b" ")

    def maybe(self, token: bytes) -> bool:
        if self.data[self.pos : self.pos + len(token)].upper() == token.upper():
            self.pos += len(token)
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise ProtocolError(f"unexpected text at octet {self.pos}")

    def open_paren(self) -> None:
        self.expect(b"(")
        self.depth += 1
        if self.depth > self.max_depth:
            raise LimitExceeded(f"parentheses nest deeper than {self.max_depth}")

    def close_paren(self) -> None:
        self.expect(b")")
        self.depth -= 1

    # Tokens --------------------------------------------------------------------------------------------

    def _run(self, stop: frozenset[int]) -> bytes:
        start = self.pos
        data = self.data
        while self.pos < len(data) and data[self.pos] not in stop:
            self.pos += 1
        return data[start : self.pos]

    def atom(self) -> bytes:
        value = self._run(_ATOM_STOP)
        if not value:
            raise ProtocolError(f"expected an atom at octet {self.pos}")
        return value

    def keyword(self) -> str:
        """An atom as an upper-case string (command names, search keys, fetch items)."""
        return self.atom().decode("ascii").upper()

    def tag(self) -> bytes:
        value = self._run(_ASTRING_STOP | {ord("+")})
        if not value:
            raise ProtocolError("missing tag")
        return value

    def number(self) -> int:
        start = self.pos
        while self.pos < len(self.data) and 48 <= self.data[self.pos] <= 57:
            self.pos += 1
        text = self.data[start : self.pos]
        if not text or len(text) > 20:
            raise ProtocolError(f"expected a number at octet {start}")
        value = int(text)
        if value > 2**63 - 1:  # RFC 7162 §7: mod-sequence values are 63-bit
            raise ProtocolError("number too large")
        return value

    def nz_number(self) -> int:
        value = self.number()
        if value == 0 or value > 0xFFFFFFFF:
            raise ProtocolError("expected a non-zero 32-bit number")
        return value

    def string(self) -> bytes:
        if self.peek() == b'"':
            return self.quoted()
        if self.peek() == b"{":
            return self.literal()
        raise ProtocolError(f"expected a string at octet {self.pos}")

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise ProtocolError("unterminated quoted string")
            byte = data[self.pos]
            self.pos += 1
            if byte == 0x22:
                return bytes(out)
            if byte == 0x5C:
                if self.pos >= len(data) or data[self.pos] not in (0x22, 0x5C):
                    raise ProtocolError('only \\\\ and \\" may be escaped in a quoted string')
                byte = data[self.pos]
                self.pos += 1
            elif byte in (0, 10, 13):
                raise ProtocolError("CR, LF and NUL are not allowed in a quoted string")
            out.append(byte)

    def literal(self) -> bytes:
        match = _LITERAL.match(self.data, self.pos)
        if match is None:
            raise ProtocolError(f"bad literal at octet {self.pos}")
        size = int(match.group(1))
        start = match.end()
        if start + size > len(self.data):
            raise ProtocolError("literal shorter than announced")
        self.pos = start + size
        return self.data[start : self.pos]

    def astring(self) -> bytes:
        if self.peek() in (b'"', b"{"):
            return self.string()
        value = self._run(_ASTRING_STOP)
        if not value:
            raise ProtocolError(f"expected an atom or a string at octet {self.pos}")
        return value

    def nstring(self) -> bytes | None:
        if self.maybe(b"NIL"):
            return None
        return self.string()

    def list_mailbox(self) -> bytes:
        if self.peek() in (b'"', b"{"):
            return self.string()
        value = self._run(_LIST_STOP)
        if not value:
            raise ProtocolError("expected a mailbox pattern")
        return value

    def mailbox(self) -> str:
        """A mailbox name, decoded from modified UTF-7; ``INBOX`` is case-insensitive (RFC 3501 §5.1)."""
        name = utf7.decode(self.astring())
        return normalise_mailbox(name)

    def flag(self) -> str:
        if self.maybe(b"\\"):
            if self.maybe(b"*"):
                return "\\*"
            return "\\" + self.atom().decode("ascii").capitalize()
        return self.atom().decode("ascii")

    def flag_list(self) -> list[str]:
        self.open_paren()
        flags: list[str] = []
        if not self.maybe(b")"):
            flags.append(self.flag())
            while self.maybe(b" "):
                flags.append(self.flag())
            self.close_paren()
        else:
            self.depth -= 1
        return flags

    def sequence_set_text(self) -> bytes:
        start = self.pos
        while self.pos < len(self.data) and self.data[self.pos] in b"0123456789:*,$":
            self.pos += 1
        if start == self.pos:
            raise ProtocolError("expected a sequence set")
        return self.data[start : self.pos]

    def date_time(self) -> datetime:
        """RFC 3501 §9 ``date-time``: ``"dd-Mon-yyyy hh:mm:ss +zzzz"``."""
        match = _DATE_TIME.match(self.data, self.pos)
        if match is None:
            raise ProtocolError('bad date-time (expected "dd-Mon-yyyy hh:mm:ss +zzzz")')
        self.pos = match.end()
        day, month, year, hh, mm, ss, sign, zh, zm = (g.decode() for g in match.groups())
        offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == "-" else 1)
        try:
            value = datetime(int(year), _month(month), int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))
        except ValueError:
            raise ProtocolError("impossible date-time") from None
        return value.astimezone(UTC)

    def date(self) -> date:
        """RFC 3501 §9 ``date``: ``d-Mon-yyyy``, optionally quoted."""
        quoted = self.maybe(b'"')
        match = _DATE.match(self.data, self.pos)
        if match is None:
            raise ProtocolError("bad date (expected d-Mon-yyyy)")
        self.pos = match.end()
        if quoted:
            self.expect(b'"')
        try:
            return date(int(match.group(3)), _month(match.group(2).decode()), int(match.group(1)))
        except ValueError:
            raise ProtocolError("impossible date") from None


def _month(text: str) -> int:
    try:
        return MONTHS.index(text.lower()) + 1
    except ValueError:
        raise ProtocolError(f"unknown month {text!r}") from None


def normalise_mailbox(name: str) -> str:
    if name.upper() == "INBOX":
        return "INBOX"
    if name.upper().startswith("INBOX/"):
        return "INBOX" + name[5:]
    return name
