from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import literal, select
from sqlalchemy import text as sql

from directory import postings, search_ordered
from directory import search as search_module
from directory.errors import ImportFailed, InvalidQuery
from directory.importer import import_file
from directory.models import Person, SearchPerson, Word
from directory.search import (
    _driven,
    _exact_first,
    _general,
    _several_words,
    _single_term,
    _tiers,
    lookup,
    search,
)
from directory.search_ordered import ordered, ordered_plan
from directory.search_query import SearchQuery
from directory.search_sql import facet_checks, lines_starting, rank_of
from directory.text import words
from storage.engine import Database
from tests.directory.helpers import FILLERS, known_directory, person_line, small, veran_vanished


@pytest.fixture
async def known(database: Database, tmp_path: Path) -> Database:
    activity, mailboxes = known_directory(tmp_path)
    await import_file(database, activity)
    await import_file(database, mailboxes)
    return database


async def _names(database: Database, **query: object) -> list[str]:
    async with database.read() as session:
        page = await search(session, SearchQuery(**query))  # type: ignore[arg-type]
    return [f"{item.family} {item.given}" for item in page.items]


async def test_accents_case_and_prefixes(known: Database) -> None:
    assert await _names(known, q="veran") == ["VÉRAN Olivier"]
    assert await _names(known, q="VÉRAN") == ["VÉRAN Olivier"]
    assert await _names(known, q="ver") == ["VÉRAN Olivier"]
    assert await _names(known, q="helene") == await _names(known, q="Hélène") == ["D'ALMEIDA Hélène"]
    # exact family first, then family prefixes
    assert await _names(known, q="martin") == ["MARTIN Jean-Pierre", "MARTINEZ Anne"]
    assert await _names(known, q="mart") == ["MARTIN Jean-Pierre", "MARTINEZ Anne"]


async def test_hyphens_apostrophes_and_particles(known: Database) -> None:
    assert await _names(known, q="jean pierre") == ["PIERRE Jean", "MARTIN Jean-Pierre"]
    assert await _names(known, q="jean-pierre martin") == ["MARTIN Jean-Pierre"]
    assert await _names(known, q="d'almeida") == await _names(known, q="almeida") == ["D'ALMEIDA Hélène"]
    assert await _names(known, q="de la fontaine") == ["DE LA FONTAINE Zoé"]
    assert await _names(known, q="fontaine zoe") == ["DE LA FONTAINE Zoé"]


async def test_free_text_spans_profession_specialty_and_city(known: Database) -> None:
    assert await _names(known, q="veran cardio lyon") == ["VÉRAN Olivier"]
    assert await _names(known, q="cardio lyon") == ["LE GOFF Jean", "VÉRAN Olivier"]
    assert await _names(known, q="cardio brest") == ["LE GOFF Jean"]
    assert await _names(known, q="martin cardio lyon") == []
    assert await _names(known, q="sage femme") == ["D'ALMEIDA Hélène"]


async def test_filters(known: Database) -> None:
    assert await _names(known, specialty="SM04") == ["LE GOFF Jean", "VÉRAN Olivier"]
    assert await _names(known, q="jean", profession="10") == ["LE GOFF Jean", "MARTIN Jean-Pierre"]
    assert await _names(known, profession="60") == ["MARTINEZ Anne", "PIERRE Jean"]
    assert await _names(known, city="saint etienne") == await _names(known, city="Saint-Étienne") == [
        "D'ALMEIDA Hélène"]
    assert await _names(known, city="saint") == ["D'ALMEIDA Hélène"]
    assert await _names(known, department="2A") == await _names(known, department="2a") == ["DE LA FONTAINE Zoé"]
    assert await _names(known, postal_code="750") == ["MARTINEZ Anne", "PIERRE Jean"]
    assert await _names(known, postal_code="75015") == ["MARTINEZ Anne"]
    assert await _names(known, has_mailbox=True) == ["MARTIN Jean-Pierre"]
    assert await _names(known, mailbox="Jean-Pierre.Martin@medecin.mssante.fr") == ["MARTIN Jean-Pierre"]
    assert len(await _names(known, profession="10", postal_code="69003", limit=100)) == FILLERS + 2
    assert len(await _names(known, profession="10", city="lyon", limit=100)) == FILLERS + 3
    assert await _names(known, profession="10", department="29") == ["LE GOFF Jean"]
    assert await _names(known, profession="60", department="69") == []
    assert await _names(known, profession="10", specialty="SM04", postal_code="69") == ["LE GOFF Jean", "VÉRAN Olivier"]


