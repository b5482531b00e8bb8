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

Both are rebuilt from the copy after each activity import that changed it, in the import's transaction, without
holding the import's connection: :func:`start` fills the copy and writes its words to a file in the same statement
(``COPY (INSERT … RETURNING …) TO``: the copy is not read again, 2-3 s at 2,000,000 lines), a child
process (``python -m directory.postings``; a thread for a small copy) gathers the positions and writes both
tables as ``COPY`` files while the import goes on with its other merges, and :meth:`Build.load` loads them.
Migration ``0009_directory_search_postings`` creates the tables and fills them once in SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from directory import child

CHUNK = 256  # positions per row: a chunk is ~1 KiB, stored inline (no TOAST), unnested in a few microseconds
PROCESS_ROWS = 100_000  # a copy of at least this many rows is gathered in a child process, a smaller in a thread
_EXPORTED = "RETURNING pos, doc || ' ' || facets"  # what the copy's fill gives the gathering, row by row
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
COPY_BATCH = 1 << 20  # bytes of COPY data written to the file at a time
GATHER_BYTES = 4 << 20  # lines read at a time by collect_columnar: 8 and 16 MiB were no faster, took more memory


def chunks(positions: dict[str, array[int]], chunk: int = CHUNK) -> Iterator[tuple[str, int, int, array[int]]]:
    """The rows of ``directory_search_postings`` for these words' ascending positions, in key order."""
    for word in sorted(positions):
        found = positions[word]
        for start in range(0, len(found), chunk):
            part = found[start:start + chunk]
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


def collect(lines: Iterable[str], positions: dict[str, array[int]]) -> None:
    """Add the distinct words and tokens of each ``pos<TAB>words`` line (``COPY`` text of :data:`_EXPORTED`, in
    ascending ``pos``: :class:`Unordered` otherwise) to ``positions``. Words are ``[a-z0-9]`` only
    (:func:`directory.text.fold`, facet tokens): nothing in them is escaped."""
    last = 0
    for line in lines:
        number, _, found = line.partition("\t")
        pos = int(number)
        if pos <= last:
            raise Unordered(pos)
        last = pos
        for word in set(found.split()):
            listed = positions.get(word)
            if listed is None:
                positions[word] = listed = array(INT4)
            listed.append(pos)


def collect_columnar(source: Path, positions: dict[str, array[int]], size: int = GATHER_BYTES) -> None:
    """:func:`collect` of the exported copy at ``source``, read ``size`` bytes of lines at a time by polars (one
    thread): each piece's lines split into their words, grouped by word (a group keeps its lines' order, hence
    ascending positions, and a word twice on a line twice side by side: kept once, by numpy), and each word's
    positions appended to its array at once. The child's way (about half the CPU of :func:`collect`: 4.3 s instead
    of 10 at 2,000,000 activity lines, for about 300 MiB instead of 175; polars' ``list.unique`` per line cost 0.8 s
    more); a thread of the import process keeps :func:`collect` (no polars there)."""
    import numpy as np  # noqa: PLC0415 - the gathering process's only, as polars
    import polars as pl  # noqa: PLC0415 - (one thread: set by __main__)

    words = pl.col("words").str.split(" ").alias("word")
    last = 0
    with source.open("rb") as stream:
        while data := stream.read(size):
            data += stream.readline()  # whole lines
            lines = pl.read_csv(io.BytesIO(data), separator="\t", has_header=False, quote_char=None,
                                schema={"pos": pl.Int32, "words": pl.String})
            numbers = lines.get_column("pos")
            if numbers[0] <= last or not (numbers.diff().drop_nulls() > 0).all():
                raise Unordered(int(numbers[0]))
            last = int(numbers[-1])
            grouped = (lines.lazy().select("pos", words).explode("word").filter(pl.col("word") != "")
                       .group_by("word").agg("pos").collect())
            found = grouped.get_column("pos")
            flat = found.explode().to_numpy()
            ends = found.list.len().cum_sum().to_numpy()
            again = np.flatnonzero(flat[1:] == flat[:-1]) + 1  # a position as the one before it in the flat list:
            if len(again):
                again = again[~np.isin(again, ends)]  # the same word twice on a line, unless it starts a group
                ends = ends - np.searchsorted(again, ends)
                flat = np.delete(flat, again)
            view = np.ascontiguousarray(flat, dtype=np.int32).data.cast("B")
            start = 0
            for word, end in zip(grouped.get_column("word").to_list(), ends.tolist(), strict=True):
                listed = positions.get(word)
                if listed is None:
                    positions[word] = listed = array(INT4)
                listed.frombytes(view[4 * start:4 * end])
                start = end


