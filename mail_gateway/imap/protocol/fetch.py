"""FETCH items: their grammar (RFC 3501 §6.4.5, RFC 7162 §3.1.4) and their rendering (RFC 3501 §7.4.2).

Rendering is pure: it takes a message's metadata, its cached parse and the first bytes of its blob (as many as
:func:`bytes_needed` asked for) and returns the ``FETCH`` data. Only ``BODY[...]``, ``RFC822*`` and
``BINARY``-less body sections touch the blob; ENVELOPE and BODYSTRUCTURE come from the cached parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mail_gateway.imap.errors import ProtocolError
from mail_gateway.imap.protocol.bodystructure import body_structure, envelope
from mail_gateway.imap.protocol.reader import MONTHS, Reader
from mail_gateway.imap.protocol.response import plist, string

SIMPLE = frozenset(
    {
        "UID",
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODYSTRUCTURE",
        "BODY",
        "MODSEQ",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
    }
)
# RFC 3501 §6.4.5 macros.
MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
MAX_FIELDS = 1000


@dataclass(frozen=True)
class Section:
    """``BODY[<part>.<text>]<partial>``; ``text`` is HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME."""

    peek: bool = False
    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()
    partial: tuple[int, int] | None = None

    def name(self) -> bytes:
        spec = ".".join(str(n) for n in self.part)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"BODY[{spec}]{origin}".encode()


FetchAttr = str | Section


def parse_attrs(reader: Reader) -> list[FetchAttr]:
    """``ALL`` / ``FAST`` / ``FULL`` / one item / a parenthesised list of items."""
    if reader.peek() == b"(":
        reader.open_paren()
        attrs = [parse_attr(reader)]
        while reader.maybe(b" "):
            attrs.append(parse_attr(reader))
        reader.close_paren()
        return attrs
    start = reader.pos
    word = reader.keyword()
    if word in MACROS:
        return list(MACROS[word])
    reader.pos = start
    return [parse_attr(reader)]


def parse_attr(reader: Reader) -> FetchAttr:
    start = reader.pos
    while not reader.at_end() and reader.peek() not in (b" ", b"(", b")", b"["):
        reader.pos += 1
    word = reader.data[start : reader.pos].decode("ascii", "replace").upper()
    if word in ("BODY", "BODY.PEEK") and reader.peek() == b"[":
        return _section(reader, peek=word == "BODY.PEEK")
    if word in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        raise ProtocolError("BINARY is not supported by this server")
    if word not in SIMPLE:
        raise ProtocolError(f"unknown FETCH item {word[:40]!r}")
    return word


def _section(reader: Reader, *, peek: bool) -> Section:
    reader.expect(b"[")
    part: list[int] = []
    text: str | None = None
    fields: tuple[str, ...] = ()
    while reader.peek().isdigit():
        part.append(reader.nz_number())
        if len(part) > 100:
            raise ProtocolError("section part number too deep")
        if not reader.maybe(b"."):
            break
    if reader.peek() != b"]":
        text = reader.keyword()
        if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            reader.sp()
            fields = _header_list(reader)
        elif text not in ("HEADER", "TEXT", "MIME"):
            raise ProtocolError(f"unknown section text {text[:40]!r}")
        if text == "MIME" and not part:
            raise ProtocolError("MIME needs a part number (RFC 3501 §6.4.5)")
    reader.expect(b"]")
    partial: tuple[int, int] | None = None
    if reader.maybe(b"<"):
        origin = reader.number()
        reader.expect(b".")
        length = reader.nz_number()
        reader.expect(b">")
        partial = (origin, length)
    return Section(peek, tuple(part), text, fields, partial)


def _header_list(reader: Reader) -> tuple[str, ...]:
    reader.open_paren()
    names = [reader.astring().decode("ascii", "replace").upper()]
    while reader.maybe(b" "):
        names.append(reader.astring().decode("ascii", "replace").upper())
        if len(names) > MAX_FIELDS:
            raise ProtocolError("too many header field names")
    reader.close_paren()
    return tuple(names)


def sets_seen(attrs: Sequence[FetchAttr]) -> bool:
    """RFC 3501 §6.4.5: BODY[...] (not PEEK), RFC822 and RFC822.TEXT set ``\\Seen``."""
    return any((isinstance(a, Section) and not a.peek) or a in ("RFC822", "RFC822.TEXT") for a in attrs)


# Section resolution --------------------------------------------------------------------------------------


def _node(top: dict[str, Any], path: tuple[int, ...]) -> dict[str, Any] | None:
    node = top
    for number in path:
        inner = node.get("message")
        if inner is not None:
            node = inner["part"]
        if node.get("parts"):
            if number > len(node["parts"]):
                return None
            node = node["parts"][number - 1]
        elif number != 1:
            return None
    return node


def section_range(structure: dict[str, Any], section: Section) -> tuple[int, int] | None:
    """The byte range a section covers, or ``None`` when the part does not exist."""
    top = structure["part"]
    if not section.part and section.text is None:
        return (0, structure["size"])
    if section.text in ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"):
        if section.part:
            node = _node(top, section.part)
            if node is None or node.get("message") is None:
                return None
            message = node["message"]["part"]
        else:
            message = top
        key = "body" if section.text == "TEXT" else "header"
        start, end = message[key]
        return (start, end)
    node = _node(top, section.part)
    if node is None:
        return None
    start, end = node["header"] if section.text == "MIME" else node["body"]
    return (start, end)


def bytes_needed(attrs: Sequence[FetchAttr], structure: dict[str, Any]) -> int:
    """How many leading bytes of the blob the rendering of ``attrs`` reads (0: none)."""
    needed = 0
    for attr in attrs:
        if attr in ("RFC822", "RFC822.TEXT"):
            return int(structure["size"])
        if attr == "RFC822.HEADER":
            needed = max(needed, structure["part"]["header"][1])
        elif isinstance(attr, Section):
            found = section_range(structure, attr)
            if found is not None:
                needed = max(needed, found[1])
    return needed


def filter_header(block: bytes, names: tuple[str, ...], *, exclude: bool) -> bytes:
    """Keep (or drop) the named fields of a header block, folding preserved, plus the blank line."""
    wanted = {name.lower() for name in names}
    out: list[bytes] = []
    keep = False
    for line in block.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
        keep = (name in wanted) != exclude
        if keep:
            out.append(line)
    return b"".join(out) + b"\r\n"


def section_bytes(structure: dict[str, Any], section: Section, content: bytes) -> bytes | None:
    found = section_range(structure, section)
    if found is None:
        return None
    data = content[found[0] : found[1]]
    if section.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        data = filter_header(data, section.fields, exclude=section.text == "HEADER.FIELDS.NOT")
    if section.partial is not None:
        origin, length = section.partial
        data = data[origin : origin + length]
    return data


@dataclass(frozen=True)
class MessageData:
    """What rendering needs of one message."""

    msn: int
    uid: int
    flags: Sequence[str]
    modseq: int
    internal_date: datetime
    size: int
    structure: dict[str, Any] | None


def internal_date(value: datetime) -> bytes:
    """RFC 3501 §9 ``date-time``: ``"dd-Mon-yyyy hh:mm:ss +zzzz"``."""
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    month = MONTHS[value.month - 1].capitalize()
    text = f'"{value.day:02d}-{month}-{value.year:04d} {value:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}"'
    return text.encode()


def render(attrs: Sequence[FetchAttr], message: MessageData, content: bytes) -> bytes:
    """The parenthesised FETCH data for one message (without ``* n FETCH``)."""
    items: list[bytes] = []
    for attr in attrs:
        if isinstance(attr, Section):
            assert message.structure is not None
            data = section_bytes(message.structure, attr, content)
            items += [attr.name(), b"NIL" if data is None else _literal_or_quoted(data)]
            continue
        items.append(attr.encode())
        if attr == "UID":
            items.append(b"%d" % message.uid)
        elif attr == "FLAGS":
            items.append(plist(f.encode() for f in message.flags))
        elif attr == "INTERNALDATE":
            items.append(internal_date(message.internal_date))
        elif attr == "RFC822.SIZE":
            items.append(b"%d" % message.size)
        elif attr == "MODSEQ":
            items.append(b"(%d)" % message.modseq)
        else:
            assert message.structure is not None
            items.append(_structured(attr, message.structure, content))
    return plist(items)


def _structured(attr: str, structure: dict[str, Any], content: bytes) -> bytes:
    if attr == "ENVELOPE":
        return envelope(structure["envelope"])
    if attr == "BODYSTRUCTURE":
        return body_structure(structure["part"])
    if attr == "BODY":
        return body_structure(structure["part"], extensible=False)
    if attr == "RFC822":
        return _literal_or_quoted(content[: structure["size"]])
    start, end = structure["part"]["header"] if attr == "RFC822.HEADER" else structure["part"]["body"]
    return _literal_or_quoted(content[start:end])


def _literal_or_quoted(data: bytes) -> bytes:
    # Message text is sent as a literal (RFC 3501 §4.3), except tiny printable pieces.
    if len(data) < 64 and data.isascii() and b"\r" not in data and b"\n" not in data:
        return string(data)
    return b"{%d}\r\n" % len(data) + data
