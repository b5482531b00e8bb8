"""Server responses and the serialisation of IMAP data values (RFC 3501 §4, §7).

Handlers return :class:`Response` objects; only :meth:`Response.to_bytes` produces wire bytes. Strings are sent
quoted when they can be (RFC 3501 §4.3: no CR, LF, NUL, 8-bit octets, and short enough), as literals otherwise.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass

from mail_gateway.imap.errors import ImapError

# Atom-specials (RFC 3501 §9): characters that force a quoted string instead of an atom.
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(0, 32)) | {127}
_MAX_QUOTED = 1024  # longer strings go as literals; clients handle both


class Raw(bytes):
    """Already-serialised data, inserted as is (a nested list, an atom, a number)."""


def quoted_ok(data: bytes) -> bool:
    return len(data) <= _MAX_QUOTED and not any(b in (0, 10, 13) or b > 127 for b in data)


def string(data: bytes | str) -> bytes:
    """A quoted string, or a literal when it cannot be quoted."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    if quoted_ok(raw):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(raw) + raw


def nstring(data: bytes | str | None) -> bytes:
    return b"NIL" if data is None else string(data)


def astring(data: bytes | str) -> bytes:
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    if raw and not any(b in _ATOM_SPECIALS or b > 127 for b in raw):
        return raw
    return string(raw)


def plist(items: Iterable[bytes]) -> bytes:
    return b"(" + b" ".join(items) + b")"


def code_text(code: str | None, text: str) -> bytes:
    body = text.replace("\r", " ").replace("\n", " ")
    return (f"[{code}] {body}" if code else body).encode("utf-8", "replace")


@dataclass(frozen=True)
class Response(abc.ABC):
    @abc.abstractmethod
    def to_bytes(self) -> bytes:
        """The response on the wire, CRLF included."""


@dataclass(frozen=True)
class Untagged(Response):
    """``* <data>``: data is serialised already (``3 EXISTS``, ``CAPABILITY IMAP4rev1 ...``)."""

    data: bytes

    def to_bytes(self) -> bytes:
        return b"* " + self.data + b"\r\n"


@dataclass(frozen=True)
class Status(Response):
    """``* OK/NO/BAD/BYE/PREAUTH [code] text`` or its tagged form when ``tag`` is set."""

    status: str
    text: str
    code: str | None = None
    tag: bytes | None = None

    def to_bytes(self) -> bytes:
        head = self.tag if self.tag is not None else b"*"
        return head + b" " + self.status.encode() + b" " + code_text(self.code, self.text) + b"\r\n"


@dataclass(frozen=True)
class Continuation(Response):
    text: bytes = b"Ready"

    def to_bytes(self) -> bytes:
        return b"+ " + self.text + b"\r\n"


def ok(tag: bytes, text: str, code: str | None = None) -> Status:
    return Status("OK", text, code, tag)


def from_error(tag: bytes | None, error: ImapError) -> Status:
    if error.status == "BYE":
        return Status("BYE", error.text, error.code)
    return Status(error.status, error.text, error.code, tag)