class Unordered(ValueError):
    """The exported copy's lines are not in ascending ``pos`` (its chunks would be wrong: nothing is loaded)."""

    def __init__(self, pos: int) -> None:
        super().__init__(f"the search copy's export is not in display order (position {pos}); nothing was loaded")


def build(source: Path, target: Path, chunk: int, *, columnar: bool = False) -> None:
    """The gathering's work: the exported copy at ``source`` to ``target`` (postings, binary ``COPY``) and
    ``target`` + ``.vocabulary`` (text ``COPY``); the positions are held as 4-byte arrays (~60 MiB for 2 million
    activity lines). ``columnar``: by :func:`collect_columnar` (the child process), else :func:`collect`."""
    positions: dict[str, array[int]] = {}
    if columnar:
        collect_columnar(source, positions)
    else:
        with source.open(encoding="ascii", buffering=1 << 20) as lines:
            collect(lines, positions)
    source.unlink()
    with target.open("wb") as out:
        for piece in binary_copy(chunks(positions, chunk)):
            out.write(piece)
    with vocabulary_path(target).open("w", encoding="ascii") as out:
        out.writelines(f"{word}\t{len(positions[word])}\n" for word in sorted(positions))


def vocabulary_path(target: Path) -> Path:
    return target.with_name(target.name + ".vocabulary")


class Build:
    """The postings being gathered from an exported copy (:func:`start`), loaded by :meth:`load`."""

    def __init__(self, target: Path, process: asyncio.subprocess.Process | None,
                 thread: asyncio.Future[None] | None) -> None:
        self.target, self.process, self.thread = target, process, thread

    async def load(self, connection: AsyncConnection) -> None:
        """Wait for the gathering, then replace both tables (in the caller's transaction)."""
        if self.thread is not None:
            await self.thread
        if self.process is not None:
            await child.finished(self.process, "gathering the search postings")
        await connection.execute(text(f"TRUNCATE {POSTINGS}, {VOCABULARY}"))
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_to_table(POSTINGS, source=str(self.target), format="binary",
                                   columns=["word", "first_pos", "last_pos", "positions"])
        await driver.copy_to_table(VOCABULARY, source=str(vocabulary_path(self.target)), format="text",
                                   columns=["word", "lines"])

    async def close(self) -> None:
        """Stop a gathering still running (a failed or interrupted import)."""
        if self.process is not None:
            await child.stop(self.process)
        if self.thread is not None:
            with contextlib.suppress(BaseException):
                await self.thread


async def start(connection: AsyncConnection, scratch: Path, fill: str) -> Build:
    """Fill the ordered copy with ``fill`` (its ``INSERT … SELECT`` in display order; PostgreSQL, the caller's
    transaction) and write its rows' words to a file in ``scratch`` as they are inserted (the ``RETURNING`` rows of
    an ``INSERT`` come in the order it inserts them: ascending ``pos``, which the gathering checks), then start
    gathering its postings: in a child process for a copy of at least :data:`PROCESS_ROWS` rows (the import's
    connection and process go on meanwhile), else in a thread."""
    source, target = scratch / "search_words.txt", scratch / "search_postings.bin"
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    status = await driver.copy_from_query(f"{fill} {_EXPORTED}", output=str(source), format="text")
    rows = int(str(status).split()[-1])  # "COPY <rows>"
    if rows < PROCESS_ROWS:
        return Build(target, None, asyncio.ensure_future(asyncio.to_thread(build, source, target, CHUNK)))
    return Build(target, await child.spawn("directory.postings", str(source), str(target), str(CHUNK)), None)


if __name__ == "__main__":  # the gathering process: python -m directory.postings SOURCE TARGET CHUNK
    os.environ.setdefault("POLARS_MAX_THREADS", "1")  # one core: the import's connections use the others
    build(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), columnar=True)
