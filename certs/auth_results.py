"""``Authentication-Results`` (RFC 8601) for S/MIME verdicts: remove forged fields, add ours.

RFC 8601 §5: a border MTA removes any ``Authentication-Results`` field that claims its own authserv-id before
adding its own, so that a sender cannot forge a "pass". Header fields are handled as raw bytes (the body and the
other fields stay byte-identical, which keeps DKIM and S/MIME signatures intact).
"""

from __future__ import annotations

import re

from certs.mime import header_fields
from certs.verdict import Verdict

FIELD = b"Authentication-Results"
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be at most 78 characters


def authserv_id(value: str) -> str:
    """The authserv-id of a field value (RFC 8601 §2.2): the first token, comments removed."""
    cleaned = _COMMENT.sub(" ", value)
    return cleaned.split(";", 1)[0].strip().split()[0].lower() if cleaned.strip() else ""


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block, rest from the blank line on, the message's newline), in the message's own line ends."""
    newline = b"\r\n" if re.search(rb"\r\n", raw[:1000]) else b"\n"
    blank = re.search(rb"\r?\n\r?\n", raw)
    if blank is None:
        return raw, b"", newline
    first_newline = raw[blank.start() : blank.end()].index(b"\n") + 1
    cut = blank.start() + first_newline
    return raw[:cut], raw[cut:], newline


def remove_ours(raw: bytes, our_id: str) -> bytes:
    """Drop every Authentication-Results field that claims ``our_id``; keep the rest byte for byte."""
    header, rest, _newline = _split(raw)
    kept = []
    for field in header_fields(header):
        name, _, value = field.partition(b":")
        if name.strip().lower() == FIELD.lower():
            text = value.decode("ascii", "replace").replace("\r", " ").replace("\n", " ")
            if authserv_id(text) == our_id.lower():
                continue
        kept.append(field)
    return b"".join(kept) + rest


def fold(name: bytes, value: str) -> bytes:
    """``Name: value`` folded at spaces so that lines stay within 78 characters when possible."""
    lines: list[str] = []
    current = name.decode() + ":"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > MAX_LINE and current.strip():
            lines.append(current)
            current = "\t" + word
        else:
            current += " " + word
    lines.append(current)
    return "\r\n".join(lines).encode("ascii") + b"\r\n"


def add_result(raw: bytes, verdict: Verdict, our_id: str) -> bytes:
    """Remove forged fields for ``our_id`` and prepend ours for ``verdict`` (RFC 8601 §4: at the top)."""
    newline = _split(raw)[2]
    field = fold(FIELD, verdict.authentication_results(our_id)).replace(b"\r\n", newline)
    return field + remove_ours(raw, our_id)
