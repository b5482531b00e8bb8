"""The cached parse of a stored message: envelope fields and the MIME tree with byte offsets.

Computed once at delivery and stored beside the message, so IMAP answers ENVELOPE, BODYSTRUCTURE and
``BODY[section]`` without re-parsing: a section is a byte range of the blob. The result is plain JSON data.

Shape (``v`` is bumped when the shape changes, so old rows can be recomputed)::

    {"v": 1, "size": int, "envelope": {...}, "part": Part}
    Part = {"type", "subtype", "params", "id", "description", "encoding", "md5", "disposition",
            "language", "location", "header": [start, end], "body": [start, end], "lines",
            "parts": [Part, ...]            # multipart only
            "message": {"envelope", "part"} # message/rfc822 and message/global only}

Bounds: nesting depth and part count are capped; deeper structure is treated as an opaque leaf.
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from typing import Any

from mail_gateway.mime.headers import (
    first,
    parse_content_type,
    parse_disposition,
    parse_fields,
    split_header_body,
)

STRUCTURE_VERSION = 1
MAX_DEPTH = 32
MAX_PARTS = 1000

ENVELOPE_FIELDS = ("date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id")
ADDRESS_FIELDS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc"})

Address = list[str | None]  # [name, adl, mailbox, host] as in RFC 3501 §7.4.2


def parse_addresses(value: str | None) -> list[Address] | None:
    """Address list for ENVELOPE: ``[[name, None, mailbox, host], ...]`` or ``None`` when absent."""
    if value is None:
        return None
    result: list[Address] = []
    for name, addr in getaddresses([value]):
        if not addr and not name:
            continue
        local, at, host = addr.rpartition("@")
        if not at:
            local, host = addr, ""
        result.append([name or None, None, local or None, host or None])
        if len(result) >= 500:
            break
    return result or None


def envelope(fields: list[tuple[str, str]]) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for name in ENVELOPE_FIELDS:
        value = first(fields, name)
        env[name] = parse_addresses(value) if name in ADDRESS_FIELDS else value
    # RFC 3501 §7.4.2: sender and reply-to default to from.
    if env["sender"] is None:
        env["sender"] = env["from"]
    if env["reply-to"] is None:
        env["reply-to"] = env["from"]
    return env


class _Budget:
    def __init__(self) -> None:
        self.parts = 0


def analyse(raw: bytes) -> dict[str, Any]:
    """Compute the cached structure of a whole message."""
    header_end, body_start = split_header_body(raw)
    fields = parse_fields(raw[:header_end])
    part = _part(raw, 0, len(raw), fields, header_end, body_start, 0, _Budget(), default_type=("text", "plain"))
    return {"v": STRUCTURE_VERSION, "size": len(raw), "envelope": envelope(fields), "part": part}


def _count_lines(raw: bytes, start: int, end: int) -> int:
    return raw.count(b"\n", start, end) + (1 if end > start and not raw[start:end].endswith(b"\n") else 0)


def _part(
    raw: bytes,
    start: int,
    end: int,
    fields: list[tuple[str, str]],
    header_end: int,
    body_start: int,
    depth: int,
    budget: _Budget,
    default_type: tuple[str, str],
) -> dict[str, Any]:
    budget.parts += 1
    ctype_value = first(fields, "content-type")
    if ctype_value is None:
        kind, sub = default_type
        params: dict[str, str] = {"charset": "us-ascii"} if kind == "text" else {}
    else:
        kind, sub, params = parse_content_type(ctype_value)
    encoding = (first(fields, "content-transfer-encoding") or "7bit").strip().lower()
    node: dict[str, Any] = {
        "type": kind,
        "subtype": sub,
        "params": params,
        "id": first(fields, "content-id"),
        "description": first(fields, "content-description"),
        "encoding": encoding,
        "md5": first(fields, "content-md5"),
        "disposition": parse_disposition(first(fields, "content-disposition")),
        "language": first(fields, "content-language"),
        "location": first(fields, "content-location"),
        "header": [start, body_start],
        "body": [body_start, end],
        "lines": _count_lines(raw, body_start, end),
    }
    can_descend = depth < MAX_DEPTH and budget.parts < MAX_PARTS
    if kind == "multipart" and can_descend and params.get("boundary"):
        child_default = ("message", "rfc822") if sub == "digest" else ("text", "plain")
        node["parts"] = [
            _child(raw, s, e, depth, budget, child_default)
            for s, e in _split_multipart(raw, body_start, end, params["boundary"])
        ]
        if not node["parts"]:
            # A multipart without any delimiter: treat it as an empty text part (lenient, like most MUAs).
            node["parts"] = [_child(raw, body_start, body_start, depth, budget, ("text", "plain"))]
    elif kind == "message" and sub in ("rfc822", "global") and can_descend and encoding in ("7bit", "8bit", "binary"):
        inner_header_end, inner_body_start = split_header_body(raw, body_start, end)
        inner_fields = parse_fields(raw[body_start:inner_header_end])
        inner = _part(
            raw, body_start, end, inner_fields, inner_header_end, inner_body_start, depth + 1, budget, ("text", "plain")
        )
        node["message"] = {"envelope": envelope(inner_fields), "part": inner}
    return node


def _child(
    raw: bytes, start: int, end: int, depth: int, budget: _Budget, default_type: tuple[str, str]
) -> dict[str, Any]:
    header_end, body_start = split_header_body(raw, start, end)
    fields = parse_fields(raw[start:header_end])
    return _part(raw, start, end, fields, header_end, body_start, depth + 1, budget, default_type)


def _split_multipart(raw: bytes, start: int, end: int, boundary: str) -> list[tuple[int, int]]:
    """Byte ranges of the body parts between ``--boundary`` delimiter lines (RFC 2046 §5.1.1).

    The CRLF before a delimiter belongs to the delimiter, not to the preceding part.
    """
    delimiter = re.compile(
        rb"(?:^|\r?\n)--" + re.escape(boundary.encode("utf-8", "surrogateescape")) + rb"(--)?[ \t]*(?:\r?\n|$)",
        re.MULTILINE,
    )
    ranges: list[tuple[int, int]] = []
    part_start: int | None = None
    for match in delimiter.finditer(raw, start, end):
        if part_start is not None:
            ranges.append((part_start, match.start()))
            if len(ranges) >= MAX_PARTS:
                break
        if match.group(1):  # close delimiter
            part_start = None
            break
        part_start = match.end()
    if part_start is not None:
        ranges.append((part_start, end))  # unterminated multipart: the last part runs to the end
    return ranges
