"""Practitioner search: free text on word prefixes, filters, exact lookups, ranked, with keyset cursors.

Free text and filters are folded by :mod:`directory.text` exactly as at import, then matched on word prefixes:
``veran`` finds VÉRAN, ``jean pierre`` finds Jean-Pierre. Filters are tokens of the ``facets`` column (``p10``,
``ssm04``, ``c69003``, ``d2a``, ``vlyon``) indexed with the words. Ranking and paging are plain columns the two
engines compare the same way (rank, then the byte-ordered ``sort_key``), so both engines return the same pages.

Every search with a word or a filter (SQLite: a word of two characters or more) is read tier by tier in display
order from the ordered copy's word index (:mod:`directory.search_ordered`: SQLite FTS5, PostgreSQL
``directory_search_postings``). The plans below (word counts, cost model, walks, the same word index) serve the
rest (SQLite's one-letter words, a mailbox filter alone), and :func:`_general` is the reference ranked query the
tests compare every plan with. All of them read the copy (``directory_search_persons``, which holds inactive
persons too: ``active`` is checked on every row) and the person table only by id for the page's rows.

This module plans and runs a search; :mod:`directory.search_query` holds what a search is (parameters, bounds,
results, cursors), :mod:`directory.search_sql` the SQL pieces (conditions, row sources, rank, page rows, word
counts).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from directory.batch import FACET_WORD, TOTAL_WORD
from directory.errors import InvalidQuery
from directory.models import Mailbox, Person, SearchPerson
from directory.search_ordered import PG_SETTINGS, ordered, ordered_plan
from directory.search_query import (
    MAX_LIMIT,
    Page,
    Practitioner,
    SearchQuery,
    check_query,
    decode_cursor,
    encode_cursor,
    is_identifier,
    query_fingerprint,
)
from directory.search_sql import (
    AFTER_WORDS,
    PREFIX_INDEXED,
    Hit,
    complete,
    facet_terms,
    family_starts,
    fetch_rows,
    line_counts,
    match_words,
    rank_of,
    row_checks,
    text_conditions,
)
from directory.text import words
from policies.addresses import MAX_ADDRESS

# Plans are chosen on the words' line counts (directory_words) with a simple cost model: a candidate the
# word index gives is a row of the copy read at random by its position and sorted (about RANDOM_ROW times the
# cost of a row of a walk; measured at 2,000,000 lines on the wider person rows it used to read: ~6 µs against
# ~0.7 µs); a walk in display order reads consecutive rows of the narrow ordered copy and stops when the page is
# full.
RANDOM_ROW = 8
POSTING = 0.2  # an entry of a posting list the full-text index reads to intersect a word, in the same unit
# PostgreSQL reads a GIN prefix's postings into a bitmap and then rechecks each candidate's heap row: both cost
# more there, relative to a walk (measured at 2,000,000 lines).
PG_RANDOM_ROW = 16
PG_POSTING = 1.0
# Words of one name ("Anne-Laure", "Jean-Pierre") come together far more often than independent shares say: an
# intersection is expected to hold at least this share of its rarest word's lines.
CORRELATED = 0.1
COMMON_LINES = 600_000  # a word on more lines than this is checked on rows rather than read from the index



# PostgreSQL: both scan kinds in one statement, local to the transaction (see _rows)
_SCANS = text("SELECT set_config('enable_bitmapscan', :value, true), set_config('enable_seqscan', :value, true)")
_WALKING = "directory_search_walking"


async def _rows(session: AsyncSession, statement: Any, *, walk: bool | None = None) -> list[Any]:
    """The rows of a ranking statement. ``walk``: the statement reads an index in display order and stops at the
    page. PostgreSQL's planner cannot know that a walk's row checks pass often (it takes them for very
    selective) and would rather collect the whole range and sort it: a walk runs with bitmap and sequential
    scans off. The setting stays for the next walks of the search (one round trip, not two per walk) and is
    undone before a statement that needs them (``walk=False``: full-text, whose GIN index is only read through
    bitmaps); ``None``: either way."""
    connection = await session.connection()
    if walk is not None and connection.dialect.name != "sqlite":
        transaction = session.sync_session.get_transaction()  # the setting lasts as long as the transaction
        walking = transaction is not None and session.info.get(_WALKING) is transaction
        if walk != walking:
            await connection.execute(_SCANS.bindparams(value="off" if walk else "on"))
            session.info[_WALKING] = transaction if walk else None
    return await fetch_rows(session, statement)


def _ranged(key: Any, low: str, high: str, after: str | None) -> list[ColumnElement[bool]]:
    """Keys in ``[low, high)`` and after the cursor's key."""
    return [key >= low, key < high] + ([] if after is None else [key > after])


