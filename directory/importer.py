"""Import one extraction file into the directory, in one transaction, with a report.

``import_file`` streams the file (constant memory: a batch of parsed lines at a time), loads the valid lines
into a staging table, then merges (:mod:`directory.merge`). Malformed lines are rejected, written to the
rejects file with their line number and reason, and the import goes on. An unreadable file, an interruption or
any database error rolls everything back: the directory is either the old one or the new one, never a mix.
An extraction older than the last one imported is refused (it would resurrect what has since vanished).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from directory import aggregate, checkpoint, malloc, side_build
from directory.aggregate import ACTIVITY_COLUMNS, STRUCTURE_COLUMNS
from directory.batch import repeated_activity
from directory.errors import ExtractionError, ImportFailed, ImportRefused
from directory.extraction import (
    Header,
    Kind,
    decode_line,
    detect_encoding,
    parse_header,
)
from directory.mailbox_batch import MailboxBatches
from directory.merge import (
    MAILBOX_COLUMNS,
    PERSON_COLUMNS,
    Counts,
    Merger,
    Steps,
    discard,
    restore,
    timed,
)
from directory.models import ImportRun
from directory.pagecache import Bound, release, sqlite_import_files
from directory.parallel import Done, Failed, Parts, merge_words, open_parts
from directory.postings import POSTINGS, VOCABULARY
from directory.side_build import SideBuild
from directory.sources import SAMPLE, Source, bounded_lines, describe, extraction_date, open_stream
from directory.staging import ACTIVITY_COLUMNS as STAGED_ACTIVITY
from directory.staging import MAILBOX_COLUMNS as STAGED_MAILBOX
from directory.staging import PERSON_COLUMNS as STAGED_PERSON
from directory.staging import Staging
from directory.writes import OneWrite, write_batch
from storage.engine import Database

Progress = Callable[[int, int, int], None]  # bytes read, total bytes, lines read
Stage = Callable[[str], None]  # told when each stage after the reading begins ("merging the persons", ...)
BATCH = 15_000  # lines per batch: two batches (one parsed, one written) are in memory at a time; PostgreSQL's
# rows travel as COPY text through the import process. polars has a cost per batch whatever its size (a parsing
# process's CPU for 1,000,000 lines, runs taking turns: 18.9-19.2 s at 5,000 lines a batch, 14.3-14.4 at 10,000,
# 11.4-13.2 at 20,000, each batch holding more memory): 10,000 against 5,000, A/B 0.854 (the parsing 22.4-25.5
# -> 18.1-19.6 s), the import's peak 440-449 MiB of 500 with glibc's malloc threshold fixed (directory.malloc;
# 490 without). 15,000 once polars' allocator kept one arena (directory.malloc.JEMALLOC: 16-36 MiB less a
# process): 11.4-12.0 s of CPU against 12.7-13.3 at 10,000 (the part parser alone, same minutes), 197 MiB
# against 188; 20,000 took 45-54 MiB more a process. 6,500 and 8,000 were measured before the rows were COPYed
# straight into their tables: no faster then, when the server's COPY was the parsing's limit.
# SQLite: a parsing process writes its rows into its own staging file and sends only counts, so a larger batch
# costs it little memory (+5 MiB at 8,000) and spares polars' per-batch overhead (a 500,000-line part 11.5 ->
# 9.8 s; the import 0.953 of 5,000's)
SQLITE_BATCH = 8_000


@dataclass(slots=True)
class ImportReport:
    """What an import did; ``inserted``/``updated``/``deactivated`` are about persons (activity file) or
    mailboxes (mailbox file), ``details`` has the counts of every table."""

    path: str
    kind: Kind
    encoding: str
    columns: int
    extraction_date: date
    read: int = 0
    rejected: int = 0
    details: dict[str, Counts] = field(default_factory=dict)
    seconds: float = 0.0
    rejects_path: Path | None = None
    checkpoint: checkpoint.Result | None = None  # SQLite: the log's copy after the commit, in the background

    @property
    def main(self) -> Counts:
        return self.details.get("persons" if self.kind is Kind.ACTIVITY else "mailboxes", Counts())

    @property
    def inserted(self) -> int:
        return self.main.inserted

    @property
    def updated(self) -> int:
        return self.main.updated

    @property
    def deactivated(self) -> int:
        return self.main.deactivated

    def lines(self) -> list[str]:
        """The report as sentences, for the terminal."""
        rate = self.read / self.seconds if self.seconds else 0.0
        out = [
            f"{self.path}: {self.kind.value} extraction of {self.extraction_date.isoformat()} "
            f"({self.columns} columns, {self.encoding})",
            f"read {self.read} lines in {self.seconds:.1f} s ({rate:,.0f} lines/s), rejected {self.rejected}",
        ]
        out += [
            f"{name}: inserted {c.inserted}, updated {c.updated}, deactivated {c.deactivated}"
            for name, c in self.details.items()
        ]
        if self.rejects_path is not None and self.rejected:
            out.append(f"rejected lines (line number, reason, content): {self.rejects_path}")
        return out


class _Rejects:
    """The rejects file, opened on the first rejected line only. The lines of a file's later parts (parsed at
    the same time as the first) wait in temporary files and follow in order (:meth:`settle`)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.count = 0
        self._file: IO[str] | None = None
        self._parts: dict[int, IO[str]] = {}

    def add(self, line_no: int, reason: str, raw: str, part: int = 0) -> None:
        self.count += 1
        if self.path is None:
            return
        entry = f"{line_no}|{reason.replace('|', '/')}|{raw[:2000]}\n"
        if part:
            if part not in self._parts:
                self._parts[part] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
            self._parts[part].write(entry)
            return
        self._main().write(entry)

    def _main(self) -> IO[str]:
        if self._file is None:
            assert self.path is not None
            self._file = self.path.open("w", encoding="utf-8")
            self._file.write("line|reason|content\n")
        return self._file

    def settle(self) -> None:
        """The waiting lines of later parts, after those of the first."""
        for part in sorted(self._parts):
            waiting = self._parts.pop(part)
            waiting.seek(0)
            shutil.copyfileobj(waiting, self._main())
            waiting.close()

    def close(self) -> None:
        for waiting in self._parts.values():
            waiting.close()
        self._parts.clear()
        if self._file is not None:
            self._file.close()


