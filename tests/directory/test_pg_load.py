"""The PostgreSQL import's own ways (the structures' distinct values in directory.merge, the COPY text of
directory.staging, the staging tables' collation) give what the plain ones gave."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from directory import merge, postings
from directory.errors import ImportFailed
from directory.generator import ACTIVITY_HEADER_56
from directory.importer import import_file
from directory.merge import SEARCH_FAMILY_INDEX, Merger, parallel_workers
from directory.models import Structure
from directory.staging import copy_text, definitions
from storage.engine import Database
from tests.directory.helpers import PEOPLE, person_line, small, with_field, write_lines

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TEXT = st.text(st.sampled_from("ab|é\\\t\n\r{}N0 "), max_size=6)


def _reference(rows: list[tuple[object, ...]]) -> bytes:
    """COPY text of every value escaped one by one (what the fast path must equal)."""
    return "".join("\t".join(str(value).translate(_ESCAPES) for value in row) + "\n" for row in rows).encode()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.lists(
    st.tuples(st.integers(0, 10**9), *[_TEXT] * width), max_size=6)))
def test_copy_text_is_every_value_escaped(rows: list[tuple[object, ...]]) -> None:
    assert copy_text(rows) == _reference(rows)


def test_copy_text_of_rows_of_several_widths_and_braces() -> None:
    assert copy_text([(1, "{}", "{0}")]) == b"1\t{}\t{0}\n"
    assert copy_text([(1, "a")]) + copy_text([(2, "b", "c")]) == b"1\ta\n2\tb\tc\n"


def test_postgresql_staging_text_compares_bytes() -> None:
    assert definitions(("line_no", "key"), sqlite=False) == 'line_no INTEGER NOT NULL, key TEXT COLLATE "C" NOT NULL'
    assert definitions(("line_no", "key"), sqlite=True) == "line_no INTEGER NOT NULL, key TEXT NOT NULL"


_STREET, _CITY, _PHONE, _SIRET = map(ACTIVITY_HEADER_56.index, (
    "Libellé Voie (coord. structure)", "Libellé commune (coord. structure)", "Téléphone (coord. structure)",
    "Numéro SIRET site"))


async def test_a_structure_whose_lines_disagree_takes_each_columns_least_value(database: Database,
                                                                                tmp_path: Path) -> None:
    """Several persons working at one structure (one technical id) whose lines differ in case, accents and
    emptiness: every column is the least of its values in code point order, on both engines."""
    variants = [
        ("Hôpital Nord", "rue Zèbre", "Lyon", "0478000001", ""),
        ("HOPITAL NORD", "Rue de l'Ébène", "lyon", "", "12345678900011"),
        ("hopital nord", "rue zebre", "LYON", "0478000000", "12345678900011"),
        ("Hôpital Nord", "rue Zèbre", "Lyon", "0478000001", ""),
        ("Ḧôpital", "Rue de l'Ébène", "Lyon", "0478000000", "12345678900010"),
    ]
    lines = []
    for index, (name, street, city, phone, siret) in enumerate(variants):
        line = person_line((f"81000000{index:04d}", *PEOPLE[0][1:]), structure=name, technical_id="R1STRUCTURE")
        for position, value in ((_STREET, street), (_CITY, city), (_PHONE, phone), (_SIRET, siret)):
            line = with_field(line, position, value)
        lines.append(line)
    lines.append(person_line(PEOPLE[1]))  # a structure of one line
    header = "|".join(ACTIVITY_HEADER_56) + "|"
    path = write_lines(tmp_path / "PS_LibreAcces_Personne_activite_202611010000.txt", [header, *lines])
    report = await import_file(database, path)
    assert report.rejected == 0
    async with database.read() as session:
        structure = (await session.scalars(select(Structure).where(Structure.key == "R1STRUCTURE"))).one()
    assert (structure.name, structure.city, structure.phone, structure.siret) == (
        min(v[0] for v in variants), min(v[2] for v in variants), min(v[3] for v in variants),
        min(v[4] for v in variants))
    assert structure.address == min(f"3 Rue {v[1]}" for v in variants)


async def test_a_failure_after_the_postings_started_stops_their_gathering(postgres_url: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: the postings' gathering starts as soon as the search's copy is filled, before its indexes; if
    building them fails, the gathering is stopped (its child process killed) before the import fails, and
    nothing is imported."""
    closed: list[postings.Build] = []
    close = postings.Build.close

    async def recorded(build: postings.Build) -> None:
        closed.append(build)
        await close(build)

    async def failing(merger: Merger, sql: str) -> int:
        if sql == SEARCH_FAMILY_INDEX:
            raise OSError("no space left on device")
        return await run(merger, sql)

    run = Merger.run
    monkeypatch.setattr(postings, "PROCESS_ROWS", 0)  # a child process even for a small copy
    monkeypatch.setattr(postings.Build, "close", recorded)
    monkeypatch.setattr(Merger, "run", failing)
    database = Database(postgres_url)
    try:
        with pytest.raises(ImportFailed, match="no space left on device"):
            await import_file(database, small(tmp_path).activity_path)
        assert closed and closed[0].process is not None and closed[0].process.returncode is not None
        async with database.read() as session:
            assert (await session.execute(select(Structure.id))).first() is None
    finally:
        await database.dispose()


@pytest.mark.parametrize(("streams", "cores", "workers"), [(3, 1, 0), (3, 2, 0), (3, 5, 0), (3, 6, 1), (3, 16, 4),
                                                          (1, 1, 0), (1, 2, 1), (1, 8, 7)])
def test_an_import_adds_parallel_workers_only_on_cores_its_streams_leave(streams: int, cores: int,
                                                                         workers: int) -> None:
    assert parallel_workers(streams, cores) == workers


@pytest.mark.parametrize(("allowed", "expected"), [(0, "0"), (1, "1"), (9, "2")])
async def test_an_import_never_allows_more_parallel_workers_than_the_server(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch, allowed: int, expected: str) -> None:
    """The server's own limits (2 by default) stay the ceiling; the settings last as long as the import's
    transaction."""
    monkeypatch.setattr(merge, "parallel_workers", lambda streams: allowed)
    database = Database(postgres_url)
    try:
        async with database.engine.connect() as connection:
            async with connection.begin():
                await Merger(connection, date(2026, 11, 23), datetime.now(UTC)).prepare()
                for setting in ("max_parallel_maintenance_workers", "max_parallel_workers_per_gather"):
                    assert (await connection.execute(text(f"SHOW {setting}"))).scalar_one() == expected
            assert (await connection.execute(text("SHOW max_parallel_maintenance_workers"))).scalar_one() == "2"
    finally:
        await database.dispose()