async def _exact_tier(
    session: AsyncSession, query: SearchQuery, after: str | None, wanted: int
) -> list[Hit]:
    """Rank 0 (family equal to the text or one of its words) in display order, checked row by row: from the
    index on the family and the key of the narrow ordered copy (the rows it points to are read in key order,
    close together)."""
    terms = words(query.q)
    statement = select(SearchPerson.id, SearchPerson.sort_key).where(
        SearchPerson.family_norm.in_([" ".join(terms), *terms]), *row_checks(query))
    if after is not None:
        statement = statement.where(SearchPerson.sort_key > after)
    rows = await _rows(session, statement.order_by(SearchPerson.sort_key).limit(wanted), walk=True)
    return [(int(row[0]), str(row[1]), 0) for row in rows]


async def _single_term(
    session: AsyncSession, term: str, sqlite: bool, after: tuple[int, str] | None, wanted: int
) -> list[Hit]:
    """A one-word search tier by tier, each read in display order: family equal to the word and family starting
    with it (key ranges of the narrow ordered copy: the key starts with the family), then the other full-text
    matches (given names, cities, professions). A common surname fills the page from the first tier without
    touching the full-text index; the ranking is the general one."""
    query = SearchQuery(q=term)
    found: list[Hit] = []
    if after is None or after[0] == 0:
        found = await _exact_tier(session, query, after[1] if after else None, wanted)
        after = None
    if len(found) < wanted and (after is None or after[0] == 1):
        statement = select(SearchPerson.id, SearchPerson.sort_key).where(
            *_ranged(SearchPerson.sort_key, term, term + AFTER_WORDS, after[1] if after else None),
            SearchPerson.family_norm != term, SearchPerson.active.is_(True))
        rows = await _rows(session, statement.order_by(SearchPerson.sort_key).limit(wanted - len(found)), walk=True)
        found += [(int(row[0]), str(row[1]), 1) for row in rows]
        after = None
    if len(found) < wanted:
        lines, total = await line_counts(session, [(term, True), (TOTAL_WORD, False)])
        rest = wanted - len(found)
        outside = or_(SearchPerson.sort_key < term, SearchPerson.sort_key >= term + AFTER_WORDS)
        others: list[Any] = [*row_checks(query), outside]
        if lines * RANDOM_ROW <= _rows_to_fill(rest, [lines / total if total else 0.0]):
            others.append(match_words(sqlite, [term]))
            walk = False
        else:  # a common word: walk the display order, checking the word on each row
            walk = True
        statement = select(SearchPerson.id, SearchPerson.sort_key).where(*others)
        if after is not None:
            statement = statement.where(SearchPerson.sort_key > after[1])
        rows = await _rows(session, statement.order_by(SearchPerson.sort_key).limit(rest), walk=walk)
        found += [(int(row[0]), str(row[1]), 2) for row in rows]
    return found


def _rows_to_fill(wanted: int, shares: list[float]) -> float:
    """About how many rows a walk of the whole display order reads to find ``wanted`` rows that match every
    independent condition of these shares."""
    density = 1.0
    for share in shares:
        density *= share
    return wanted / density if density > 0 else float("inf")


