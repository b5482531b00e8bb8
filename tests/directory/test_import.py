from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from directory.errors import ExtractionError, ImportFailed, ImportRefused
from directory.extraction import Kind
from directory.importer import import_file
from directory.merge import step_name
from directory.models import Activity, Mailbox, Person, Structure
from directory.search import search
from directory.search_query import SearchQuery
from storage.engine import Database
from tests.directory.helpers import field, read_lines, small, with_field, write_lines

ID_NAT, FAMILY = 2, 7  # column positions in the generated activity file (the importer reads by name)


async def _persons(database: Database) -> dict[str, Person]:
    async with database.read() as session:
        return {person.id_nat: person for person in (await session.scalars(select(Person))).all()}


async def _count(database: Database, model: type[Person | Activity | Mailbox | Structure], active: bool) -> int:
    async with database.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(model.active == active)) or 0)


@pytest.mark.parametrize(("generation", "encoding"), [(52, "latin-1"), (56, "utf-8")])
async def test_import_generated_files(database: Database, tmp_path: Path, generation: int, encoding: str) -> None:
    generated = small(tmp_path, persons=50, generation=generation, encoding=encoding)
    report = await import_file(database, generated.activity_path)
    assert report.kind is Kind.ACTIVITY and report.columns == generation and report.encoding == encoding
    assert (report.read, report.rejected, report.inserted) == (generated.activity_lines, 0, 50)
    assert report.details["activities"].inserted == generated.activity_lines
    mailboxes = await import_file(database, generated.mailbox_path)
    assert (mailboxes.kind, mailboxes.inserted, mailboxes.rejected) == (Kind.MAILBOX, generated.mailbox_lines, 0)
    persons = await _persons(database)
    lines = read_lines(generated.activity_path, encoding)[1:]
    assert {field(line, FAMILY) for line in lines} == {person.family for person in persons.values()}
    assert all(person.active and person.doc.startswith(person.family_norm) for person in persons.values())
    assert await _count(database, Structure, True) > 0