async def test_exact_lookups(known: Database) -> None:
    assert await _names(known, q="810000000001") == ["VÉRAN Olivier"]
    assert await _names(known, q="10000000001") == ["VÉRAN Olivier"]  # the RPPS alone
    assert await _names(known, q="0691234567") == await _names(known, q="691234567") == ["D'ALMEIDA Hélène"]
    assert await _names(known, q="jean-pierre.martin@medecin.mssante.fr") == ["MARTIN Jean-Pierre"]
    assert await _names(known, q="899999999999") == []
    async with known.read() as session:
        found = await lookup(session, "810000000006")
        assert found is not None and {place.city for place in found.places} == {"Brest", "Lyon"}
        assert found.specialties == [("SM04", "Cardiologie et maladies vasculaires")]
        with pytest.raises(InvalidQuery):
            await lookup(session, "12")


async def test_pagination_is_stable(known: Database, tmp_path: Path) -> None:
    query = {"profession": "10", "postal_code": "69003", "limit": 7}
    everything = await _names(known, profession="10", postal_code="69003", limit=100)
    seen: list[str] = []
    cursor = None
    async with known.read() as session:
        first = await search(session, SearchQuery(**query))  # type: ignore[arg-type]
    seen += [f"{item.family} {item.given}" for item in first.items]
    # a newer extraction adds someone who sorts before the cursor: the next pages do not shift
    extra = [person_line(("810000000999", "ABADIE", "Alain", "10", "Médecin", "SM54", "Médecine générale", "Lyon",
                          "69003", "69383", "69"))]
    activity, _ = known_directory(tmp_path / "v2", stamp="202611020000", extra=extra)
    await import_file(known, activity)
    cursor = first.next_cursor
    while cursor is not None:
        async with known.read() as session:
            page = await search(session, SearchQuery(**query, cursor=cursor))  # type: ignore[arg-type]
        assert len(page.items) <= 7
        seen += [f"{item.family} {item.given}" for item in page.items]
        cursor = page.next_cursor
    assert seen == everything
    assert len(seen) == len(set(seen)) == FILLERS + 2


async def test_bad_and_hostile_input(known: Database) -> None:
    for text in ("'; DROP TABLE directory_persons; --", '"', "*", "NEAR(a b)", "a OR b", "x:*", "%", "\\", "\x00"):
        await _names(known, q=text)  # never a syntax error
    assert await _names(known, q="veran'--") == ["VÉRAN Olivier"]
    for query in ({"profession": "1' OR '1'='1"}, {"postal_code": "69%"}, {"department": "999999"},
                  {"city": "%%"}, {"mailbox": "x"}, {"limit": 0}, {"q": "a " * 20}, {"q": "x" * 300},
                  {"cursor": "garbage"}, {"specialty": "SM04;DROP"}):
        with pytest.raises(InvalidQuery):
            await _names(known, **query)
    async with known.read() as session:
        page = await search(session, SearchQuery(profession="10", limit=2))
        with pytest.raises(InvalidQuery, match="another search"):
            await search(session, SearchQuery(profession="60", cursor=page.next_cursor))
        capped = await search(session, SearchQuery(limit=100_000))
    assert capped.limit == 100