class _Batches:
    """The parsing side of a mailbox import: lines to staging rows, a batch at a time, in a worker thread
    (:class:`directory.mailbox_batch.MailboxBatches`)."""

    def __init__(self, header: Header, encoding: str, lines: Iterator[bytes], rejects: _Rejects, size: int,
                 done: int) -> None:
        self.parser = MailboxBatches(header, encoding)
        self.lines, self.rejects, self.size = lines, rejects, size
        self.line_no = 2  # the first line after the header
        self.read = 0
        self.done = done
        self.finished = False

    def next(self) -> tuple[list[tuple[Any, ...]], int]:
        raws = list(itertools.islice(self.lines, self.size))
        rows, rejected, read = self.parser.parse(self.line_no, raws)
        for record in rejected:
            self.rejects.add(record.line_no, record.reason, record.raw)
        self.line_no += len(raws)
        self.read += read
        self.done += sum(map(len, raws))
        self.finished = len(raws) < self.size
        return rows, self.done


async def _load_activities(parts: Parts, staging: Staging, persons: Staging, rejects: _Rejects,
                           progress: Progress | None, total: int, done: int, finished: list[Done]) -> int:
    """Stage the batches of the parsing side as they come, each written while the next is parsed, until every
    part has sent its last batch; return the lines read. The parts' word counts come later (:func:`_words`):
    the parsing processes count them while the import process goes on with the merge; a part's counts that
    come before another part's last batch are kept in ``finished``."""
    writes = OneWrite()
    staged = 0
    read = 0
    try:
        while staged < parts.parts:
            message = await parts.get()
            if isinstance(message, Failed):
                raise message.error
            if isinstance(message, Done):
                finished.append(message)
                continue
            staged += message.last
            for record in message.rejected:
                rejects.add(record.line_no, record.reason, record.raw, message.part)
            read += message.read
            done += message.done
            await writes.start(partial(write_batch, staging, message.rows, persons, message.persons))
            if progress is not None:
                progress(done, total, read)
        await writes.wait()
    finally:
        await writes.cancel()
    rejects.settle()
    return read


