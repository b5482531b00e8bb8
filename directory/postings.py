"""PostgreSQL: the ordered copy's words and filter tokens by display position, so that a word's rows are read in
display order.

SQLite has FTS5 for this (``directory_search_fts``, rowid = ``pos``). PostgreSQL's GIN indexes only give
bitmaps, so a search page that wants the first rows of a common word in display order would read them all. Here
each word of the copy's ``doc`` and each filter token of its ``facets`` has its positions
(``directory_search_persons.pos``) in ascending order, cut in chunks of :data:`CHUNK`:
``directory_search_postings (word, first_pos, last_pos, positions int[])``, primary key ``(word, first_pos)``. A
search reads the chunks of a word that overlap a range of positions and unnests them
(:mod:`directory.search_ordered`). ``directory_search_vocabulary (word, lines)`` lists every word and token with
the number of rows holding it: how many rows a word, or the words a prefix starts, bring.

Both are rebuilt from the copy after each activity import that changed it (:func:`rebuild`), in the import's
transaction; migration ``0009_directory_search_postings`` creates them and fills them once in SQL.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CHUNK = 256  # positions per row: a chunk is ~1 KiB, stored inline (no TOAST), unnested in a few microseconds
READ_BATCH = 20_000  # copy rows read per round trip while building

_READ = "SELECT pos, doc, facets FROM directory_search_persons WHERE pos > $1 ORDER BY pos LIMIT $2"
POSTINGS = "directory_search_postings"
VOCABULARY = "directory_search_vocabulary"
# The tables themselves: migration 0009_directory_search_postings (which can also fill them from SQL alone).


_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # binary COPY: signature, flags, extension
_TRAILER = struct.pack("!h", -1)
_ROW = struct.Struct("!hi")  # fields in the row, then the word's length
_BOUNDS = struct.Struct("!iiii")  # first_pos and last_pos, each as length 4 + value
_ARRAY = struct.Struct("!iiiiii")  # the array's byte length; ndim 1, no nulls, int4 (oid 23), length, lower bound 1
_INT4 = 23
INT4 = next(code for code in "il" if array(code).itemsize == 4)  # the array type of 4-byte integers here
COPY_BATCH = 1 << 20  # bytes of COPY data handed to the driver at a time


def chunks(positions: dict[str, array[int]]) -> Iterator[tuple[str, int, int, array[int]]]:
    """The rows of ``directory_search_postings`` for these words' ascending positions, in key order."""
    for word in sorted(positions):
        found = positions[word]
        for start in range(0, len(found), CHUNK):
            part = found[start:start + CHUNK]
            yield word, part[0], part[-1], part


def binary_copy(rows: Iterator[tuple[str, int, int, array[int]]]) -> Iterator[bytes]:
    """PostgreSQL's binary COPY format for these rows, in pieces of about :data:`COPY_BATCH` bytes. An ``int4[]``
    element is its length (4) and its value, big-endian: built by interleaving the positions with 4s in one
    array and swapping its bytes, without a Python step per position (the driver's own encoding of a list of
    ints cost 4 s of CPU at 2,000,000 lines)."""
    swap = sys.byteorder == "little"
    pieces = [_HEADER]
    size = len(_HEADER)
    for word, first, last, part in rows:
        encoded = word.encode()
        elements = array(INT4, [4]) * (2 * len(part))
        elements[1::2] = part
        if swap:
            elements.byteswap()
        body = elements.tobytes()
        piece = b"".join((_ROW.pack(4, len(encoded)), encoded, _BOUNDS.pack(4, first, 4, last),
                          _ARRAY.pack(20 + len(body), 1, 0, _INT4, len(part), 1), body))
        pieces.append(piece)
        size += len(piece)
        if size >= COPY_BATCH:
            yield b"".join(pieces)
            pieces, size = [], 0
    pieces.append(_TRAILER)
    yield b"".join(pieces)


def collect(rows: Sequence[Any], positions: dict[str, array[int]]) -> None:
    """Add each ``(pos, doc, facets)`` row's distinct words and tokens to ``positions`` (rows come in ascending
    ``pos``)."""
    for pos, doc, facets in rows:
        for word in {*doc.split(), *facets.split()}:
            found = positions.get(word)
            if found is None:
                positions[word] = found = array(INT4)
            found.append(pos)


async def rebuild(connection: AsyncConnection) -> None:
    """Replace both tables from the ordered copy (PostgreSQL, in the caller's transaction). The copy is read in
    ``pos`` order by keyset batches through the driver; the positions are held as 4-byte arrays (~100 MiB for 2
    million activity lines) and written with a binary COPY."""
    await connection.execute(text(f"TRUNCATE {POSTINGS}, {VOCABULARY}"))
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    positions: dict[str, array[int]] = {}
    rows = await driver.fetch(_READ, 0, READ_BATCH)
    while rows:  # a batch's words are gathered in a thread while the server reads the next batch
        gathering = asyncio.ensure_future(asyncio.to_thread(collect, rows, positions))
        try:
            following = await driver.fetch(_READ, rows[-1][0], READ_BATCH)
        finally:
            await gathering
        rows = following
    await driver.copy_to_table(POSTINGS, source=_AsyncBytes(binary_copy(chunks(positions))), format="binary",
                               columns=["word", "first_pos", "last_pos", "positions"])
    await driver.copy_records_to_table(VOCABULARY, records=sorted((w, len(p)) for w, p in positions.items()),
                                       columns=["word", "lines"])


class _AsyncBytes:
    """An iterator of bytes as the asynchronous iterable the driver's ``copy_to_table`` reads."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces

    def __aiter__(self) -> _AsyncBytes:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self.pieces)
        except StopIteration:
            raise StopAsyncIteration from None