@pytest.mark.parametrize("random_row", [0, 10**9])
async def test_one_word_tiers_rank_like_the_general_query(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, random_row: int
) -> None:
    """The fast one-word path must return exactly what the general ranked query returns, with its last tier
    read from the full-text index or by a walk of the display order."""
    monkeypatch.setattr(search_module, "RANDOM_ROW", random_row)
    generated = small(tmp_path, persons=300, seed=3)
    await import_file(database, generated.activity_path)
    sqlite = database.sqlite
    async with database.read() as session:
        for term in ("martin", "ma", "le", "d", "jean", "paris", "infirmier", "b", "zz", "marie"):
            general = await _general(session, SearchQuery(q=term), sqlite, None, 1000)
            tiered = await _single_term(session, term, sqlite, None, 1000)
            assert tiered == general, term
            if len(general) > 5:
                _, key, rank = general[4]
                assert await _single_term(session, term, sqlite, (rank, key), 1000) == general[5:]


async def test_exact_family_first_ranks_like_the_general_query(database: Database, tmp_path: Path) -> None:
    generated = small(tmp_path, persons=300, seed=3)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    sqlite = database.sqlite
    queries = [SearchQuery(q="martin lyon"), SearchQuery(q="martin", profession="10"),
               SearchQuery(q="jean ma"), SearchQuery(q="marie", postal_code="75"), SearchQuery(q="le paris"),
               SearchQuery(q="bernard", has_mailbox=True), SearchQuery(q="de la"), SearchQuery(q="b", city="saint"),
               SearchQuery(q="robert infirmier", department="13")]
    async with database.read() as session:
        for query in queries:
            general = await _general(session, query, sqlite, None, 1000)
            assert await _exact_first(session, query, sqlite, None, 1000) == general, query
            for cut in (0, 2, len(general) // 2):
                if cut < len(general):
                    _, key, rank = general[cut]
                    assert await _exact_first(session, query, sqlite, (rank, key), 1000) == general[cut + 1:], query


async def test_index_and_row_checks_agree(database: Database, tmp_path: Path) -> None:
    """The full-text path (with short words checked on rows) selects what plain word tests on every row do."""
    generated = small(tmp_path, persons=300, seed=5)
    await import_file(database, generated.activity_path)
    sqlite = database.sqlite
    queries = [SearchQuery(q="le ma"), SearchQuery(q="jean d"), SearchQuery(q="b", profession="60"),
               SearchQuery(q="ma lyon"), SearchQuery(q="sophie le"), SearchQuery(q="de la", postal_code="6"),
               SearchQuery(q="x y z"), SearchQuery(q="infirmier saint")]
    answered = 0
    async with database.read() as session:
        for query in queries:
            # plain word tests on the person table itself (not the copy the search reads)
            rank = rank_of(words(query.q), Person.family_norm)
            doc = literal(" ") + Person.doc
            checks = [Person.active.is_(True), *(doc.like(f"% {term}%") for term in words(query.q)),
                      *facet_checks(query, Person.facets)]
            scan = select(Person.id, Person.sort_key, rank).where(*checks).order_by(rank, Person.sort_key)
            expected = [(int(row[0]), str(row[1]), int(row[2])) for row in (await session.execute(scan)).all()]
            assert await _general(session, query, sqlite, None, 10_000) == expected, query
            answered += bool(expected)
    assert answered >= 5  # not a comparison of empty lists


async def test_rarest_word_drives_like_the_general_query(database: Database, tmp_path: Path) -> None:
    """Driven by any one of its words, a search returns exactly what the general ranked query returns."""
    generated = small(tmp_path, persons=300, seed=3)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    sqlite = database.sqlite
    queries = [SearchQuery(q="martin lyon"), SearchQuery(q="martin", profession="10"), SearchQuery(q="jean ma"),
               SearchQuery(q="marie", postal_code="75"), SearchQuery(q="le paris"), SearchQuery(q="de la"),
               SearchQuery(q="bernard", has_mailbox=True), SearchQuery(q="robert infirmier", department="13"),
               SearchQuery(q="jean pierre"), SearchQuery(q="b", city="saint"), SearchQuery(q="medecin generale")]
    answered = 0
    async with database.read() as session:
        for query in queries:
            general = await _general(session, query, sqlite, None, 1000)
            answered += bool(general)
            for driver in set(words(query.q)):
                assert await _driven(session, query, sqlite, [driver], None, 1000) == general, (query, driver)
                for cut in (0, len(general) // 2):
                    if cut < len(general):
                        _, key, rank = general[cut]
                        driven = await _driven(session, query, sqlite, [driver], (rank, key), 1000)
                        assert driven == general[cut + 1:], (query, driver)
            drivers = sorted(set(words(query.q)))
            assert await _driven(session, query, sqlite, drivers, None, 1000) == general, query
            assert await _several_words(session, query, sqlite, None, 1000) == general, query
    assert answered >= 8


async def test_word_counts_follow_the_last_import(database: Database, tmp_path: Path) -> None:
    activity, _ = known_directory(tmp_path)
    await import_file(database, activity)
    async with database.read() as session:
        counts = {str(row[0]): int(row[1]) for row in await session.execute(select(Word.word, Word.lines))}
        assert counts["dupont"] == FILLERS and counts["lyon"] == FILLERS + 3 and counts["veran"] == 1
        assert await lines_starting(session, "dup") == FILLERS
        assert await lines_starting(session, "zzz") == 0
    extra = [person_line(("810000000999", "DUPONTEL", "Alain", "10", "Médecin", "SM54", "Médecine générale",
                          "Lyon", "69003", "69383", "69"))]
    newer, _ = known_directory(tmp_path / "v2", stamp="202611020000", extra=extra)
    await import_file(database, newer)
    async with database.read() as session:
        assert await lines_starting(session, "dupont") == FILLERS + 1


async def test_filters_alone_read_like_the_general_query(database: Database, tmp_path: Path) -> None:
    """Filters without text (read from the ordered copy's word index), a mailbox condition alone and no
    condition at all: every page, followed by its cursor, holds the general ranked query's rows."""
    generated = small(tmp_path, persons=300, seed=3)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    sqlite = database.sqlite
    queries = [SearchQuery(profession="10"), SearchQuery(profession="60", postal_code="75"),
               SearchQuery(postal_code="69"), SearchQuery(city="saint"), SearchQuery(department="13"),
               SearchQuery(profession="10", specialty="SM54"), SearchQuery(profession="60", has_mailbox=True),
               SearchQuery(profession="10", has_mailbox=False), SearchQuery(has_mailbox=False), SearchQuery(),
               SearchQuery(profession="999")]
    answered = 0
    async with database.read() as session:
        for query in queries:
            general = await _id_nats(session, (await _general(session, query, sqlite, None, 1000))[:60])
            answered += bool(general)
            found: list[str] = []
            cursor = None
            for _ in range(4):
                page = await search(session, SearchQuery(**{**_fields(query), "limit": 15, "cursor": cursor}))
                found += [item.id_nat for item in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert found == general[:len(found)] and len(found) == min(60, len(general)), query
    assert answered >= 8


@pytest.mark.parametrize("walk", [True, False])
async def test_common_words_tiers_rank_like_the_general_query(database: Database, tmp_path: Path, walk: bool) -> None:
    generated = small(tmp_path, persons=300, seed=3)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    sqlite = database.sqlite
    queries = [SearchQuery(q="martin lyon"), SearchQuery(q="martin", profession="10"), SearchQuery(q="jean ma"),
               SearchQuery(q="marie", postal_code="75"), SearchQuery(q="le paris"), SearchQuery(q="de la"),
               SearchQuery(q="d du b"), SearchQuery(q="m ma mar"), SearchQuery(q="infirmier l"),
               SearchQuery(q="bernard", has_mailbox=True), SearchQuery(q="jean pierre"),
               SearchQuery(q="b", city="saint")]
    async with database.read() as session:
        for query in queries:
            general = await _general(session, query, sqlite, None, 1000)
            assert await _tiers(session, query, sqlite, None, 1000, walk=walk) == general, query
            for size in (1, 3):
                assert await _tiers(session, query, sqlite, None, size, walk=walk) == general[:size], query
            for cut in range(0, len(general), max(1, len(general) // 7)):
                _, key, rank = general[cut]
                tiered = await _tiers(session, query, sqlite, (rank, key), 1000, walk=walk)
                assert tiered == general[cut + 1:], (query, cut)


@pytest.mark.parametrize("windows", [(1,), (2, 3), (1, 1, 1, 1, 1), (5, 50)])
async def test_cut_walks_finish_like_the_general_query(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, windows: tuple[int, ...]
) -> None:
    """A walk cut by its row budget (or by the density it saw) hands over to the full-text index from where it
    stopped: the pages are still exactly those of the general ranked query, with cursors."""
    monkeypatch.setattr(search_module, "WALK_WINDOWS", windows)
    generated = small(tmp_path, persons=300, seed=3)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    sqlite = database.sqlite
    queries = [SearchQuery(q="martin lyon"), SearchQuery(q="martin", profession="10"), SearchQuery(q="jean ma"),
               SearchQuery(q="marie", postal_code="75"), SearchQuery(q="le paris"), SearchQuery(q="de la"),
               SearchQuery(q="d du b"), SearchQuery(q="m ma mar"), SearchQuery(q="infirmier l"),
               SearchQuery(q="bernard", has_mailbox=True), SearchQuery(q="jean pierre"),
               SearchQuery(q="b", city="saint"), SearchQuery(q="sophie d")]
    answered = 0
    async with database.read() as session:
        for query in queries:
            general = await _general(session, query, sqlite, None, 1000)
            answered += len(general) > 3
            drivers = sorted({term for term in words(query.q) if len(term) >= 2}) or words(query.q)
            for instead, per_match in ((float("inf"), 0.0), (0.0, 0.0), (10.0, 1.0)):
                options: dict[str, Any] = {"walk": True, "drivers": drivers, "instead": instead, "per_match": per_match}
                assert await _tiers(session, query, sqlite, None, 1000, **options) == general, (query, instead)
                for size in (1, 3):
                    assert await _tiers(session, query, sqlite, None, size, **options) == general[:size], query
                for cut in range(0, len(general), max(1, len(general) // 5)):
                    _, key, rank = general[cut]
                    cut_walk = await _tiers(session, query, sqlite, (rank, key), 1000, **options)
                    assert cut_walk == general[cut + 1:], (query, cut)
    assert answered >= 6


_PARTICLES = [SearchQuery(q="camille le t"), SearchQuery(q="marie du b"), SearchQuery(q="jean de la f"),
              SearchQuery(q="le t"), SearchQuery(q="d du b"), SearchQuery(q="m ma mar"), SearchQuery(q="sophie d"),
              SearchQuery(q="de la"), SearchQuery(q="la g"), SearchQuery(q="jean d pe"), SearchQuery(q="le ma"),
              SearchQuery(q="anne laure le"), SearchQuery(q="martin lyon"), SearchQuery(q="jean pierre"),
              SearchQuery(q="infirmier saint"), SearchQuery(q="marie", postal_code="75"),
              SearchQuery(q="le", profession="60"), SearchQuery(q="b", city="saint"), SearchQuery(q="x y z"),
              SearchQuery(profession="10"), SearchQuery(profession="60", postal_code="75"),
              SearchQuery(postal_code="69"), SearchQuery(city="saint"), SearchQuery(department="13"),
              SearchQuery(profession="10", specialty="SM54"), SearchQuery(profession="999"), SearchQuery(q="le"),
              SearchQuery(q="martin"), SearchQuery(q="ma"), SearchQuery(q="d"), SearchQuery(q="lyon"),
              SearchQuery(q="infirmier")]


@pytest.mark.parametrize(("full_prefix", "rare", "parts", "window"), [(20_000, 3_000, 3, 16_384), (0, 0, 3, 3),
                                                                     (10**9, 10**9, 1, 1), (0, 0, 1, 40)])
async def test_word_index_tiers_rank_like_the_general_query(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_prefix: int, rare: int, parts: int,
    window: int,
) -> None:
    """The rank tiers read from the ordered copy's word index (SQLite: directory_search_fts; PostgreSQL:
    directory_search_postings, in windows of positions), whichever words it matches (long words whole or by
    their first 3 characters, the rarest alone or intersected, one-letter words and particles only checked on
    rows), give exactly the general ranked query's rows, for any page size and from any cursor."""
    monkeypatch.setattr(search_ordered, "FULL_PREFIX_LINES", full_prefix)
    monkeypatch.setattr(search_ordered, "RARE_ENOUGH", rare)
    monkeypatch.setattr(search_ordered, "MATCHED_PARTS", parts)
    monkeypatch.setattr(search_ordered, "PG_PARTS", parts)
    monkeypatch.setattr(search_ordered, "PG_WINDOW", window)
    generated = small(tmp_path, persons=300, seed=3)
    await import_file(database, generated.activity_path)
    await import_file(database, generated.mailbox_path)
    sqlite = database.sqlite
    answered = planned = 0
    async with database.read() as session:
        owned = (await session.execute(sql(
            "SELECT m.address, p.family_norm FROM directory_mailboxes m JOIN directory_persons p "
            "ON p.id_nat = m.id_nat WHERE m.active AND p.active ORDER BY m.address LIMIT 1"))).one()
        mailbox_queries = [SearchQuery(q="marie", has_mailbox=True), SearchQuery(q="le t", has_mailbox=False),
                           SearchQuery(profession="60", has_mailbox=True), SearchQuery(mailbox=owned[0]),
                           SearchQuery(q=owned[1][:2], mailbox=owned[0].upper())]
        for query in [*_PARTICLES, *mailbox_queries]:
            general = await _general(session, query, sqlite, None, 1000)
            answered += len(general) > 3
            page = await search(session, SearchQuery(**{**_fields(query), "limit": 100}))
            assert [item.id_nat for item in page.items] == await _id_nats(session, general[:100]), query
            indexed = await ordered_plan(session, query)
            if indexed is None:  # nothing it can match: one-letter words only
                assert all(len(term) == 1 for term in words(query.q)) and query.profession is None, query
                continue
            planned += 1
            assert await ordered(session, query, indexed, None, 1000) == general, query
            for size in (1, 3):
                assert await ordered(session, query, indexed, None, size) == general[:size], query
            for cut in range(0, len(general), max(1, len(general) // 7)):
                _, key, rank = general[cut]
                resumed = await ordered_plan(session, query, (rank, key))  # a plan is the query's and its cursor's
                assert resumed is not None
                assert await ordered(session, query, resumed, (rank, key), 1000) == general[cut + 1:], (query, cut)
    assert answered >= 14
    assert planned >= 19


def _fields(query: SearchQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in ("q", "profession", "specialty", "city", "postal_code",
                                                    "department", "mailbox", "has_mailbox")}


async def _id_nats(session: Any, hits: list[tuple[int, str, int]]) -> list[str]:
    ids = [hit[0] for hit in hits]
    rows = (await session.execute(select(Person.id, Person.id_nat).where(Person.id.in_(ids)))).all() if ids else []
    found = {int(row[0]): str(row[1]) for row in rows}
    return [found[identifier] for identifier in ids]


@pytest.mark.parametrize("process_rows", [postings.PROCESS_ROWS, 1])
async def test_word_index_follows_the_ordered_copy(database: Database, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, process_rows: int) -> None:
    """The copy's rows are numbered 1, 2, ... in key order after each import, and its word index holds each row's
    words and filter tokens under that number, also after a re-import that changed persons
    (PostgreSQL: in chunks of postings, here of 3, gathered in a thread or in a child process)."""
    monkeypatch.setattr(postings, "CHUNK", 3)
    monkeypatch.setattr(postings, "PROCESS_ROWS", process_rows)
    generated = small(tmp_path, persons=200, seed=4)
    await import_file(database, generated.activity_path)
    newer = small(tmp_path, persons=150, seed=5, stamp="202611020000")
    for path in (generated.activity_path, newer.activity_path):
        await import_file(database, path, force=True)
        async with database.read() as session:
            rows = (await session.execute(select(SearchPerson.pos, SearchPerson.doc, SearchPerson.facets)
                                          .order_by(SearchPerson.sort_key))).all()
            assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
            if not database.sqlite:  # every word of every row, and only those, with its rows in order
                held: dict[str, list[int]] = {}
                for pos, doc, facets in rows:
                    for word in sorted({*doc.split(), *facets.split()}):
                        held.setdefault(word, []).append(pos)
                chunks = (await session.execute(sql(
                    "SELECT word, first_pos, last_pos, positions FROM directory_search_postings "
                    "ORDER BY word, first_pos"))).all()
                found: dict[str, list[int]] = {}
                for word, first, last, positions in chunks:
                    assert (first, last) == (positions[0], positions[-1]) and len(positions) <= 3
                    found.setdefault(word, []).extend(positions)
                assert found == held
                vocabulary = (await session.execute(sql("SELECT word, lines FROM directory_search_vocabulary"))).all()
                assert dict(vocabulary) == {word: len(found) for word, found in held.items()}
                continue
            for word in ("ma", "le", "d", "p10", "infirmier", "lyon"):
                expected = [row[0] for row in rows if f" {word}" in f" {row[1]} {row[2]}"]
                indexed = (await session.execute(sql(
                    "SELECT rowid FROM directory_search_fts WHERE directory_search_fts MATCH :m ORDER BY rowid"),
                    {"m": f'"{word}"*'})).scalars().all()
                assert list(indexed) == expected, word


async def test_a_failed_postings_gathering_fails_the_import(postgres_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: when the child process gathering the postings fails, the import fails with its reason and the
    directory is the one before it, postings included."""
    database = Database(postgres_url)
    try:
        await import_file(database, small(tmp_path, persons=40, seed=6).activity_path)
        before = await _postings(database)
        monkeypatch.setattr(postings, "PROCESS_ROWS", 1)
        monkeypatch.setattr(postings, "CHUNK", 0)  # the child cannot cut the positions in chunks of nothing
        with pytest.raises(ImportFailed, match=r"gathering the search postings failed \(ValueError: range"):
            await import_file(database, small(tmp_path, persons=60, seed=7, stamp="202611020000").activity_path)
        assert await _postings(database) == before
        async with database.read() as session:
            assert await session.scalar(sql("SELECT count(*) FROM directory_persons")) == 40
    finally:
        await database.dispose()


async def _postings(database: Database) -> list[Any]:
    async with database.read() as session:
        return list((await session.execute(sql(
            "SELECT word, first_pos, positions FROM directory_search_postings ORDER BY 1, 2"))).all())


async def test_migration_fills_the_postings_as_an_import_does(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL: migration 0009 builds directory_search_postings and its vocabulary from a copy an earlier
    import left, in SQL alone; they hold what an import builds (each word's rows, in chunks of ascending
    positions)."""
    database = Database(postgres_url)
    try:
        await import_file(database, small(tmp_path, persons=300, seed=6).activity_path)
        tables = ("SELECT word, first_pos, last_pos, positions FROM directory_search_postings ORDER BY 1, 2",
                  "SELECT word, lines FROM directory_search_vocabulary ORDER BY 1")
        async with database.read() as session:
            built = [(await session.execute(sql(query))).all() for query in tables]
        migration = importlib.import_module("storage.migrations.versions.0009_directory_search_postings")
        async with database.engine.begin() as connection:
            await connection.execute(sql("TRUNCATE directory_search_postings, directory_search_vocabulary"))
            for statement in migration.STATEMENTS[2:]:
                await connection.execute(sql(statement))
        async with database.read() as session:
            filled = [(await session.execute(sql(query))).all() for query in tables]
        assert len(built[0]) > 100 and filled == built
    finally:
        await database.dispose()


async def test_ordered_copy_follows_the_persons(database: Database, tmp_path: Path) -> None:
    """directory_search_persons holds exactly the persons, with their active flag, after each import (a person
    that vanished from a newer extraction stays there, inactive, and is no longer found; a re-import that
    changes nothing leaves it as it was)."""
    extra = [person_line(("810000000999", "DUPONTEL", "Alain", "10", "Médecin", "SM54", "Médecine générale",
                          "Lyon", "69003", "69383", "69"))]
    newer = await veran_vanished(database, tmp_path, extra)
    for again in (False, True):
        if again:  # the same extraction once more: nothing changes
            await import_file(database, newer, force=True)
        async with database.read() as session:
            copy = (await session.execute(select(SearchPerson.sort_key, SearchPerson.id, SearchPerson.family_norm,
                                                 SearchPerson.doc, SearchPerson.facets, SearchPerson.active)
                                          .order_by(SearchPerson.sort_key))).all()
            persons = (await session.execute(select(Person.sort_key, Person.id, Person.family_norm, Person.doc,
                                                    Person.facets, Person.active)
                                             .order_by(Person.sort_key))).all()
            assert copy == persons
            assert [row[5] for row in copy if row[2] == "veran"] == [False]
            assert [row[5] for row in copy if row[2] == "dupontel"] == [True]
            positions = (await session.execute(select(SearchPerson.pos).order_by(SearchPerson.sort_key))).scalars()
            assert list(positions) == list(range(1, len(copy) + 1))
            # every plan checks the copy's active flag: the word index, one-letter words (SQLite: key ranges, then
            # the general and driven queries), a mailbox condition alone (the key walked)
            for found in [SearchQuery(q="veran"), SearchQuery(q="veran lyon"), SearchQuery(q="v"),
                          SearchQuery(q="l m"), SearchQuery(q="m", has_mailbox=False), SearchQuery(has_mailbox=False)]:
                page = await search(session, SearchQuery(**{**_fields(found), "limit": 100}))
                assert not any(p.family == "VÉRAN" for p in page.items), found
                assert page.items or "veran" in found.q, found  # the others find other persons


async def test_search_session_settings(known: Database) -> None:
    """SQLite search connections read through a memory map; PostgreSQL searches run without JIT or parallel
    workers, planned for their values, whether the word index's plan applied the settings with its counts or the
    search applied them on its own (a mailbox condition, one-letter words), and set the scan kinds back on before a
    full-text statement (GIN is only read through bitmaps)."""
    for query in (SearchQuery(q="dupont lyon"), SearchQuery(profession="10"), SearchQuery(has_mailbox=True),
                  SearchQuery(q="martin", mailbox="Jean-Pierre.Martin@medecin.mssante.fr"), SearchQuery(q="d")):
        async with known.read() as session:
            await search(session, query)
            if not known.sqlite:
                shown = [(await session.execute(sql(f"SHOW {name}"))).scalar_one()
                         for name in ("jit", "max_parallel_workers_per_gather", "plan_cache_mode")]
                assert shown == ["off", "0", "force_custom_plan"], query
    async with known.read() as session:
        await search(session, SearchQuery(q="dupont lyon"))
        if known.sqlite:
            mapped = (await session.execute(sql("PRAGMA mmap_size"))).scalar_one()
            assert mapped == search_module.MMAP_BYTES
        else:
            await search_module._rows(session, select(Person.id).limit(1), walk=True)
            assert (await session.execute(sql("SHOW enable_bitmapscan"))).scalar_one() == "off"
            await search_module._rows(session, select(Person.id).limit(1), walk=False)
            assert (await session.execute(sql("SHOW enable_bitmapscan"))).scalar_one() == "on"
