"""The sans-IO input side of a connection: bytes in, events out (in the manner of h11).

Feed what the socket gave with :meth:`CommandReader.receive_data`, then call :meth:`CommandReader.next_event`
until it returns :data:`NEED_DATA`. Events:

- :class:`CommandReady`: a complete, parsed command;
- :class:`CommandRejected`: a command that could not be accepted, with the error to answer (tagged when the
  tag could be read); when ``error.disconnect`` is set the connection must close after the answer;
- :class:`LiteralRequested`: the client announced a synchronising literal (RFC 3501 §7.5); the I/O layer sends
  ``+ Ready`` (the framer already checked the size) and keeps feeding;
- :class:`LineReceived`: a raw line, after :meth:`CommandReader.expect_line` (IDLE's ``DONE``, SASL responses).

Every buffer is bounded: a line (without its literals) by ``max_line``, a literal by ``max_literal`` (APPEND) or
``max_small_literal`` (anything else), and the number of literals in one command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mail_gateway.imap.errors import CommandRefused, ImapError, LimitExceeded, ProtocolError
from mail_gateway.imap.protocol.commands import Command
from mail_gateway.imap.protocol.limits import DEFAULT_LIMITS, Limits
from mail_gateway.imap.protocol.parser import parse_command, parse_tag

_LITERAL_AT_END = re.compile(rb"\{(\d{1,20})(\+)?\}\Z")
_APPEND = re.compile(rb"^[^ ]+ APPEND ", re.IGNORECASE)


@dataclass(frozen=True)
class CommandReady:
    command: Command


@dataclass(frozen=True)
class CommandRejected:
    tag: bytes | None
    error: ImapError


@dataclass(frozen=True)
class LiteralRequested:
    size: int


@dataclass(frozen=True)
class LineReceived:
    line: bytes


class NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()
Event = CommandReady | CommandRejected | LiteralRequested | LineReceived


class CommandReader:
    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._scan = 0  # where to look for the next CRLF in the current command
        self._literal_end = 0  # bytes of the buffer that belong to literals already announced
        self._literals = 0
        self._line_bytes = 0  # non-literal bytes of the current command
        self._want_line = False
        self._discard_to: int | None = None  # bytes of an oversized LITERAL+ still to throw away
        self.closed = False

    # Input ----------------------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if not self.closed:
            self._buffer += data

    def expect_line(self) -> None:
        """Make the next event a :class:`LineReceived` (the command buffer must be empty)."""
        self._want_line = True

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # Output ---------------------------------------------------------------------------------------------

    def next_event(self) -> Event | NeedData:
        if self.closed:
            return NEED_DATA
        buffer = self._buffer
        if self._literal_end > len(buffer):
            return NEED_DATA  # still inside a literal
        end = buffer.find(b"\r\n", max(self._scan, self._literal_end))
        if end < 0:
            # A lone LF is also accepted as a line end by many servers; IMAP requires CRLF (RFC 3501 §2.2).
            pending = len(buffer) - max(self._scan, self._literal_end)
            if self._line_bytes + pending > self.limits.max_line:
                return self._fatal(LimitExceeded(f"line longer than {self.limits.max_line} octets", "TOOBIG"))
            return NEED_DATA
        line_start = max(self._scan, self._literal_end)
        self._line_bytes += end - line_start
        if self._line_bytes > self.limits.max_line:
            return self._fatal(LimitExceeded(f"line longer than {self.limits.max_line} octets", "TOOBIG"))
        if self._want_line:
            self._want_line = False
            line = bytes(buffer[:end])
            self._consume(end + 2)
            return LineReceived(line)
        match = _LITERAL_AT_END.search(buffer, line_start, end)
        if match is None:
            data = bytes(buffer[:end])
            self._consume(end + 2)
            try:
                return CommandReady(parse_command(data, self.limits))
            except ImapError as error:
                return CommandRejected(parse_tag(data), error)
        return self._literal(match, end)

    def _literal(self, match: re.Match[bytes], end: int) -> Event | NeedData:
        size = int(match.group(1))
        synchronising = match.group(2) is None
        head = bytes(self._buffer[: min(end, 200)])
        limit = self.limits.max_literal if _APPEND.match(head) else self.limits.max_small_literal
        self._literals += 1
        problem: ImapError | None = None
        if size > limit:
            problem = CommandRefused(f"literal of {size} octets exceeds the limit of {limit}", "TOOBIG")
        elif self._literals > self.limits.max_literals_per_command:
            problem = LimitExceeded("too many literals in one command")
        if problem is not None:
            tag = parse_tag(head)
            if not synchronising:
                # RFC 7888 §4: a non-synchronising literal is already on its way; we will not read it.
                problem = LimitExceeded(problem.text, "TOOBIG", disconnect=True)
                return self._fatal(problem, tag)
            self._consume(end + 2)  # the client waits for "+" and will not send the literal
            return CommandRejected(tag, problem)
        self._scan = end + 2
        self._literal_end = end + 2 + size
        if synchronising:
            return LiteralRequested(size)
        return self.next_event()

    def _consume(self, count: int) -> None:
        del self._buffer[:count]
        self._scan = 0
        self._literal_end = 0
        self._literals = 0
        self._line_bytes = 0

    def _fatal(self, error: ImapError, tag: bytes | None = None) -> CommandRejected:
        if tag is None:
            tag = parse_tag(bytes(self._buffer[: min(200, len(self._buffer))]).split(b"\r\n", 1)[0])
        error.disconnect = True
        self.closed = True
        self._buffer.clear()
        return CommandRejected(tag, error)


__all__ = [
    "NEED_DATA",
    "CommandReader",
    "CommandReady",
    "CommandRejected",
    "Event",
    "LineReceived",
    "LiteralRequested",
    "ProtocolError",
]