async def _general(
    session: AsyncSession, query: SearchQuery, sqlite: bool, after: tuple[int, str] | None, wanted: int,
    *, skip_exact: bool = False, index: bool = True,
) -> list[Hit]:
    """The reference ranked query: the word index for the words (unless not ``index``: every condition is then
    tested on the rows, for candidates a mailbox condition already narrowed down), ranked, in key order."""
    terms = words(query.q)
    rank = rank_of(terms)
    statement: Any = select(SearchPerson.id, SearchPerson.sort_key, rank.label("rank")).where(
        *(text_conditions(query, sqlite) if index else row_checks(query)))
    if skip_exact:
        statement = statement.where(SearchPerson.family_norm.not_in([" ".join(terms), *terms]))
    if after is not None and not terms:  # every row is rank 0: a range of the key
        statement = statement.where(SearchPerson.sort_key > after[1])
    elif after is not None:
        statement = statement.where(or_(rank > after[0], and_(rank == after[0], SearchPerson.sort_key > after[1])))
    # without words every row is rank 0: ordered by the key alone, the copy's primary key is walked in order and
    # the walk stops at the page (with a constant first, SQLite sorted every matching row: 6.5 s for has_mailbox)
    order = [rank, SearchPerson.sort_key] if terms else [SearchPerson.sort_key]
    rows = await _rows(session, statement.order_by(*order).limit(wanted), walk=not terms)
    return [(int(row[0]), str(row[1]), int(row[2])) for row in rows]


async def _exact_first(
    session: AsyncSession, query: SearchQuery, sqlite: bool, after: tuple[int, str] | None, wanted: int
) -> list[Hit]:
    """Rank 0 (family equal to the text or one of its words) in display order, checked row by row, then the
    general ranked query for the rest: "martin lyon" or "martin" + a postal code never has to intersect two
    long full-text posting lists when the family name alone fills the page."""
    found: list[Hit] = []
    if after is None or after[0] == 0:
        found = await _exact_tier(session, query, after[1] if after else None, wanted)
        if len(found) >= wanted:
            return found
        after = None
    return found + await _general(session, query, sqlite, after, wanted - len(found), skip_exact=True)


async def _driven(
    session: AsyncSession, query: SearchQuery, sqlite: bool, drivers: list[str], after: tuple[int, str] | None,
    wanted: int,
) -> list[Hit]:
    """The general ranked query with the full-text index used for the rarer ``drivers`` words only: the other
    words and the filters are checked on their few candidate rows (the same match, see ``row_checks``)."""
    rank = rank_of(words(query.q))
    statement: Any = select(SearchPerson.id, SearchPerson.sort_key, rank.label("rank")).where(
        match_words(sqlite, drivers), *row_checks(query)
    )
    if after is not None:
        statement = statement.where(or_(rank > after[0], and_(rank == after[0], SearchPerson.sort_key > after[1])))
    rows = await _rows(session, statement.order_by(rank, SearchPerson.sort_key).limit(wanted), walk=False)
    return [(int(row[0]), str(row[1]), int(row[2])) for row in rows]


async def _several_words(
    session: AsyncSession, query: SearchQuery, sqlite: bool, after: tuple[int, str] | None, wanted: int
) -> list[Hit]:
    """Free text with several words or filters, planned on the words' line counts (``directory_words``).

    Rank 0 (a family equal to a word) is read first from the family index. Then either the full-text index
    intersects the rarest words (adding a word while its postings cost less than the candidate rows it
    removes) and the candidates are checked and ranked (:func:`_driven`), or the ranked result is read tier by
    tier in display order (:func:`_tiers`), whichever the cost model expects to read less."""
    exact: list[Hit] = []
    if after is None or after[0] == 0:  # rank 0 first: a family equal to a word often fills the page alone
        exact = await _exact_tier(session, query, after[1] if after else None, wanted)
        if len(exact) >= wanted:
            return exact
        after, wanted = (0, AFTER_WORDS), wanted - len(exact)
    return exact + await _planned(session, query, sqlite, after, wanted)


