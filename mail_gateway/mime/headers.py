"""Bounded RFC 5322 header parsing over bytes (pure, no I/O).

Header values are kept as bytes decoded with ``surrogateescape`` so that any octet round-trips; decoding of
RFC 2047 encoded words is the caller's choice (IMAP ENVELOPE wants the raw form).
"""

from __future__ import annotations

import re

MAX_HEADER_BYTES = 1024 * 1024  # a header block larger than this is treated as body (defensive bound)
MAX_HEADER_FIELDS = 2000

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def split_header_body(raw: bytes, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """Return ``(header_end, body_start)`` offsets for the entity ``raw[start:end]``.

    ``header_end`` is the offset just after the header block's last line break, ``body_start`` the offset after
    the blank line (RFC 5322 §2.1). An entity with no blank line is all header.
    """
    stop = len(raw) if end is None else end
    if raw.startswith(b"\r\n", start) or raw.startswith(b"\n", start):
        # RFC 2046 §5.1.1: a body part may have no header at all.
        skip = 2 if raw.startswith(b"\r\n", start) else 1
        return start, min(start + skip, stop)
    match = _BLANK_LINE.search(raw, start, min(stop, start + MAX_HEADER_BYTES))
    if match is None:
        return stop, stop
    first_break = raw.index(b"\n", match.start()) + 1
    return first_break, match.end()


_BAD_NAME_OCTET = re.compile(rb"[^\x21-\x7e]")  # RFC 5322 §2.2: a field name is printable US-ASCII
_FOLD = re.compile(rb"\r?\n(?=[ \t])")


def parse_fields(block: bytes) -> list[tuple[str, str]]:
    """Unfold and split a header block into ``(lower-case name, value)`` pairs, in order.

    Lines that are not a field (no colon, or an illegal name) are skipped, as a lenient MUA would.
    """
    fields: list[tuple[str, str]] = []
    current: list[bytes] | None = None
    name = b""
    bad_name = _BAD_NAME_OCTET.search
    for line in block.splitlines():
        if current is not None and line[:1] in (b" ", b"\t"):
            current.append(line)
            continue
        if current is not None:
            fields.append(_field(name, current))
            if len(fields) >= MAX_HEADER_FIELDS:
                return fields
        colon = line.find(b":")
        if colon <= 0:
            current = None
            continue
        name = line[:colon].rstrip(b" \t")
        if bad_name(name) is not None:
            current = None
            continue
        current = [line[colon + 1 :]]
    if current is not None:
        fields.append(_field(name, current))
    return fields


def _field(name: bytes, lines: list[bytes]) -> tuple[str, str]:
    # RFC 5322 §2.2.3: unfolding removes CRLF that precedes white space.
    value = lines[0].strip() if len(lines) == 1 else _FOLD.sub(b"", b"\r\n".join(lines)).strip()
    return name.decode("ascii").lower(), value.decode("utf-8", "surrogateescape")


def first(fields: list[tuple[str, str]], name: str) -> str | None:
    for key, value in fields:
        if key == name:
            return value
    return None


_TOKEN_PARAM = re.compile(
    r"""\s*;\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)""",
)


def parse_content_type(value: str | None) -> tuple[str, str, dict[str, str]]:
    """``type/subtype; params`` → lower-case type, subtype and a parameter map (RFC 2045 §5.1).

    Missing or broken values fall back to ``text/plain`` (RFC 2045 §5.2).
    """
    if not value:
        return "text", "plain", {"charset": "us-ascii"}
    main, _, rest = value.partition(";")
    kind, slash, sub = main.strip().partition("/")
    if not slash or not kind.strip() or not sub.strip():
        return "text", "plain", {"charset": "us-ascii"}
    return kind.strip().lower(), sub.strip().lower(), parse_params(";" + rest)


def parse_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in _TOKEN_PARAM.finditer(text):
        key = match.group(1).lower()
        raw = match.group(2)
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(key, raw)
        if len(params) >= 64:
            break
    return params


def parse_disposition(value: str | None) -> tuple[str, dict[str, str]] | None:
    if not value:
        return None
    kind, _, rest = value.partition(";")
    if not kind.strip():
        return None
    return kind.strip().lower(), parse_params(";" + rest)
