"""Mail address syntax for our own mailboxes (RFC 5321 §4.1.2, §4.5.3.1), checked without I/O."""

from __future__ import annotations

import re

MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_DOMAIN = 255  # RFC 5321 §4.5.3.1.2
MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3 path of 256 octets, minus the angle brackets

_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def normalise(address: str) -> str:
    """The canonical form we store and compare: the whole address in lower case."""
    return address.strip().lower()


def split(address: str) -> tuple[str, str]:
    local, at, domain = address.rpartition("@")
    if not at:
        return address, ""
    return local, domain.lower().rstrip(".")


def address_problem(address: str) -> str | None:
    """Why ``address`` cannot be a local mailbox address, or None when it can."""
    if len(address) > MAX_ADDRESS:
        return f"the address is longer than {MAX_ADDRESS} characters"
    local, domain = split(address)
    if not domain:
        return "the address must have the form name@domain"
    if not local or len(local) > MAX_LOCAL_PART or not _DOT_ATOM.fullmatch(local):
        return "the part before @ must be 1 to 64 letters, digits or . _ - + characters, without leading dots"
    labels = domain.split(".")
    if len(domain) > MAX_DOMAIN or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return "the domain after @ is not a valid host name"
    return None