async def _planned(
    session: AsyncSession, query: SearchQuery, sqlite: bool, after: tuple[int, str] | None, wanted: int
) -> list[Hit]:
    terms = sorted(set(words(query.q)), key=len, reverse=True)
    facets = facet_terms(query)
    *found, total = await line_counts(session, [*((term, True) for term in terms),
                                                 *((FACET_WORD + token, starts) for token, starts in facets),
                                                 (TOTAL_WORD, False)])
    counts = dict(zip(terms, found, strict=False))
    shares = {term: min(1.0, counts[term] / total) if total else 0.0 for term in terms}
    filters = [min(1.0, count / total) if total else 0.0 for count in found[len(terms):]]
    by_count = sorted(terms, key=lambda term: counts[term])
    indexable = [term for term in by_count if len(term) >= PREFIX_INDEXED] or by_count
    random_row, posting = (RANDOM_ROW, POSTING) if sqlite else (PG_RANDOM_ROW, PG_POSTING)
    drivers: list[str] = []
    expected = float(total)
    for term in indexable:  # the rarest first, while reading its postings costs less than the rows it saves
        saved = max(expected, counts[indexable[0]] * CORRELATED) * (1 - shares[term]) * random_row
        if drivers and (counts[term] > COMMON_LINES or counts[term] * posting > saved):
            break
        drivers.append(term)
        expected *= shares[term]
    candidates = max(expected, counts[indexable[0]] * CORRELATED)
    driven = candidates * random_row + sum(counts[term] for term in drivers) * posting
    if driven <= _walk_rows(terms, counts, shares, filters, wanted):
        return await _driven(session, query, sqlite, drivers, after, wanted)
    per_match = _rows_to_fill(1, [*shares.values(), *filters])
    return await _tiers(session, query, sqlite, after, wanted, walk=True, drivers=drivers, instead=driven,
                        per_match=per_match)


def _walk_rows(terms: list[str], counts: dict[str, int], shares: dict[str, float], filters: list[float],
               wanted: int) -> float:
    """About how many rows :func:`_tiers` reads in display order to fill the page: the family ranges of the
    words in order (a range holds at most the lines of its word; the other words and the filters match there
    as independent shares), then the whole order. Rank 0 reads few rows and is left out."""
    rows, need = 0.0, float(wanted)
    everything = [*shares.values(), *filters]
    for term in family_starts(terms):
        others = [share for other, share in shares.items() if other != term] + filters
        density = 1.0 / _rows_to_fill(1, others) if others else 1.0
        matches = counts[term] * density
        if matches >= need:
            return rows + need / density
        rows, need = rows + counts[term], need - matches
    return rows + _rows_to_fill(int(need) + 1, everything)


# A walk in display order planned on word counts examines at most this many rows (in windows of these sizes)
# before the rest of the page is read from the full-text index instead: the counts cannot say where a word
# stands (a family "LA GRANVEOT" is not in the range of "granveot"), so a walk the plan expected short is cut.
WALK_WINDOWS = (1_000, 4_000, 25_000, 70_000)


