"""The parsing side of an activity import: in a thread, or in child processes for a large plain file.

Parsing an activity line costs about as much CPU as all the database work for it, and in a thread it competes
with the driver for the interpreter. A large plain ``.txt`` file is therefore cut into parts at person
boundaries (a person's lines are consecutive) and each part is parsed by :class:`directory.batch.ActivityBatches`
in a child process (``python -m directory.parallel``: a fresh interpreter, nothing of the import process's
threads or connections inherited, and no re-import of the caller's main module as ``multiprocessing`` would
do). Each process sends its batches as length-prefixed pickles on its standard output (the pipes and a small
queue bound what is in flight): for PostgreSQL the rows are already ``COPY`` text
(:func:`directory.staging.copy_text`, or polars' for the frames of :mod:`directory.columnar`, the parser of these
processes), so the import process hands bytes to the server; for SQLite the process
writes them into its own staging file (:class:`directory.columnar.FrameScratch`) and sends only the counts and the
rejected lines. Line numbers are the file's own: a part counts the line breaks before its first byte.

A person listed at the end of one part and the start of the next (only when the cut could not fall between
two persons) gives two staged rows that :meth:`directory.merge.Merger.fold_persons` folds, as it folds a person
listed in two places of a file. Small files and zips are parsed in a thread of the import process (a child
process costs its start-up, and a zip member cannot be read from the middle), with the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import pickle
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from directory import child
from directory.batch import ActivityBatches, Staged
from directory.errors import ExtractionError, ImportFailed
from directory.extraction import MAX_LINE, Header, Rejected, parse_header
from directory.pagecache import ReadBehind
from directory.sources import bounded_lines

PROCESS_BYTES = 32 * 1024 * 1024  # a plain file at least this large is parsed in child processes
PROCESSES = 2  # the parts of a large file (one per core of a small server; the import process drives the DB)


@dataclass(frozen=True, slots=True)
class Part:
    """One range of lines of a plain file, parsed by one process."""

    index: int
    path: str
    header: bytes  # the first line as read, for parse_header
    encoding: str
    start: int  # offset of the part's first line
    end: int  # offset after its last line
    size: int  # lines per batch
    copy: bool  # PostgreSQL: rows as COPY text
    scratch: str | None = None  # SQLite: the part's own staging database file (directory.columnar.FrameScratch)


@dataclass(slots=True)
class Batch:
    """A batch of parsed lines: staging rows (tuples, or COPY text for PostgreSQL) and rejected lines."""

    part: int  # rejected lines of a later part go to the rejects file after those of the earlier ones
    rows: Staged  # a frame only inside a parsing process, written to its staging file before the batch is sent
    persons: Staged
    rejected: list[Rejected]
    done: int  # bytes of the file this batch consumed
    read: int  # lines read (blank lines are not counted)
    last: bool = False  # the part's last batch: everything of it is staged (SQLite: its file is committed); its
    # word counts (Done) follow, counted while the import process goes on with the merge


@dataclass(slots=True)
class Done:
    """A part is finished: how many of its accepted lines carry each word (``directory_words``; the counts of
    a file are the sums of its parts')."""

    words: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Failed:
    error: BaseException


Message = Batch | Done | Failed


class PartParser:
    """Lines of one part to :class:`Batch` messages, then one :class:`Done`."""

    def __init__(self, batches: ActivityBatches, lines: Iterator[bytes], first_line: int, size: int,
                 copy: bool, index: int = 0) -> None:
        self.batches = batches
        self.lines, self.line_no, self.size, self.copy, self.index = lines, first_line, size, copy, index
        self.finished = False

    def step(self) -> Batch | Done:
        if self.finished:
            return Done(self.batches.vocabulary())
        raws = list(itertools.islice(self.lines, self.size))
        self.finished = len(raws) < self.size
        rows, persons, rejected, read = self.batches.staged(self.line_no, raws, self.copy, last=self.finished)
        self.line_no += len(raws)
        done, last = sum(map(len, raws)), self.finished
        return Batch(self.index, rows, persons, rejected, done, read, last)


def _id_field(line: bytes, position: int) -> bytes:
    fields = line.split(b"|", position + 1)
    return fields[position] if len(fields) > position else line


def _next_line(stream: Any) -> tuple[int, bytes]:
    """The length of the next whole line and its first ``MAX_LINE`` bytes (a longer line is not kept)."""
    line = stream.readline(MAX_LINE + 1)
    length = len(line)
    while line and not line.endswith(b"\n") and len(line) > MAX_LINE:
        rest = stream.readline(MAX_LINE + 1)
        length += len(rest)
        if not rest or rest.endswith(b"\n"):
            break
    return length, line[:MAX_LINE]


def cut(path: Path, start: int, size: int, parts: int, id_position: int) -> list[int]:
    """Offsets where parts begin: ``start`` and, near each ``k * size / parts``, the first line of a person
    (its idNat differs from the line before), within the next lines of that person."""
    offsets = [start]
    with path.open("rb") as stream:
        for k in range(1, parts):
            target = max(start, size * k // parts)
            stream.seek(target - 1)  # a line that begins at target is kept
            offset = target - 1 + _next_line(stream)[0]
            previous: bytes | None = None
            while offset < size:
                length, line = _next_line(stream)
                if not length:
                    break
                identity = _id_field(line, id_position)
                if previous is not None and identity != previous:
                    break
                previous = identity
                offset += length
            if offsets[-1] < offset < size:
                offsets.append(offset)
    return offsets


def _first_line(stream: Any, start: int) -> int:
    """The line number of the line that begins at ``start``: one more than the line breaks before it."""
    breaks, left = 0, start
    stream.seek(0)
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        breaks += chunk.count(b"\n")
        left -= len(chunk)
    return breaks + 1


def _send(out: Any, message: Message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)
    out.flush()


def parse_part(part: Part, out: Any) -> None:
    """The child process: parse one part, sending length-prefixed pickles to ``out``; any failure is sent as
    :class:`Failed`."""
    gc.disable()  # see directory.importer: millions of short-lived objects, no cycles
    try:
        header = parse_header(part.header, part.encoding)
        with open(part.path, "rb") as stream:
            first = _first_line(stream, part.start)
            stream.seek(part.start)
            from directory.columnar import ColumnarBatches, FrameScratch  # noqa: PLC0415 - polars: parsing processes only

            parser = PartParser(ColumnarBatches(header, part.encoding), bounded_lines(stream, part.end - part.start),
                                first, part.size, part.copy, part.index)
            scratch = FrameScratch(part.scratch) if part.scratch is not None else None
            behind = ReadBehind(stream.fileno(), part.start)  # read once: its pages need not stay cached
            while True:
                message = parser.step()
                behind.advance(stream.tell(), last=parser.finished)
                if scratch is not None and isinstance(message, Batch):
                    scratch.write("stg_activity", message.rows)
                    scratch.write("stg_person", message.persons)
                    message.rows, message.persons = [], []
                    if message.last:  # committed before the import process is told it may copy it
                        scratch.close()
                _send(out, message)
                if isinstance(message, Done):
                    break
                if parser.finished:
                    parser.batches.clear_caches()  # before the word counts: a lower peak of memory
    except sqlite3.Error as error:  # its staging file (SQLite): no room left?
        _send(out, Failed(ImportFailed(f"a parsing process could not write its staging file ({error}); nothing "
                                       "was imported")))
    except OSError as error:
        _send(out, Failed(ExtractionError(f"cannot read {part.path}: {error}")))
    except Exception as error:
        try:
            _send(out, Failed(error))
        except Exception:
            _send(out, Failed(RuntimeError(f"parsing {part.path} failed: {error!r}")))


class ThreadParts:
    """One part parsed a batch at a time in a worker thread of the import process."""

    def __init__(self, parser: PartParser) -> None:
        self.parser = parser
        self.parts = 1
        self.scratch: list[str] = []

    async def get(self) -> Message:
        return await asyncio.to_thread(self.parser.step)

    async def close(self) -> None:
        return None


class ProcessParts:
    """Parts parsed by child processes (``python -m directory.parallel``, the part pickled on its standard
    input, its messages length-prefixed pickles on its standard output); :meth:`get` returns the messages as
    they come. The pipes and a small queue bound what is in flight."""

    def __init__(self, parts: list[Part]) -> None:
        self.pending = parts
        self.parts = len(parts)
        self.scratch = [part.scratch for part in parts if part.scratch is not None]
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=2)
        self.processes: list[asyncio.subprocess.Process] = []
        self.readers: list[asyncio.Task[None]] = []

    async def _start(self) -> None:
        for part in self.pending:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "directory.parallel", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, env=child.environment(),
            )
            self.processes.append(process)
            assert process.stdin is not None
            process.stdin.write(pickle.dumps(part))
            process.stdin.close()
            self.readers.append(asyncio.create_task(self._read(process)))
        self.pending = []

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while True:
                size = int.from_bytes(await process.stdout.readexactly(8), "little")
                message: Message = pickle.loads(await process.stdout.readexactly(size))  # noqa: S301 - our child
                await self.queue.put(message)
                if not isinstance(message, Batch):
                    return
        except asyncio.IncompleteReadError:
            code = await process.wait()
            await self.queue.put(Failed(ImportFailed(f"a parsing process ended with exit code {code}; nothing was "
                                                     "imported")))

    async def get(self) -> Message:
        if self.pending:
            await self._start()
        return await self.queue.get()

    async def close(self) -> None:
        """Stop what still runs (a failed or interrupted import) and wait for the processes."""
        for reader in self.readers:
            reader.cancel()
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for reader in self.readers:
            with contextlib.suppress(BaseException):
                await reader
        for process in self.processes:
            await process.wait()


