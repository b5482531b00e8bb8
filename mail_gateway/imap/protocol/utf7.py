"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), to and from Python ``str``.

Printable US-ASCII other than ``&`` stands for itself; ``&`` is ``&-``; anything else is UTF-16BE in modified
base64 (``,`` instead of ``/``, no padding) between ``&`` and ``-``.
"""

from __future__ import annotations

import base64

from mail_gateway.imap.errors import ProtocolError


def _b64(chunk: str) -> bytes:
    utf16 = chunk.encode("utf-16-be", "surrogatepass")
    return b"&" + base64.b64encode(utf16).rstrip(b"=").replace(b"/", b",") + b"-"


def encode(name: str) -> bytes:
    out = bytearray()
    pending: list[str] = []
    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            if pending:
                out += _b64("".join(pending))
                pending = []
            out += b"&-" if char == "&" else char.encode("ascii")
        else:
            pending.append(char)
    if pending:
        out += _b64("".join(pending))
    return bytes(out)


def decode(data: bytes) -> str:
    """Decode a wire name; malformed input raises :class:`ProtocolError` (a tagged BAD)."""
    out: list[str] = []
    i = 0
    n = len(data)
    while i < n:
        byte = data[i]
        if byte < 0x20 or byte > 0x7E:
            raise ProtocolError("mailbox names must be 7-bit modified UTF-7 (RFC 3501 §5.1.3)")
        if byte != 0x26:  # "&"
            out.append(chr(byte))
            i += 1
            continue
        end = data.find(b"-", i + 1)
        if end < 0:
            raise ProtocolError("unterminated modified UTF-7 sequence in a mailbox name")
        if end == i + 1:
            out.append("&")
            i = end + 1
            continue
        chunk = data[i + 1 : end].replace(b",", b"/")
        try:
            raw = base64.b64decode(chunk + b"=" * (-len(chunk) % 4), validate=True)
            text = raw.decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError("bad modified UTF-7 sequence in a mailbox name") from None
        # RFC 3501 §5.1.3: printable ASCII must not be base64-encoded, so names have one spelling.
        if any(0x20 <= ord(c) <= 0x7E for c in text) or encode(text) != data[i : end + 1]:
            raise ProtocolError("non-canonical modified UTF-7 in a mailbox name")
        out.append(text)
        i = end + 1
    return "".join(out)