async def _words(parts: Parts, finished: list[Done]) -> dict[str, int]:
    """The word counts of every part (after :func:`_load_activities`), then the parts are closed."""
    while len(finished) < parts.parts:
        message = await parts.get()
        if isinstance(message, Failed):
            raise message.error
        if not isinstance(message, Done):
            raise AssertionError("a part sent a batch after its last one")
        finished.append(message)
    await parts.close()
    return merge_words(finished)


async def _load_mailboxes(batches: _Batches, staging: Staging, progress: Progress | None, total: int) -> int:
    writes = OneWrite()
    try:
        while True:
            # parse the next batch in a thread while the previous one is written (the driver's thread or the
            # server does that work): the two overlap instead of taking turns
            rows, done = await asyncio.to_thread(batches.next)
            await writes.start(partial(write_batch, staging, rows, None, []))
            if progress is not None:
                progress(done, total, batches.read)
            if batches.finished:
                break
        await writes.wait()
    finally:
        await writes.cancel()
    return batches.read


def _lines_of(source: Source, encoding: str, numbers: set[int]) -> dict[int, str]:
    """The lines of the extraction with these numbers (1 is the header), read again from the start."""
    found: dict[int, str] = {}
    last = max(numbers)
    with open_stream(source) as stream:
        for line_no, raw in enumerate(bounded_lines(stream), start=1):
            if line_no in numbers:
                found[line_no] = decode_line(raw, encoding)
            if line_no >= last:
                break
    return found


async def _structures_and_activities(
    merger: Merger, report: ImportReport, aggregated: aggregate.Aggregation | None, parts: Parts, work: Path,
    stage: Stage, released: list[asyncio.Task[None]],
) -> None:
    """The structures' and the activities' merges on the import's connection (all but PostgreSQL's first load);
    SQLite's staging files are dropped from the page cache once read for the last time (into ``released``)."""
    prebuilt = None
    stage("merging the structures")
    if aggregated is not None:  # SQLite: aggregated (and built) by a child process during the persons' merge
        used = await merger.stage_structures(aggregated)
        prebuilt = f"stg_agg.{aggregate.ACTIVITIES}" if used and aggregated.built else None
        released.append(asyncio.create_task(asyncio.to_thread(release, *parts.scratch)))
    report.details["structures"] = await merger.merge(
        "directory_structures", merger.structures, "key", STRUCTURE_COLUMNS
    )
    stage("merging the activities")
    report.details["activities"] = await merger.merge(
        "directory_activities", "stg_activity", "key", ACTIVITY_COLUMNS, prebuilt=prebuilt
    )
    if aggregated is not None:
        released.append(asyncio.create_task(asyncio.to_thread(release, work / "structures.db")))


