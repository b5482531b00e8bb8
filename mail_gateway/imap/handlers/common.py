"""What every handler returns, and the helpers they share."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from mail_gateway.imap.errors import ProtocolError
from mail_gateway.imap.protocol import utf7
from mail_gateway.imap.protocol.response import Response, string
from mail_gateway.imap.store import DELIMITER

MAX_NAME = 500  # characters in a folder name (the column holds 512)
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class State(enum.Enum):
    """Connection states (RFC 3501 §3)."""

    NOT_AUTHENTICATED = 1
    AUTHENTICATED = 2
    SELECTED = 3
    LOGOUT = 4


class Action(enum.Enum):
    """What the I/O layer must do after sending the responses."""

    NONE = "none"
    STARTTLS = "starttls"  # upgrade the connection (RFC 3501 §6.2.1)
    LOGOUT = "logout"  # close the connection
    IDLE = "idle"  # wait for DONE while pushing updates (RFC 2177)
    SASL = "sasl"  # read one SASL response line (RFC 3501 §6.2.2)


@dataclass
class Reply:
    responses: list[Response] = field(default_factory=list)
    action: Action = Action.NONE


def mailbox_name(name: str) -> bytes:
    """A folder name on the wire: modified UTF-7, quoted (RFC 3501 §5.1.3)."""
    return string(utf7.encode(name))


def check_name(name: str) -> str:
    """Validate a new folder name; a trailing delimiter is dropped (RFC 3501 §6.3.3)."""
    if name.endswith(DELIMITER):
        name = name[:-1]
    if not name or len(name) > MAX_NAME:
        raise ProtocolError(f"a folder name needs 1 to {MAX_NAME} characters")
    parts = name.split(DELIMITER)
    if any(not part or part in (".", "..") for part in parts):
        raise ProtocolError("a folder name may not have empty, '.' or '..' levels")
    if any(ch in name for ch in "*%") or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ProtocolError("a folder name may not contain '*', '%' or control characters")
    return name


def parents(name: str) -> list[str]:
    """``a/b/c`` → ``["a", "a/b"]``."""
    parts = name.split(DELIMITER)
    return [DELIMITER.join(parts[:i]) for i in range(1, len(parts))]


def clean_flags(flags: Sequence[str]) -> list[str]:
    """Flags a client may store: system flags (canonical case) and keywords; ``\\Recent`` is the server's."""
    out: list[str] = []
    for given in flags:
        flag = given
        if flag.startswith("\\"):
            canonical = next((f for f in SYSTEM_FLAGS if f.lower() == flag.lower()), None)
            if canonical is None:
                raise ProtocolError(f"unknown system flag {flag[:30]}")
            flag = canonical
        if flag not in out:
            out.append(flag)
    return out
