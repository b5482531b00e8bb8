"""A large activity file parsed by child processes gives exactly what the thread of the import process gives."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text

from directory import aggregate, importer, parallel
from directory.columnar import FrameScratch, frame_of
from directory.errors import ExtractionError, ImportFailed
from directory.extraction import parse_header
from directory.importer import import_file
from directory.merge import BULK_INDEXES, Merger
from directory.models import Activity, ImportRun, Mailbox, Person, Structure, Word
from directory.parallel import Failed, Part, ProcessParts, cut
from directory.staging import ACTIVITY_COLUMNS
from storage.engine import Database
from tests.directory.helpers import field, read_lines, small, with_field, write_lines

ID_NAT, FAMILY, STRUCTURE_NAME = 2, 7, 24  # positions in the generated 56-column file
TABLES = (Person, Structure, Activity, Word)


async def _tables(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every directory table's rows without the generated id and the import time, in a fixed order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with database.read() as session:
        for model in TABLES:
            columns = [column for column in model.__table__.c if column.name not in ("id", "updated_at")]
            out[model.__tablename__] = sorted(tuple(row) for row in (await session.execute(select(*columns))).all())
    return out


async def _empty(database: Database) -> None:
    async with database.write() as session:
        for model in (*TABLES, ImportRun, Mailbox):
            await session.execute(delete(model))


def _file(tmp_path: Path, repeat: bool = True) -> tuple[Path, int]:
    """A generated file with rejected lines, a blank line, a duplicate (unless not ``repeat``) and a person in
    two places spread over it; returns it and its number of lines."""
    header, *lines = read_lines(small(tmp_path, persons=300, seed=11).activity_path)
    third = len(lines) // 3
    lines.insert(third, with_field(lines[third], ID_NAT, "12345"))  # rejected in the middle of a person
    lines.insert(2 * third, "a|b|c|")
    lines.insert(2 * third + 5, "")
    if repeat:
        lines.append(lines[third + 10])  # a duplicate activity in the last part
    ids = [line.split("|")[ID_NAT] if line.count("|") > ID_NAT else "" for line in lines]
    several = next(index for index in range(2 * third + 10, len(lines)) if ids.count(ids[index]) > 1)
    lines.insert(3, lines.pop(several))  # a person listed in the first and the third part
    lines[third + 3] = with_field(lines[third + 3], STRUCTURE_NAME, "CLINIQUE A\\B\tC")
    return write_lines(tmp_path / "big" / "PS_LibreAcces_Personne_activite_202611010000.txt", [header, *lines]), \
        len(lines) + 1


@pytest.mark.parametrize("repeat", [True, False])
async def test_processes_give_the_same_tables_as_the_thread(database: Database, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, repeat: bool) -> None:
    """SQLite: with a repeated activity the import aggregates the structures itself; without, it copies those a
    child process aggregated from the parsing processes' files, and the activities that child built."""
    path, count = _file(tmp_path, repeat)
    transfers: list[str] = []
    transfer = Merger.transfer

    def recorded(target: str, source: str) -> str:
        transfers.append(target)
        return transfer(target, source)

    monkeypatch.setattr(Merger, "transfer", staticmethod(recorded))
    thread_rejects, process_rejects = tmp_path / "thread.txt", tmp_path / "process.txt"
    expected = await import_file(database, path, rejects_path=thread_rejects, processes=1, batch=50)
    assert transfers == []
    tables, numbered = await _tables(database), await _keys_by_id(database)
    assert any("CLINIQUE A\\B\tC" in row for row in tables["directory_activities"])  # escaped in COPY text
    assert expected.rejected == 2 + repeat and expected.details["persons"].inserted == len(tables["directory_persons"])
    offsets = [0, *(index for index, byte in enumerate(path.read_bytes()) if byte == ord("\n"))]
    for cuts in ([count // 3, 2 * count // 3], [4, count // 2], [count // 5, count // 4, count - 2]):
        # anywhere, even within a person: the parts may end and begin in the middle of one
        monkeypatch.setattr(parallel, "cut", lambda *_: [offsets[1], *(offsets[line] + 1 for line in cuts)])  # noqa: B023
        await _empty(database)
        report = await import_file(database, path, rejects_path=process_rejects, processes=len(cuts) + 1, batch=50)
        assert (report.read, report.rejected, report.details) == (expected.read, expected.rejected, expected.details)
        assert await _tables(database) == tables
        assert process_rejects.read_text() == thread_rejects.read_text()
        await _written_as_one_import(database, numbered)
        assert transfers == (["directory_activities"] if database.sqlite and not repeat else [])
        transfers.clear()
    if database.sqlite:  # the parsing processes' staging files are detached from the pooled connection
        async with database.engine.connect() as connection:
            attached = (await connection.execute(text("PRAGMA database_list"))).all()
        assert [row[1] for row in attached if str(row[1]).startswith("stg_part")] == []


async def _keys_by_id(database: Database) -> list[str]:
    async with database.read() as session:
        return list((await session.execute(select(Activity.key).order_by(Activity.id))).scalars().all())


async def _written_as_one_import(database: Database, numbered: list[str]) -> None:
    """The rows of one import carry its one time (SQLite's first load: the activities written by the aggregation
    child too, PostgreSQL's the parsing's COPY into the second connection's table); the activities are numbered
    as the import in one thread numbers them (``numbered``: in the file's order, whichever process parses or
    inserts them)."""
    async with database.read() as session:
        times = (await session.execute(text(
            "SELECT DISTINCT updated_at FROM directory_activities UNION SELECT DISTINCT updated_at FROM "
            "directory_persons UNION SELECT DISTINCT updated_at FROM directory_structures"))).all()
    assert len(times) == 1
    assert await _keys_by_id(database) == numbered  # PostgreSQL's first load: an activity's id is its line number


async def test_a_first_load_puts_the_persons_straight_into_their_table(sqlite_url: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's first load from the parsing processes' files: when every idNat is staged once, the persons go
    from the parts straight into ``directory_persons`` (no staging copy, no idNat index to group them by); a
    person staged twice (here cut in two by the parts) undoes that and takes the staging path. The same tables
    and report either way; the structures come from the aggregating child's table either way."""
    path = small(tmp_path, persons=300, seed=11).activity_path
    database = Database(sqlite_url)
    try:
        expected = await import_file(database, path, processes=1, batch=50)
        tables = await _tables(database)
        lines = path.read_bytes().split(b"\n")  # the header first
        offsets = [0, *(index for index, byte in enumerate(path.read_bytes()) if byte == ord("\n"))]
        ids = [line.split(b"|")[ID_NAT] if line.count(b"|") > ID_NAT else b"" for line in lines]
        inside = next(index for index in range(len(ids) // 2, len(ids)) if ids[index] == ids[index - 1])
        steps: list[str] = []

        def told(name: str, _: float) -> None:
            steps.append(name)

        for split in (False, True):
            if split:  # the second part begins with the second line of a person
                monkeypatch.setattr(parallel, "cut", lambda *_: [offsets[1], offsets[inside] + 1])
            steps.clear()
            await _empty(database)
            report = await import_file(database, path, processes=2, batch=50, steps=told)
            assert (report.read, report.rejected, report.details) == (expected.read, expected.rejected,
                                                                      expected.details)
            assert await _tables(database) == tables
            assert ("CREATE INDEX temp.ix_stg_person_id_nat" in steps) is split, steps
            # the structures merged from the aggregating child's own table, not copied into a staging table first
            assert "CREATE TEMP TABLE stg_structure" not in steps and "structures: wait for the aggregating child" \
                in steps, steps
            async with database.read() as session:  # its indexes built again
                names = set((await session.execute(text("SELECT name FROM sqlite_master"))).scalars())
            assert set(BULK_INDEXES["sqlite"]["directory_persons"]) <= names
        again = await import_file(database, path, processes=2, batch=50, force=True)  # merged from the child's too
        assert {name: (counts.inserted, counts.updated, counts.deactivated)
                for name, counts in again.details.items()} == dict.fromkeys(expected.details, (0, 0, 0))
        assert await _tables(database) == tables
    finally:
        await database.dispose()


async def test_a_first_load_copies_the_childs_activities_as_they_are(sqlite_url: str, tmp_path: Path) -> None:
    """SQLite: the aggregation child's activities table has the database's own definition and indexes, so the
    first load's copy is SQLite's transfer of records and index entries (its plan reads each row's record as it
    is, ``RowData``) rather than an insert of each row (the plan of any other copy)."""
    database = Database(sqlite_url)
    try:
        async with database.engine.connect() as connection:
            merger = Merger(connection, date(2026, 11, 23), datetime.now(UTC))
            definition = await merger.definition("directory_activities")
            assert [statement.replace('"', "").split()[:3] for statement in definition] == [
                ["CREATE", "TABLE", "directory_activities"], ["CREATE", "INDEX", "ix_directory_activities_id_nat"],
                ["CREATE", "INDEX", "ix_directory_activities_structure_key"],
                ["CREATE", "UNIQUE", "INDEX"]]  # the key's (0016_directory_activities_key)
            target, part = tmp_path / "structures.db", str(tmp_path / "part0.db")
            aggregate.create(target, definition)
            FrameScratch(part).close()  # a parsing process's file (no line: the plan is what is checked)
            aggregate.aggregate(target, [part], await merger.stored())
            await connection.execute(text("ATTACH DATABASE :path AS stg_agg"), {"path": str(target)})
            source = f"stg_agg.{aggregate.ACTIVITIES}"
            for statement, transfers in ((merger.transfer("directory_activities", source), True),
                                         (f"{merger.transfer('directory_activities', source)} WHERE id > 0", False)):
                plan = (await connection.execute(text(f"EXPLAIN {statement}"))).all()
                assert ("RowData" in [row[1] for row in plan]) is transfers
            await connection.execute(text("DETACH DATABASE stg_agg"))
    finally:
        await database.dispose()


def test_cut_falls_between_persons(tmp_path: Path) -> None:
    path = small(tmp_path, persons=300).activity_path
    data = path.read_bytes()
    header = parse_header(data[: data.index(b"\n") + 1], "utf-8")
    start = data.index(b"\n") + 1
    for parts in (2, 3, 7):
        offsets = cut(path, start, len(data), parts, header.positions["id_nat"])
        assert offsets[0] == start and offsets == sorted(set(offsets)) and len(offsets) > 1
        for offset in offsets[1:]:
            assert data[offset - 1:offset] == b"\n"
            before = data[data.rindex(b"\n", 0, offset - 1) + 1:offset].decode()
            after = data[offset:data.index(b"\n", offset)].decode()
            assert field(before, ID_NAT) != field(after, ID_NAT)


async def test_a_part_that_cannot_be_read_fails_the_import(tmp_path: Path) -> None:
    header = small(tmp_path).activity_path.read_bytes().partition(b"\n")[0]
    part = Part(0, str(tmp_path / "gone.txt"), header, "utf-8", len(header) + 1, 10_000, 5, False)
    parts = ProcessParts([part])
    try:
        message = await parts.get()
    finally:
        await parts.close()
    assert isinstance(message, Failed) and isinstance(message.error, ExtractionError)
    assert "cannot read" in str(message.error)


async def test_an_interrupted_import_stops_its_processes(database: Database, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _file(tmp_path)
    stopped: list[ProcessParts] = []
    close = ProcessParts.close

    async def recording(self: ProcessParts) -> None:
        await close(self)
        stopped.append(self)

    monkeypatch.setattr(ProcessParts, "close", recording)

    def interrupt(done: int, total: int, lines_read: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await import_file(database, path, progress=interrupt, processes=2, batch=20)
    assert len(stopped) == 1 and all(process.returncode is not None for process in stopped[0].processes)
    assert await _tables(database) == {model.__tablename__: [] for model in TABLES}
    report = await import_file(database, path, processes=2, batch=20)
    assert report.details["persons"].inserted > 0


async def test_a_failed_structure_aggregation_fails_the_import(sqlite_url: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite (PostgreSQL aggregates in its server): when the child aggregating the structures fails, the import
    fails with its reason, nothing is imported, and the next import succeeds."""
    database = Database(sqlite_url)
    try:
        await _failed_aggregation(database, tmp_path, monkeypatch)
    finally:
        await database.dispose()


async def _failed_aggregation(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _file(tmp_path, repeat=False)
    start = aggregate.start

    async def broken(target: Path, parts: list[str], built: tuple[str, str] | None = None) -> aggregate.Aggregation:
        return await start(target, [*parts, str(tmp_path / "missing" / "part.db")], built)

    monkeypatch.setattr(aggregate, "start", broken)
    with pytest.raises(ImportFailed, match=r"aggregating the structures failed \(sqlite3.OperationalError"):
        await import_file(database, path, processes=2, batch=50)
    assert await _tables(database) == {model.__tablename__: [] for model in TABLES}
    monkeypatch.setattr(aggregate, "start", start)
    report = await import_file(database, path, processes=2, batch=50)
    assert report.details["structures"].inserted > 0


class _Messages:
    """Parts that send the given messages, in that order."""

    def __init__(self, parts: int, messages: list[parallel.Message]) -> None:
        self.parts, self.messages, self.closed = parts, list(messages), False
        self.scratch: list[str] = []

    async def get(self) -> parallel.Message:
        return self.messages.pop(0)

    async def close(self) -> None:
        self.closed = True


class _Staging:
    connection = None  # activities and persons on the same connection

    async def write(self, rows: Any) -> None:
        assert not rows


def _last(part: int, read: int) -> parallel.Batch:
    return parallel.Batch(part, [], [], [], 10, read, last=True)


async def test_word_counts_follow_the_last_batches_in_any_order() -> None:
    """The import goes on once every part has sent its last batch; a part's word counts may come before
    another part's last batch or after, and a part that fails while counting fails the import."""
    staging: Any = _Staging()
    for order in ([0, 1, 2, 3], [0, 2, 1, 3], [2, 0, 3, 1]):
        sent: list[parallel.Message] = [
            _last(0, 3), parallel.Done({"a": 1, "": 3}), _last(1, 4), parallel.Done({"a": 2, "b": 1, "": 4})]
        # each part's own messages keep their order: its counts come after its last batch
        parts: Any = _Messages(2, [sent[index] for index in order])
        finished: list[parallel.Done] = []
        read = await importer._load_activities(parts, staging, staging, importer._Rejects(None), None, 100, 0,
                                                finished)
        assert read == 7 and not parts.closed
        assert await importer._words(parts, finished) == {"a": 3, "b": 1, "": 7} and parts.closed
    failing: Any = _Messages(2, [_last(0, 3), _last(1, 4), parallel.Done({"a": 1}), Failed(MemoryError())])
    assert await importer._load_activities(failing, staging, staging, importer._Rejects(None), None, 100, 0,
                                           []) == 7
    with pytest.raises(MemoryError):
        await importer._words(failing, [])


def test_parsing_process_does_not_load_sqlalchemy() -> None:
    """A parsing process (``python -m directory.parallel``) needs no SQLAlchemy: importing it took more than half
    of the process's start-up."""
    code = "import sys, directory.parallel; print(sorted({name.split('.')[0] for name in sys.modules}))"
    root = str(Path(parallel.__file__).resolve().parent.parent)
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert "directory" in loaded and "sqlalchemy" not in loaded


def test_a_parsing_process_staging_file_holds_its_frames_and_rows(tmp_path: Path) -> None:
    """FrameScratch (ADBC) writes frames and tuples into an ordinary SQLite file, as Scratch did; a file it
    cannot write is a sqlite3 error (reported as "could not write its staging file")."""
    activity = (7, "810000000001", *["é\"x,y'" if index % 2 else "" for index in range(22)], "810000000001-ab")
    person = (9, *[f"v{index}" for index in range(16)])
    scratch = FrameScratch(str(tmp_path / "part0.db"))
    scratch.write("stg_activity", frame_of([activity], ACTIVITY_COLUMNS))
    scratch.write("stg_activity", [(8, *activity[1:])])
    scratch.write("stg_person", [person])
    scratch.write("stg_person", [])
    scratch.close()
    with sqlite3.connect(tmp_path / "part0.db") as connection:
        assert connection.execute("SELECT * FROM stg_activity ORDER BY line_no").fetchall() == [
            activity, (8, *activity[1:])]
        assert connection.execute("SELECT * FROM stg_person").fetchall() == [person]
        assert connection.execute("SELECT typeof(line_no) FROM stg_person").fetchone() == ("integer",)
    with pytest.raises(sqlite3.Error):
        FrameScratch(str(tmp_path / "missing" / "part1.db"))
