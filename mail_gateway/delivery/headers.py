"""Header work done at submission and reception: trace fields, missing Date/Message-ID, bare line endings.

All pure functions over bytes.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email.utils import format_datetime, getaddresses

from mail_gateway.mime.headers import parse_fields, split_header_body


def has_bare_line_ending(raw: bytes) -> bool:
    """True when a CR or LF stands alone: the shape of SMTP smuggling payloads (RFC 5321 §2.3.8).

    Counting is done in C and is much faster than a look-behind regular expression on large messages.
    """
    pairs = raw.count(b"\r\n")
    return raw.count(b"\r") != pairs or raw.count(b"\n") != pairs


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    header_end, _ = split_header_body(raw)
    return parse_fields(raw[:header_end])


def new_queue_id() -> str:
    return secrets.token_hex(8).upper()


def make_message_id(hostname: str) -> str:
    return f"<{secrets.token_hex(12)}@{hostname}>"


def add_missing_fields(raw: bytes, fields: list[tuple[str, str]], hostname: str, now: datetime) -> bytes:
    """RFC 6409 §8.2-8.3: a submission server may add ``Date`` and ``Message-ID`` when they are missing."""
    names = {name for name, _ in fields}
    added = b""
    if "date" not in names:
        added += f"Date: {format_datetime(now)}\r\n".encode()
    if "message-id" not in names:
        added += f"Message-ID: {make_message_id(hostname)}\r\n".encode()
    if not added:
        return raw
    header_end, _ = split_header_body(raw)
    return raw[:header_end] + added + raw[header_end:]


def received_field(
    *,
    helo: str | None,
    peer_ip: str,
    hostname: str,
    protocol: str,
    queue_id: str,
    recipient: str | None,
    now: datetime,
) -> bytes:
    """A ``Received:`` trace field (RFC 5321 §4.4; ``with`` keywords from RFC 3848)."""
    helo_part = re.sub(r"[^A-Za-z0-9.\-\[\]:]", "", helo or "unknown")[:255] or "unknown"
    for_part = f"\r\n\tfor <{recipient}>" if recipient else ""
    return (
        f"Received: from {helo_part} ([{peer_ip}])\r\n\tby {hostname} (mssante-gateway) with {protocol} "
        f"id {queue_id}{for_part};\r\n\t{format_datetime(now)}\r\n"
    ).encode("utf-8", "surrogateescape")


def from_addresses(fields: list[tuple[str, str]]) -> list[str]:
    values = [value for name, value in fields if name == "from"]
    return [address.lower() for _, address in getaddresses(values) if address]