class _Walk:
    """The row budget of the walks of one search."""

    def __init__(self, windows: tuple[int, ...] | None, instead: float = float("inf")) -> None:
        self.windows = list(windows) if windows is not None else None
        self.instead = instead  # rows the other plan is expected to cost: a walk expected to cost more stops
        self.seen = 0  # rows examined: the density of a single window is not trusted

    async def rows(
        self, session: AsyncSession, low: str, high: str | None, checks: list[Any],
        after: str | None, wanted: int, covered: str,
    ) -> tuple[list[Any], str | None]:
        """Up to ``wanted`` rows with keys in ``[low, high)`` after the key ``after`` that pass ``checks``, in key
        order, and, when the budget ran out before the page was full or the range was done, the key up to
        which rows were examined (``covered`` if none could be). Each statement gets one lower and one upper
        bound on the key (SQLite ranges an index on one of each and would only filter on the others)."""
        key = SearchPerson.sort_key
        start = key > after if after is not None and after >= low else key >= low
        end = [] if high is None else [key < high]
        if self.windows is None:
            statement = select(SearchPerson.id, key).where(start, *end, *checks).order_by(key).limit(wanted)
            return await _rows(session, statement, walk=True), None
        if not self.windows:
            return [], covered
        found: list[Any] = []
        while self.windows:
            size = self.windows.pop(0)
            window = select(key).where(start, *end).order_by(key).limit(size).subquery()
            count, last = (await _rows(session, select(func.count(), func.max(window.c.sort_key)), walk=True))[0]
            if not count:
                return found, None
            statement = select(SearchPerson.id, key).where(start, key <= last, *checks)
            matched = await _rows(session, statement.order_by(key).limit(wanted - len(found)), walk=True)
            found += matched
            if len(found) >= wanted or count < size:
                return found, None
            start = key > last
            seen = self.seen = self.seen + count
            if not self.windows or (seen > count and (wanted - len(found)) * count > len(matched) * self.instead):
                self.windows = []  # the density seen so far says the rest of the walk costs more than the other plan
                return found, str(last)
        return found, None


async def _tiers(
    session: AsyncSession, query: SearchQuery, sqlite: bool, after: tuple[int, str] | None, wanted: int, *,
    walk: bool, drivers: list[str] | None = None, instead: float = float("inf"), per_match: float = 0.0,
) -> list[Hit]:
    """Every word common: the ranked result tier by tier, each read in display order and checked row by row,
    stopping when the page is full. Rank 0 as in :func:`_exact_tier`; rank 1 (a family starting with one of
    the words) as key ranges, one per word, in order (a word that starts with another word is in that one's
    range); rank 2 by walking the whole key order when ``walk`` (matches are dense enough), else from the
    full-text index. Rows come from the narrow ordered copy unless a mailbox condition needs the persons.
    With ``drivers``, the walks examine at most :data:`WALK_WINDOWS` rows, and stop sooner when the matches
    seen so far say that finishing the page costs more than ``instead`` (the driven plan's expected cost); the
    rest of the page is then read by :func:`_driven` with these words, from where the walk stopped; rank 2 is
    not walked at all when ``per_match`` (rows walked per match expected) says it costs more."""
    terms = words(query.q)
    rank = rank_of(terms)
    checks = row_checks(query)
    budget = _Walk(WALK_WINDOWS if drivers is not None else None, instead)
    found: list[Hit] = []
    if after is None or after[0] == 0:
        found = await _exact_tier(session, query, after[1] if after else None, wanted)
        after = None
    if len(found) < wanted and (after is None or after[0] == 1):
        covered = after[1] if after else ""  # rank 1 rows up to this key are found (ranges come in key order)
        for term in family_starts(terms):
            upper = term + AFTER_WORDS
            if after is not None and after[1] >= upper:
                continue
            rows, stopped = await budget.rows(session, term, upper, [rank == 1, *checks],
                                              after[1] if after else None, wanted - len(found), covered)
            found += [(int(row[0]), str(row[1]), 1) for row in rows]
            if len(found) >= wanted:
                return found
            if stopped is not None and drivers is not None:
                return found + await _driven(session, query, sqlite, drivers, (1, stopped), wanted - len(found))
            covered = max(covered, upper)
        after = None
    if len(found) >= wanted:
        return found
    if not walk:
        return found + await _general(session, query, sqlite, after or (1, AFTER_WORDS), wanted - len(found))
    if drivers is not None and (wanted - len(found)) * per_match > instead:  # rank 2 is sparse: no walk
        return found + await _driven(session, query, sqlite, drivers, after or (2, ""), wanted - len(found))
    rows, stopped = await budget.rows(session, "", None, [rank == 2, *checks], after[1] if after else None,
                                      wanted - len(found), after[1] if after else "")
    found += [(int(row[0]), str(row[1]), 2) for row in rows]
    if stopped is not None and drivers is not None and len(found) < wanted:
        return found + await _driven(session, query, sqlite, drivers, (2, stopped), wanted - len(found))
    return found