async def test_reimport_changes_nothing(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    before = {key: (p.updated_at, p.doc) for key, p in (await _persons(database)).items()}
    again = await import_file(database, generated.activity_path)
    assert {name: (c.inserted, c.updated, c.deactivated) for name, c in again.details.items()} == {
        "persons": (0, 0, 0), "structures": (0, 0, 0), "activities": (0, 0, 0)}
    mailboxes = await import_file(database, generated.mailbox_path)
    assert (mailboxes.inserted, mailboxes.updated, mailboxes.deactivated) == (0, 0, 0)
    assert {key: (p.updated_at, p.doc) for key, p in (await _persons(database)).items()} == before


async def test_newer_extraction_updates_and_deactivates(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    header, *lines = read_lines(generated.activity_path)
    gone, renamed = field(lines[0], ID_NAT), field(lines[-1], ID_NAT)
    kept = [line for line in lines if field(line, ID_NAT) != gone]
    kept = [with_field(line, FAMILY, "DE LA FONTAINE-VÉRAN") if field(line, ID_NAT) == renamed else line
            for line in kept]
    newcomer = with_field(with_field(lines[1], ID_NAT, "899999999999"), FAMILY, "NOUVELLE")
    newer = write_lines(tmp_path / "v2" / "PS_LibreAcces_Personne_activite_202612010000.txt",
                        [header, *kept, newcomer])
    report = await import_file(database, newer)
    assert (report.inserted, report.updated, report.deactivated) == (1, 1, 1)
    persons = await _persons(database)
    assert not persons[gone].active
    assert persons[renamed].family == "DE LA FONTAINE-VÉRAN" and "fontaine veran" in persons[renamed].doc
    async with database.read() as session:  # the full-text index followed the update (triggers after a bulk load)
        page = await search(session, SearchQuery(q="fontaine-veran"))
        assert [item.id_nat for item in page.items] == [renamed]
        assert (await search(session, SearchQuery(q="nouvelle"))).items[0].id_nat == "899999999999"
    assert persons["899999999999"].active and persons["899999999999"].last_seen.isoformat() == "2026-12-01"
    assert persons[field(lines[2], ID_NAT)].last_seen.isoformat() == "2026-12-01"
    # the mailbox extraction: one mailbox vanished
    mailbox_header, *mailbox_lines = read_lines(generated.mailbox_path)
    newer_mailboxes = write_lines(tmp_path / "v2" / "Extraction_Correspondance_MSSante_202612010000.txt",
                                  [mailbox_header, *mailbox_lines[1:]])
    report = await import_file(database, newer_mailboxes)
    assert (report.inserted, report.updated, report.deactivated) == (0, 0, 1)
    # the person who came back is active again, counted as updated
    report = await import_file(database, tmp_path / "v2" / _copy(generated.activity_path, tmp_path, "202612020000"))
    assert persons[gone].id_nat in {k for k, p in (await _persons(database)).items() if p.active}
    assert report.updated >= 1 and report.deactivated == 1


def _copy(path: Path, tmp_path: Path, stamp: str) -> Path:
    target = tmp_path / "v2" / f"PS_LibreAcces_Personne_activite_{stamp}.txt"
    target.write_bytes(path.read_bytes())
    return target


async def test_rejected_lines_are_reported(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path)
    header, *lines = read_lines(generated.activity_path)
    bad = [with_field(lines[0], ID_NAT, "12345"), "a|b|c|", with_field(lines[1], FAMILY, "")]
    path = write_lines(tmp_path / "bad" / "PS_LibreAcces_Personne_activite_202611010000.txt",
                       [header, *lines[:3], *bad, *lines[3:], lines[3]])
    rejects = tmp_path / "rejects.txt"
    report = await import_file(database, path, rejects_path=rejects)
    assert report.rejected == 4 and report.rejects_path == rejects
    assert report.details["activities"].inserted == len(lines)
    written = rejects.read_text().splitlines()
    assert written[0] == "line|reason|content"
    assert [int(line.split("|")[0]) for line in written[1:]] == [5, 6, 7, len(lines) + 5]
    assert "not an RPPS or ADELI" in written[1] and "12345" in written[1]
    assert "earlier line" in written[4]


@pytest.mark.parametrize("processes", [1, 2])
async def test_repeated_activities_are_rejected_where_they_are(database: Database, tmp_path: Path,
                                                               processes: int) -> None:
    """A line repeating an activity of the same person's lines just before (also across a batch boundary) is
    rejected as the file is parsed, with its content; one repeating a line elsewhere in the file, by SQL."""
    generated = small(tmp_path)
    header, *lines = read_lines(generated.activity_path)
    body = [*lines[:4], lines[3], lines[3], *lines[4:20], lines[19], *lines[20:], lines[0]]
    path = write_lines(tmp_path / "again" / "PS_LibreAcces_Personne_activite_202611010000.txt", [header, *body])
    rejects = tmp_path / "rejects.txt"
    report = await import_file(database, path, rejects_path=rejects, batch=2, processes=processes)
    assert report.rejected == 4 and report.details["activities"].inserted == len(lines)
    written = [line.split("|", 2) for line in rejects.read_text().splitlines()[1:]]
    assert sorted(int(number) for number, _, _ in written) == [6, 7, 24, len(body) + 1]
    assert all("is listed on an earlier line" in reason for _, reason, _ in written)
    contents = {int(number): content for number, _, content in written}
    assert contents[24] == lines[19] and contents[6] == contents[7] == lines[3]
    assert contents[len(body) + 1] == lines[0]  # found by SQL, its line read again for the rejects file
    assert await _count(database, Activity, True) == len(lines)


async def test_working_files_that_cannot_be_written_fail_the_import_clearly(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rejects file in a missing directory, or no usable temporary directory (PostgreSQL's scratch files go
    there; SQLite's next to the database): a sentence, not a traceback, and nothing imported."""
    generated = small(tmp_path)
    header, *lines = read_lines(generated.activity_path)
    path = write_lines(tmp_path / "bad" / "PS_LibreAcces_Personne_activite_202611010000.txt",
                       [header, "a|b|c|", *lines])
    with pytest.raises(ImportFailed, match=r"could not use its working files \(.*No such file"):
        await import_file(database, path, rejects_path=tmp_path / "missing" / "rejects.txt")
    assert await _count(database, Person, True) == 0
    if not database.sqlite:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-temp"))
        with pytest.raises(ImportFailed, match="could not use its working files"):
            await import_file(database, generated.activity_path)
        assert await _count(database, Person, True) == 0


async def test_steps_are_reported_with_their_durations(database: Database, tmp_path: Path) -> None:
    """``import_file(steps=…)`` (bench/directory.py --steps) is told each step: the parsing, the merge
    statements named by their first words and table, the commit."""
    told: list[tuple[str, float]] = []
    await import_file(database, small(tmp_path).activity_path, steps=lambda name, seconds: told.append((name, seconds)))
    names = [name for name, _ in told]
    assert names[0] != "COMMIT" and names[-1] == "COMMIT" and "parsing and staging" in names
    # PostgreSQL's first load COPYs the persons into their table (directory.side_build.Persons): no INSERT
    assert ("INSERT INTO directory_persons" in names) == database.sqlite
    assert "INSERT INTO directory_search_persons" in names
    assert database.sqlite or "ALTER TABLE directory_persons" in names  # its keys, built after the rows
    assert all(seconds >= 0 for _, seconds in told)
    assert step_name("CREATE TEMP TABLE stg_structure AS SELECT x FROM y") == "CREATE TEMP TABLE stg_structure"
    assert step_name("UPDATE directory_persons SET a = s.a FROM stg_person AS s") == "UPDATE directory_persons"
    assert step_name("PRAGMA cache_size = -65536") == "PRAGMA cache_size = -65536"


async def test_stages_after_the_reading_are_told_in_order(database: Database, tmp_path: Path) -> None:
    """``import_file(stage=…)`` (the command line's lines after its progress bar) is told each stage as it
    begins, in order; the search index is rebuilt only when a person changed."""
    generated = small(tmp_path)
    told: list[str] = []
    stage = told.append
    await import_file(database, generated.activity_path, stage=stage)
    postings = [] if database.sqlite else ["loading the search index"]  # PostgreSQL's, gathered meanwhile
    # PostgreSQL's first load: structures and activities on a second connection (directory.side_build)
    # and its persons' indexes after the search's copy (its postings are gathered meanwhile)
    merges = ["merging the structures", "merging the activities"] if database.sqlite else \
        ["merging the structures and the activities"]
    indexes = [] if database.sqlite else ["indexing the persons"]
    assert told == [
        "grouping the persons and the structures", "merging the persons", "rebuilding the search index",
        *indexes, "counting the words", *merges, *postings, "committing",
    ]
    told.clear()
    again = await import_file(database, generated.activity_path, stage=stage)  # nothing changed: no index rebuilt
    assert again.updated == 0 and "rebuilding the search index" not in told and told[-1] == "committing"
    told.clear()
    await import_file(database, generated.mailbox_path, stage=stage)
    assert told == ["merging the mailboxes", "committing"]


async def test_zip_is_read_in_place(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path)
    archive = tmp_path / "PS_LibreAcces_Personne_activite.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(generated.activity_path, generated.activity_path.name)
    report = await import_file(database, archive)
    assert report.inserted == 40 and report.extraction_date.isoformat() == "2026-11-01"


async def test_failed_import_leaves_the_previous_directory(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path)
    await import_file(database, generated.activity_path)
    before = {key: (p.family, p.active, p.updated_at) for key, p in (await _persons(database)).items()}
    # a newer extraction whose zip is corrupt near its end: read, staged, then the stream fails
    header, *lines = read_lines(generated.activity_path)
    newer = write_lines(tmp_path / "v2" / "PS_LibreAcces_Personne_activite_202612010000.txt",
                        [header, *(with_field(line, FAMILY, "CHANGÉ") for line in lines[: len(lines) // 2])])
    archive = tmp_path / "v2.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.write(newer, newer.name)
    data = bytearray(archive.read_bytes())
    position = data.rindex(b"CHANG")
    data[position] = ord("X")  # the CRC no longer matches: zipfile raises at the end of the member
    archive.write_bytes(bytes(data))
    with pytest.raises(ExtractionError, match="cannot read"):
        await import_file(database, archive, batch=5)
    assert {key: (p.family, p.active, p.updated_at) for key, p in (await _persons(database)).items()} == before

    def interrupt(done: int, total: int, lines_read: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await import_file(database, newer, progress=interrupt, batch=5)
    assert {key: (p.family, p.active, p.updated_at) for key, p in (await _persons(database)).items()} == before
    report = await import_file(database, newer)  # and the directory still takes the good file afterwards
    assert report.updated == len({field(line, ID_NAT) for line in lines[: len(lines) // 2]})


async def test_older_extraction_and_bad_files_are_refused(database: Database, tmp_path: Path) -> None:
    await import_file(database, small(tmp_path, stamp="202611150000").activity_path)
    older = small(tmp_path, stamp="202610010000").activity_path
    with pytest.raises(ImportRefused, match="older"):
        await import_file(database, older)
    assert (await import_file(database, older, force=True)).deactivated == 0
    unknown = write_lines(tmp_path / "x.txt", ["name|age|", "x|1|"])
    with pytest.raises(ExtractionError, match="neither"):
        await import_file(database, unknown)
    with pytest.raises(ExtractionError, match="cannot read"):
        await import_file(database, tmp_path / "missing.txt")
    header = read_lines(small(tmp_path).activity_path)[0]
    with pytest.raises(ExtractionError, match="no valid line"):
        await import_file(database, write_lines(tmp_path / "bad.txt", [header, "a|b|"]))


async def test_person_listed_in_two_places_is_one_person(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path)
    await import_file(database, generated.activity_path)
    before = {key: (p.doc, p.facets, p.specialties) for key, p in (await _persons(database)).items()}
    header, *lines = read_lines(generated.activity_path)
    counts: dict[str, int] = {}
    for line in lines:
        counts[field(line, ID_NAT)] = counts.get(field(line, ID_NAT), 0) + 1
    several = next(id_nat for id_nat, count in counts.items() if count > 1)
    moved = next(line for line in lines if field(line, ID_NAT) == several)
    shuffled = write_lines(tmp_path / "v2" / "PS_LibreAcces_Personne_activite_202611020000.txt",
                           [header, *(line for line in lines if line is not moved), moved])
    report = await import_file(database, shuffled)
    assert (report.inserted, report.updated, report.deactivated, report.rejected) == (0, 0, 0, 0)
    assert {key: (p.doc, p.facets, p.specialties) for key, p in (await _persons(database)).items()} == before


async def test_sqlite_import_leaves_nothing_on_the_pooled_connections(sqlite_url: str, tmp_path: Path) -> None:
    """The import's connection (temporary staging tables without a journal, a large cache, attached staging
    files) is closed at the end, whether the import succeeded or failed after staging: no connection of the
    pool keeps any of it, and the next import starts afresh."""
    database = Database(sqlite_url)
    try:
        generated = small(tmp_path)
        header, *lines = read_lines(generated.activity_path)
        await import_file(database, generated.activity_path, processes=2)
        bad = write_lines(tmp_path / "bad" / "PS_LibreAcces_Personne_activite_202612010000.txt",
                          [header, *(with_field(line, ID_NAT, "X") for line in lines)])
        with pytest.raises(ExtractionError, match="no valid line"):  # fails after the staging tables were made
            await import_file(database, bad)
        for _ in range(2):  # the pooled connection(s) the imports went back to
            async with database.engine.connect() as connection:
                temp = (await connection.execute(text("SELECT name FROM temp.sqlite_master"))).all()
                cache = (await connection.execute(text("PRAGMA cache_size"))).scalar_one()
                journal = (await connection.execute(text("PRAGMA temp.journal_mode"))).scalar_one()
                attached = (await connection.execute(text("PRAGMA database_list"))).all()
            assert temp == [] and cache == -2000 and journal != "off"
            assert {row[1] for row in attached} <= {"main", "temp"}
        again = await import_file(database, generated.activity_path, processes=2)  # an update: merged from the
        assert again.read == generated.activity_lines  # staged lines, the parts copied into the staging tables
        assert {table: (counts.inserted, counts.updated, counts.deactivated)
                for table, counts in again.details.items()} == dict.fromkeys(again.details, (0, 0, 0))
        assert set(again.details) >= {"persons", "structures", "activities"}
    finally:
        await database.dispose()
