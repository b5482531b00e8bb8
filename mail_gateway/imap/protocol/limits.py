"""Bounds on what one client may make the server hold or compute; every buffer in the core is bounded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    # RFC 7162 §4: clients may send lines of 8192 octets and more; 64 KiB leaves room for long UID sets.
    max_line: int = 64 * 1024
    # Literal size: tied to the message size limit by the server (APPEND is the only large literal).
    max_literal: int = 25 * 1024 * 1024
    # Non-APPEND literals (mailbox names, search strings, passwords) never need to be large.
    max_small_literal: int = 64 * 1024
    max_literals_per_command: int = 64
    max_depth: int = 64  # parenthesised lists (SEARCH, FETCH, BODYSTRUCTURE-like arguments)
    max_ranges: int = 10_000  # ranges in one sequence set
    max_search_keys: int = 10_000
    max_bad_commands: int = 20  # then BYE, as Dovecot does
    # RFC 3501 §5.4: the autologout timer must be at least 30 minutes; RFC 2177 §3: IDLE re-armed each time.
    idle_timeout: float = 30 * 60.0
    unauthenticated_timeout: float = 60.0


DEFAULT_LIMITS = Limits()