Parts = ThreadParts | ProcessParts


def open_parts(path: Path | None, header_line: bytes, header: Header, encoding: str, lines: Iterator[bytes],
               first: int, size: int, copy: bool, processes: int | None, file_size: int,
               scratch: Path | None = None) -> Parts:
    """Processes for a plain file of at least :data:`PROCESS_BYTES` (or when ``processes`` says how many),
    else the thread; ``lines`` and ``first`` (the offset after the header) serve the thread. With ``scratch``
    (a directory, SQLite), each process stages its rows in its own database file there."""
    count = processes if processes is not None else (PROCESSES if file_size >= PROCESS_BYTES else 1)
    if path is None or count <= 1:
        return ThreadParts(PartParser(ActivityBatches(header, encoding), lines, 2, size, copy))
    offsets = cut(path, first, file_size, count, header.positions["id_nat"])
    ends = [*offsets[1:], file_size]
    return ProcessParts([
        Part(index, str(path), header_line, encoding, start, end, size, copy,
             str(scratch / f"part{index}.db") if scratch is not None else None)
        for index, (start, end) in enumerate(zip(offsets, ends, strict=True))
    ])


def merge_words(done: list[Done]) -> dict[str, int]:
    if len(done) == 1:
        return done[0].words
    words: Counter[str] = Counter()
    for message in done:
        words.update(message.words)
    return dict(words)


if __name__ == "__main__":  # a parsing process; its messages must be pickled as directory.parallel's classes
    from directory.parallel import parse_part as _parse_part

    _parse_part(pickle.loads(sys.stdin.buffer.read()), sys.stdout.buffer)  # noqa: S301 - from the import process