async def _stopped(task: asyncio.Task[Any]) -> None:
    """On the way out: a task still running (the side build after a failure) is cancelled and waited for."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await task


async def _last_date(connection: AsyncConnection, kind: Kind) -> date | None:
    result = await connection.execute(select(func.max(ImportRun.extraction_date)).where(ImportRun.kind == kind.value))
    value: date | None = result.scalar_one_or_none()
    return value


_paused = [0, False]  # imports running in this process, whether the collector was enabled before the first


@contextlib.contextmanager
def _collector_paused() -> Generator[None, None, None]:
    """No cyclic garbage collection during an import: parsing allocates millions of short-lived tuples and
    lists (no cycles) and every collection would walk the batches being built; reference counting frees them."""
    if _paused[0] == 0:
        _paused[1] = gc.isenabled()
        gc.disable()
    _paused[0] += 1
    try:
        yield
    finally:
        _paused[0] -= 1
        if _paused[0] == 0 and _paused[1]:
            gc.enable()


async def import_file(
    database: Database,
    path: Path,
    *,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    today: date | None = None,
    force: bool = False,
    batch: int | None = None,
    processes: int | None = None,
    steps: Steps | None = None,
    stage: Stage | None = None,
) -> ImportReport:
    """Import the activity or mailbox extraction at ``path`` (``.txt`` or ``.zip``); see the module docstring.
    ``processes``: how many child processes parse an activity file (default: :func:`directory.parallel.open_parts`
    decides by size; 1 parses in a thread). ``steps``: told the duration of each step (the parsing and staging,
    each merge statement, the commit), for ``bench/directory.py --steps``. ``stage``: told when each stage after
    the reading begins (the merges, the commit), for the command line: the progress bar ends with the reading.
    ``batch``: lines per batch (default :data:`SQLITE_BATCH` on SQLite, else :data:`BATCH`)."""
    started = time.perf_counter()
    malloc.fix_threshold()  # batches of several MiB pass through this process (directory.malloc)
    if batch is None:
        batch = SQLITE_BATCH if database.sqlite else BATCH
    source = describe(path)
    seen = extraction_date(source.name) or today or datetime.now(UTC).date()
    rejects = _Rejects(rejects_path)
    try:
        with _collector_paused():
            report = await _transaction(database, source, seen, rejects, progress, force, batch, processes, steps,
                                        stage or _silent)
    except OSError as error:  # its own files: the temporary directory (full?), the staging files, the rejects
        raise ImportFailed(f"the import could not use its working files ({error}); nothing was imported") from error
    finally:
        rejects.close()
    report.rejects_path = rejects_path if rejects.count else None
    report.seconds = time.perf_counter() - started
    return report


def _silent(_stage: str) -> None:
    return None


async def _transaction(
    database: Database, source: Source, seen: date, rejects: _Rejects, progress: Progress | None, force: bool,
    batch: int, processes: int | None, steps: Steps | None, stage: Stage,
) -> ImportReport:
    # the parsing processes' staging files (SQLite) go next to the database: the disk that has room for it
    file = Path(database.sqlite_path) if database.sqlite_path is not None else None
    near = file.parent if file is not None else None
    with tempfile.TemporaryDirectory(prefix="mssante-import-", dir=near) as scratch, \
            _bounded(database, Path(scratch)) as bound:
        # ``after``: once the import's transaction has ended (committed or rolled back): PostgreSQL's side build
        async with database.engine.connect() as connection, contextlib.AsyncExitStack() as after:
            transaction = await connection.begin()
            try:
                async with contextlib.AsyncExitStack() as cleanup:  # the parsing processes stop, whatever happens
                    report = await _import(connection, source, seen, rejects, progress, force, batch, processes,
                                           Path(scratch), cleanup, stage, after,
                                           discard=database.sqlite_path is not None, steps=steps)
                report.rejected = rejects.count
                stage("committing")
                if bound is not None:
                    bound.drain()
                # durable once its log is written: a large log is copied into the file afterwards (directory.checkpoint)
                deferred = file if file is not None and checkpoint.log_bytes(file) >= checkpoint.DEFER_BYTES else None
                if deferred is not None:
                    await connection.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
                with timed(steps, "COMMIT"):
                    await transaction.commit()
                if deferred is not None:
                    report.checkpoint = await asyncio.to_thread(checkpoint.start, deferred)
            except BaseException:
                await transaction.rollback()
                raise
            finally:
                if database.sqlite_path is not None:
                    await discard(connection)
                else:  # an in-memory database lives in its one connection: it is put back as it was
                    await restore(connection)
    return report


def _bounded(database: Database, scratch: Path) -> contextlib.AbstractContextManager[Bound | None]:
    """SQLite on a file: its log, temporary database and staging files stay out of most of the page cache
    (:class:`directory.pagecache.Bound`); PostgreSQL writes its own files."""
    if database.sqlite_path is None:
        return contextlib.nullcontext()
    return Bound(sqlite_import_files(Path(database.sqlite_path), scratch))


async def _import(
    connection: AsyncConnection, source: Source, seen: date, rejects: _Rejects, progress: Progress | None,
    force: bool, batch: int, processes: int | None, work: Path, cleanup: contextlib.AsyncExitStack, stage: Stage,
    after: contextlib.AsyncExitStack, *, discard: bool = False, steps: Steps | None = None,
) -> ImportReport:
    with open_stream(source) as stream:
        first = stream.readline(SAMPLE)
        encoding = detect_encoding(first + stream.peek(SAMPLE)[:SAMPLE])
        if not first.strip():
            raise ExtractionError(f"{source.path} is empty")
        header = parse_header(first, encoding)
        last = await _last_date(connection, header.kind)
        if last is not None and seen < last and not force:
            raise ImportRefused(
                f"this extraction is dated {seen.isoformat()} but the one of {last.isoformat()} was already "
                "imported: importing an older file would bring back what has since vanished (use --force)"
            )
        report = ImportReport(str(source.path), header.kind, encoding, header.columns, seen)
        is_activity = header.kind is Kind.ACTIVITY
        merger = Merger(connection, seen, datetime.now(UTC), discard=discard, steps=steps)
        await (merger.prepare() if is_activity else merger.prepare(streams=1))  # mailboxes: one connection
        side: SideBuild | None = None
        if is_activity and not merger.sqlite:
            await side_build.lock(connection)
            if await side_build.applies(connection):  # a first load: structures and activities beside the persons
                side = SideBuild(connection.engine, seen, merger.params["now"], steps)
                after.push_async_callback(side.close)
        # PostgreSQL's first load: the persons COPYed into their table (unless some are there already)
        direct = side_build.Persons(merger) if side and await merger.empty(side_build.Persons.TABLE) else None
        if side is not None:
            staging = await side.open()
        else:
            staging = Staging(connection, "stg_activity" if is_activity else "stg_mailbox",
                              STAGED_ACTIVITY if is_activity else STAGED_MAILBOX)
            await staging.create()
        aggregated: aggregate.Aggregation | None = None
        if direct is not None:
            persons = await direct.open(seen, merger.params["now"])
        else:
            persons = Staging(connection, "stg_person", STAGED_PERSON)
            if is_activity:
                await persons.create()
        if is_activity:
            parts = open_parts(
                None if source.zipped else source.path, first, header, encoding, bounded_lines(stream), len(first),
                batch, not merger.sqlite, processes, source.size, work if merger.sqlite else None,
            )
            cleanup.push_async_callback(parts.close)
            counted: list[Done] = []
            # SQLite: the parsing processes stage into their own files, attached before the transaction's
            # first write (ATTACH is refused within a transaction) and copied from afterwards
            attached = [f"stg_part{index}" for index in range(len(parts.scratch))]
            for name, path in zip(attached, parts.scratch, strict=True):
                await connection.execute(text(f"ATTACH DATABASE :path AS {name}"), {"path": path})
            if parts.scratch:  # and the file a child process aggregates the structures into (directory.aggregate)
                structures = work / "structures.db"
                await asyncio.to_thread(aggregate.create, structures, await merger.definition("directory_activities"))
                await connection.execute(text("ATTACH DATABASE :path AS stg_agg"), {"path": str(structures)})
            with timed(steps, "parsing and staging"):
                report.read = await _load_activities(parts, staging, persons, rejects, progress, source.size,
                                                     len(first), counted)
            if parts.scratch:
                first_load = await merger.empty("directory_activities")
                aggregated = await aggregate.start(structures, parts.scratch,
                                                   await merger.stored() if first_load else None)
                cleanup.push_async_callback(aggregated.close)
                with timed(steps, "copy of the parts' staging files"):
                    await merger.copy_parts(attached, activities=not first_load)
        else:
            report.read = await _load_mailboxes(_Batches(header, encoding, bounded_lines(stream), rejects, batch,
                                                         len(first)), staging, progress, source.size)
        if progress is not None:
            progress(source.size, source.size, report.read)
    if report.read == rejects.count:
        raise ExtractionError(f"{source.path} has no valid line: nothing was imported")
    if is_activity:
        stage("grouping the persons and the structures")
        await (direct.fold() if direct is not None else merger.fold_persons())
        if side is not None:
            folded = await connection.execute(text("SELECT id_nat FROM stg_folded"))
            repeated = await side.remove_repeats([str(row[0]) for row in folded])
        else:
            repeated = await merger.duplicates("stg_activity", "key", among="stg_folded")
        if repeated:  # rare (a person listed in several places): their lines are read again for the rejects file
            contents = await asyncio.to_thread(_lines_of, source, encoding, {line_no for line_no, _ in repeated})
            for line_no, key in repeated:
                rejects.add(line_no, repeated_activity(key), contents.get(line_no, ""))
        built: asyncio.Task[dict[str, Counts]] | None = None
        if side is not None:
            built = asyncio.create_task(side.build())
            cleanup.push_async_callback(_stopped, built)
            if direct is None:
                await merger.analyze("stg_person", targets=("directory_persons",))
        else:
            if aggregated is None:
                await merger.stage_structures()
            await merger.analyze("stg_activity", "stg_person", "stg_structure",  # PostgreSQL only: no child there
                                 targets=("directory_persons", "directory_structures", "directory_activities"))
        stage("merging the persons")
        # PostgreSQL's first load: the persons' indexes after the copy, while its postings are gathered elsewhere
        persons_indexes: list[str] | None = None if merger.sqlite else []
        if direct is not None:
            report.details["persons"] = await direct.close()
            persons_indexes = list(direct.deferred.values())
        else:
            report.details["persons"] = await merger.merge("directory_persons", "stg_person", "id_nat",
                                                           PERSON_COLUMNS, deferred=persons_indexes)
        changed = report.details["persons"]
        search = None
        if changed.inserted or changed.updated or changed.deactivated:
            # PostgreSQL: the copy's postings are gathered in another process during the next merges
            stage("rebuilding the search index")
            search = await merger.refresh_search(work)
            if search is not None:
                cleanup.push_async_callback(search.close)
        if persons_indexes:
            stage("indexing the persons")
            for definition in persons_indexes:
                await merger.run(definition)
        # before the waits for PostgreSQL's second connection and postings' child, which would leave it idle
        stage("counting the words")
        await merger.count_words(await _words(parts, counted))
        await merger.finish("directory_persons", "directory_search_persons")
        released: list[asyncio.Task[None]] = []  # SQLite: staging files dropped from the page cache meanwhile
        if built is not None:
            stage("merging the structures and the activities")
            with timed(steps, "structures and activities: wait for the second connection"):
                report.details.update(await built)
        else:
            await _structures_and_activities(merger, report, aggregated, parts, work, stage, released)
        if search is not None:
            stage("loading the search index")
            with timed(steps, "search postings: wait for the child, load"):
                await search.load(connection)
        await asyncio.gather(*released)
        if side is not None:
            with timed(steps, "swap in the second connection's tables"):
                await side.swap(connection)
        await merger.drop("stg_activity", "stg_person", "stg_structure", "stg_folded", "stg_candidate")
        loaded = ("directory_structures", "directory_activities") if side is None else ()  # the side analysed its
        await merger.finish(*loaded, POSTINGS, VOCABULARY)
    else:
        for line_no, address in await merger.duplicates("stg_mailbox", "address"):
            rejects.add(line_no, f"the mailbox {address} is listed on an earlier line", "")
        stage("merging the mailboxes")
        await merger.analyze("stg_mailbox", targets=("directory_mailboxes",))
        report.details["mailboxes"] = await merger.merge(
            "directory_mailboxes", "stg_mailbox", "address", MAILBOX_COLUMNS
        )
        await merger.drop("stg_mailbox")
        await merger.finish("directory_mailboxes")
    await connection.execute(
        insert(ImportRun).values(
            kind=header.kind.value, extraction_date=seen, file_name=source.name[:500], read=report.read,
            inserted=report.inserted, updated=report.updated, deactivated=report.deactivated,
            rejected=rejects.count, finished_at=datetime.now(UTC),
        )
    )
    return report