# SQLite: read the file through a memory map (its largest size by default): a search reads pages at random
# (candidate rows, the page's rows), and a mapped page is read without a system call or a copy.
MMAP_BYTES = 0x7FFF0000
_MAPPED = "directory_search_mmap"


async def _map(session: AsyncSession) -> None:
    """Once per pooled SQLite connection (its ``info`` outlives the checkout)."""
    connection = await session.connection()
    if not connection.info.get(_MAPPED):
        await connection.exec_driver_sql(f"PRAGMA mmap_size = {MMAP_BYTES}")
        connection.info[_MAPPED] = True


async def search(session: AsyncSession, query: SearchQuery) -> Page:
    """One page of active practitioners matching ``query``, best first.

    Only ids and sort keys are ranked and sorted; the page's rows are then read by id."""
    query = check_query(query)
    limit = min(query.limit, MAX_LIMIT)
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        await _map(session)
    stripped = query.q.strip()
    if is_identifier(stripped) or ("@" in stripped and " " not in stripped):
        found = await lookup(session, stripped)
        return Page([found] if found is not None and query.cursor is None else [], None, limit)
    terms = words(query.q)
    fingerprint = query_fingerprint(query)
    after = decode_cursor(query.cursor, fingerprint) if query.cursor else None
    filtered = any(value is not None for value in (query.profession, query.specialty, query.city, query.postal_code,
                                                   query.department, query.mailbox, query.has_mailbox))
    # PostgreSQL: the statement that reads the word index's counts also applies the search's settings
    # (search_ordered.PG_SETTINGS: one round trip less); without it, they are applied on their own
    indexed = None if query.mailbox else await ordered_plan(session, query, after)
    if not sqlite and indexed is None:
        await session.execute(text(f"SELECT {', '.join(PG_SETTINGS)}"))
    if query.mailbox:  # the owners of one address (a few rows) are the candidates: every check on them, no index
        hits = await _general(session, query, sqlite, after, limit + 1, index=False)
    elif indexed is not None:
        hits = await ordered(session, query, indexed, after, limit + 1)
    elif len(terms) == 1 and not filtered:
        hits = await _single_term(session, terms[0], sqlite, after, limit + 1)
    elif terms:
        hits = await _several_words(session, query, sqlite, after, limit + 1)
    else:  # no word and no filter token: a mailbox condition alone, or nothing
        hits = await _general(session, query, sqlite, after, limit + 1)
    ids = [hit[0] for hit in hits[:limit]]
    next_cursor = None
    if len(hits) > limit:
        _, last_key, last_rank = hits[limit - 1]
        next_cursor = encode_cursor(last_rank, last_key, fingerprint)
    items = await complete(session, ids, ids) if ids else []
    return Page(items, next_cursor, limit)


async def lookup(session: AsyncSession, identifier: str) -> Practitioner | None:
    """The practitioner with this idNat, RPPS, ADELI or mailbox address (active or not), or None."""
    value = identifier.strip()
    if "@" in value:
        if len(value) > MAX_ADDRESS:
            raise InvalidQuery("identifier", "a mail address is at most 254 characters")
        owner = select(Mailbox.id_nat).where(Mailbox.address == value.lower(), Mailbox.id_nat != "")
        condition: ColumnElement[bool] = Person.id_nat.in_(owner.scalar_subquery())
    elif is_identifier(value):
        value = value.upper()
        condition = or_(Person.id_nat == value, Person.id_pp == value)
    else:
        raise InvalidQuery(
            "identifier",
            "an identifier is an idNat (8 + 11-digit RPPS, or 0 + 9-character ADELI), an RPPS, an ADELI or an address",
        )
    chosen = select(Person.id).where(condition).order_by(Person.active.desc(), Person.id).limit(1).scalar_subquery()
    found = await complete(session, Person.id == chosen, None)
    return found[0] if found else None
