"""Reading the DATA section of an SMTP transaction (RFC 5321 §4.1.1.4, §4.5.2) in large pieces.

aiosmtpd reads DATA one line at a time: one ``readuntil`` and a dozen Python steps per line, and its stream
reader, limited to one line, pauses and resumes the socket every two kilobytes. Here the whole section is read
with ``readuntil(b"\\r\\n.\\r\\n")`` on a reader whose limit is :data:`READ_LIMIT`, so a small message takes one
call. The rules stay those of aiosmtpd (and the tests compare both on the same input):

- the section ends at the first line that is exactly ``.`` followed by CRLF; lines end with CRLF only, so a
  ``.`` after a bare LF or CR never ends it (no SMTP smuggling);
- a line longer than ``max_line`` octets with its CRLF makes the section ``too_long``, and more than
  ``max_size`` octets (line ends included, the final ``.`` line excluded) makes it ``too_much``; either way the
  rest is still read to the end and dropped, so that the connection stays in step, and the first problem met
  in the stream is the one reported;
- a line starting with ``.`` loses that dot (dot-stuffing, §4.5.2).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

READ_LIMIT = 256 * 1024  # the stream reader's limit: the largest piece read at once and its pause threshold / 2
END = b"\r\n.\r\n"
Problem = Literal["too_long", "too_much"]


@dataclass(frozen=True)
class Data:
    content: bytes  # the message, dot-stuffing removed; empty when there is a problem
    problem: Problem | None


async def _piece(reader: asyncio.StreamReader, separator: bytes) -> tuple[bytes, bool]:
    """The stream up to and including ``separator``: ``(piece, True)``; or, past the reader's limit, a part of
    what precedes it: ``(part, False)``. The reader keeps the octets that could begin the separator, so one
    straddling the cut is never split."""
    try:
        return await reader.readuntil(separator), True
    except asyncio.LimitOverrunError as error:
        return await reader.readexactly(error.consumed), False


def _too_long(data: bytes, max_line: int) -> bool:
    """Whether a line of ``data`` (CRLF-separated; the last one may be unfinished) exceeds ``max_line`` octets."""
    lines = data.split(b"\r\n")
    return len(lines[-1]) > max_line or max(map(len, lines)) + 2 > max_line


async def read_data(reader: asyncio.StreamReader, *, max_size: int | None, max_line: int) -> Data:
    """Read one DATA section from ``reader`` (just after the ``354`` reply) up to its final ``.`` line.

    The end marker is CRLF ``.`` CRLF, or ``.`` CRLF at the very start. The reader tracks where it stands:

    - at the start of a line, one octet is read. A ``.`` may begin the final line: the line is read whole. A CR
      may begin an empty line, which could precede the final one: see below. Anything else cannot begin a
      marker, so the reader is safely inside a line;
    - just after a CR inside a line, the next octet decides: LF ends the line, CR again keeps the doubt, and
      anything else means safely inside a line;
    - safely inside a line, the first marker further on ends the section: one ``readuntil`` finds it.
    """
    pieces: list[bytes] = []
    size = 0
    problem: Problem | None = None
    state = "start"
    while True:
        ended = False
        if state == "mid":
            piece, ended = await _piece(reader, END)
            if ended:
                piece = piece[:-3]  # keep the CRLF of the last line, drop ".\r\n"
        else:
            piece = await reader.readexactly(1)
            if state == "start" and piece == b".":
                rest, found = await _piece(reader, b"\r\n")
                piece += rest
                if piece == b".\r\n":
                    break
                state = "start" if found else "mid"
            elif piece == b"\r":
                state = "cr"
            else:
                state = "start" if state == "cr" and piece == b"\n" else "mid"
        if problem is None:
            pieces.append(piece)
            size += len(piece)
            if max_size and size > max_size:
                # Whichever comes first in the stream: a line already too long, or the size.
                within = b"".join(pieces)[: max_size + 1]
                problem = "too_long" if _too_long(within, max_line) else "too_much"
                pieces = []
        if ended:
            break
    if problem is not None:
        return Data(b"", problem)
    data = b"".join(pieces)
    if _too_long(data, max_line):
        return Data(b"", "too_long")
    if data.startswith(b"."):
        data = data[1:]
    return Data(data.replace(b"\r\n.", b"\r\n"), None)
