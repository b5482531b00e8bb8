"""Byte-exact MIME handling for S/MIME: canonical form, header split, multipart/signed parts.

A detached signature covers the first body part *exactly as transmitted* in canonical form (RFC 8551 §3.1.1:
CRLF line ends), so this module slices raw bytes instead of re-serialising a parsed ``email`` object, which
would refold headers and break signatures.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32

from certs.errors import MessageFormatError

_CONTENT_HEADER = re.compile(rb"(?i)(content-|mime-version:)")
_WANTED = {b"content-type", b"content-transfer-encoding", b"from", b"sender"}


def canonical(raw: bytes) -> bytes:
    """Bare LF line ends become CRLF (RFC 5322 §2.1); CRLF stays as it is."""
    if raw.count(b"\n") == raw.count(b"\r\n"):
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def split_entity(raw: bytes) -> tuple[bytes, bytes]:
    """Header block (each field ending in CRLF) and body of a canonical entity."""
    if raw.startswith(b"\r\n"):
        return b"", raw[2:]
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return raw if raw.endswith(b"\r\n") else raw + b"\r\n", b""
    return raw[: end + 2], raw[end + 4 :]


def header_fields(header: bytes) -> list[bytes]:
    """Unfolded-aware split: each field with its continuation lines (RFC 5322 §2.2.3), CRLF kept."""
    fields: list[bytes] = []
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def partition_headers(header: bytes) -> tuple[bytes, bytes]:
    """(message headers, MIME content headers): what stays outside and what moves into the signed entity."""
    outer = [f for f in header_fields(header) if not _CONTENT_HEADER.match(f)]
    inner = [f for f in header_fields(header) if _CONTENT_HEADER.match(f) and not f.lower().startswith(b"mime-")]
    return b"".join(outer), b"".join(inner)


def parse_headers(header: bytes) -> Message:
    """A lenient header-only parse (compat32 never raises on odd headers; defects are recorded instead).

    Only the fields S/MIME needs are kept; unfolding and parameter parsing are the ``email`` package's.
    """
    message = Message(policy=compat32)
    for field in header_fields(header):
        name, colon, value = field.partition(b":")
        if colon and name.strip().lower() in _WANTED:
            unfolded = value.decode("latin-1").replace("\r\n", "").replace("\n", "").strip()
            message[name.strip().decode("latin-1")] = unfolded
    return message


@dataclass(frozen=True)
class SignedParts:
    content: bytes  # the first part, canonical, without the CRLF that belongs to the delimiter
    signature: bytes  # the second part's decoded body (DER)
    signature_type: str


def _delimiter_at(body: bytes, delimiter: bytes, start: int) -> int:
    """Index of the next delimiter line at or after ``start`` (RFC 2046 §5.1.1: it begins a line)."""
    if start == 0 and body.startswith(delimiter):
        return 0
    index = body.find(b"\r\n" + delimiter, max(start - 2, 0))
    return -1 if index < 0 else index + 2


def split_signed(body: bytes, boundary: str) -> SignedParts:
    """The two parts of a multipart/signed body (RFC 1847 §2.1)."""
    delimiter = b"--" + boundary.encode("ascii", "replace")
    first = _delimiter_at(body, delimiter, 0)
    if first < 0:
        raise MessageFormatError("the multipart/signed boundary does not occur in the body")
    content_start = body.find(b"\r\n", first) + 2
    second = _delimiter_at(body, delimiter, content_start)
    if content_start < 2 or second < 0:
        raise MessageFormatError("the multipart/signed body has no second part")
    content = body[content_start : second - 2]
    part_start = body.find(b"\r\n", second) + 2
    end = _delimiter_at(body, delimiter, part_start)
    if part_start < 2 or end < 0:
        raise MessageFormatError("the signature part is not closed by the boundary")
    part_header, part_body = split_entity(body[part_start : end - 2])
    headers = parse_headers(part_header)
    return SignedParts(content, decode_body(headers, part_body), headers.get_content_type())


def decode_body(headers: Message, body: bytes) -> bytes:
    """Undo the Content-Transfer-Encoding of a CMS part (base64 in practice, RFC 8551 §3.1.3)."""
    encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":
        try:
            return base64.b64decode(body)  # validate=False skips line breaks and other non-alphabet bytes
        except (binascii.Error, ValueError) as error:
            raise MessageFormatError(f"the CMS part is not valid base64: {error}") from error
    return body


def wrap_base64(data: bytes) -> bytes:
    """Base64 in 76-character lines with CRLF (RFC 2045 §6.8)."""
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))
