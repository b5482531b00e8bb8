"""The ordered plan: a search read tier by tier in display order from the ordered copy's word index.

SQLite: ``directory_search_fts`` (migration ``0008_directory_search_fts``) holds the words and filter tokens of
the narrow ordered copy (``directory_search_persons``) with rowid = display position (``pos``), so that FTS5
yields a word's rows in display order and a tier stops as soon as the page is full (one statement).
PostgreSQL: ``directory_search_postings`` (:mod:`directory.postings`) holds the positions of each word and filter
token in chunks; a tier reads them window by window of positions (each window sorted, the next one read only if
the page is not full), and intersects at most :data:`PG_PARTS` words with ``INTERSECT`` (one statement a
window, run one after another).

:func:`ordered_plan` says what the index can match for a search, :func:`ordered` runs it; every candidate is
checked on its row, so the rows are those of the general ranked query. :mod:`directory.search` chooses this plan
whenever the index can match a word or a filter token.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from directory.batch import FACET_WORD, TOTAL_WORD
from directory.search_query import SearchQuery
from directory.search_sql import (
    AFTER_WORDS,
    PREFIX_INDEXED,
    VOCABULARY_SCAN,
    Binder,
    Hit,
    facet_terms,
    family_starts,
    line_counts,
)
from directory.staging import PAIR
from directory.text import words

# SQLite: the ordered copy's words by display position (directory_search_fts, rowid = pos). A prefix of 2 or
# 3 characters is read from its prefix index, lazily, in rowid order; a longer word's prefix is read by
# merging the postings of every word it starts, up front, in every part of the statement: worth it for a word
# on few lines, else its first 3 characters stand in for it (more candidates, every word is checked on the row).
FULL_PREFIX_LINES = 3_000  # a longer word on at most this many lines is matched whole
RARE_ENOUGH = 3_000  # expected candidates that are checked on their rows rather than narrowed by another word
MATCHED_PARTS = 3  # at most this many words and tokens are intersected by the index
# PostgreSQL: at most PG_PARTS words are intersected (a posting read costs about PG_POSTING, a candidate checked
# on its row PG_ROW); a tier reads positions in windows, the first of PG_WINDOW positions, each next one
# PG_GROWTH times larger.
PG_PARTS = 3
PG_POSTING = 1
PG_ROW = 8
PG_CORRELATED = 0.1  # an intersection is expected to keep at least this share of its rarest word's rows
PG_WINDOW = 16_384
PG_GROWTH = 4
_PG_NO_POS = 2**31 - 1
# PostgreSQL: a search's statements run with these settings, local to its transaction: one page of ids is never
# worth compiling a query (JIT) or starting parallel workers; the statements of a shape are prepared once per
# connection (their numbers are parameters), and each run is planned for its values (a generic plan cannot know
# how many rows a word or a window of positions holds). :func:`ordered_plan` applies them with its statement.
PG_SETTINGS = (
    "set_config('jit', 'off', true)", "set_config('max_parallel_workers_per_gather', '0', true)",
    "set_config('plan_cache_mode', 'force_custom_plan', true)",
)
_NAMED = re.compile(r":(p\d+)\b")


def _fts_token(token: str, starts: bool) -> str:
    """The FTS5 expression of a filter token (a prefix when ``starts``): a pair (``p10:c69003``) is not in the
    word index, its two tokens are (:data:`directory.staging.PAIR`), intersected in display order; that they
    belong to the same activity line is checked on the row, with every other condition."""
    parts = [f'"{part}"' for part in token.split(PAIR)]
    return " AND ".join(parts) + ("*" if starts else "")


class Words:
    """What the copy's word index can match for one search: its words (two characters or more) and filter
    tokens with their line counts (``directory_words``) and the line total."""

    def __init__(self, terms: list[str], facets: list[tuple[str, bool]], counts: list[int], total: int) -> None:
        self.total = total
        self.items = [(count, f'"{term}"*' if len(term) <= 3 or count <= FULL_PREFIX_LINES else f'"{term[:3]}"*', term)
                      for term, count in zip(terms, counts, strict=False)]
        self.items += [(count, _fts_token(token, starts), "")
                       for (token, starts), count in zip(facets, counts[len(terms):], strict=True)]

    def few(self) -> bool:
        """Whether the rarest word alone selects few enough rows to read them all (see :data:`RARE_ENOUGH`)."""
        return any(count <= RARE_ENOUGH for count, _, _ in self.items)

    def match(self, implied: str = "") -> str:
        """The FTS5 expression that selects a superset of the rows holding every word (as a word prefix) and
        filter token but ``implied`` (the word a family range already ensures). The rarest alone when it is
        rare enough (reading the others' postings costs more than checking them on its rows); else the next
        rarest too, up to three. One-letter words are never matched (their prefix has no index and their
        postings are most of the index); a long word on many lines is read as its first 3 characters. Empty
        when nothing is left to match."""
        parts: list[str] = []
        expected = float(self.total)
        for count, part, term in sorted(set(self.items)):
            if term and term == implied:
                continue
            if parts and (expected <= RARE_ENOUGH or len(parts) == MATCHED_PARTS):
                break
            parts.append(part)
            share = count / self.total if self.total else 1.0
            expected = min(expected, float(count)) if len(parts) == 1 else expected * share
        return " AND ".join(parts)

    def builder(self) -> _Sql:
        return _Sql()


class Postings:
    """PostgreSQL: what ``directory_search_postings`` can match for one search: each word of two characters or
    more, as the range of vocabulary words it starts, and each filter token (as a prefix or whole), with the rows
    holding them (``directory_search_vocabulary``; a prefix of more than :data:`VOCABULARY_SCAN` words counts
    as every row); ``total``: the rows of the copy. An item is ``(rows, word, whole)``."""

    def __init__(self, items: list[tuple[int, str, bool]], total: int,
                 positions: dict[tuple[str, bool], int] | None = None) -> None:
        self.total = total
        self.items = sorted(items)
        self.positions = positions or {}  # the keys of :func:`_bounds`, located with the counts

    def match(self, implied: str = "") -> list[tuple[str, bool]]:
        """The words (and whether each is matched whole) whose postings select a superset of the rows holding
        every word and filter token but ``implied``: the rarest, then the next rarest while reading its postings
        costs less than checking on rows the candidates it removes (:data:`PG_POSTING` against :data:`PG_ROW`),
        up to :data:`PG_PARTS`. Empty when nothing is left to match."""
        parts: list[tuple[str, bool]] = []
        expected = float(self.total)
        for count, word, whole in self.items:
            if word == implied and not whole:
                continue
            share = count / self.total if self.total else 1.0
            if parts and (len(parts) == PG_PARTS or count * PG_POSTING >= expected * (1 - share) * PG_ROW):
                break
            parts.append((word, whole))
            floor = self.items[0][0] * PG_CORRELATED  # words of one name come together (see few())
            expected = float(count) if len(parts) == 1 else max(floor, expected * share)
        return parts

    def few(self) -> bool:
        """Whether the rarest word alone selects few enough rows to read, rank and sort all the candidates at once
        (whatever the other words remove: the words of one name, a city's for one, come together far more often
        than their shares say, so an intersection's size is not estimated here)."""
        return bool(self.items) and self.items[0][0] <= RARE_ENOUGH

    def builder(self) -> _PgSql:
        return _PgSql(self.positions, self.total + 1)


class _Sql(Binder):
    """A statement of plain SQL text with its named parameters: the word-index statement is built this way
    rather than as SQLAlchemy expressions, whose construction cost more than running it. Every value (words,
    patterns, keys, the match expression) is a parameter."""

    async def fetch(self, session: AsyncSession, statement: str) -> list[Any]:
        """The rows of ``statement`` with this builder's parameters, through the driver."""
        connection = await session.connection()
        return list((await connection.exec_driver_sql(statement, self.parameters)).all())

    def checks(self, query: SearchQuery) -> list[str]:
        """:func:`row_checks` on the copy (``c``): active, the words and filter tokens, and the mailbox conditions
        through the person's idNat."""
        found = ["c.active"] + [f"(' ' || c.doc) LIKE {self(f'% {term}%')}" for term in words(query.q)]
        for token, starts in facet_terms(query):
            if starts:
                found.append(f"(' ' || c.facets) LIKE {self(f'% {token}%')}")
            else:
                found.append(f"(' ' || c.facets || ' ') LIKE {self(f'% {token} %')}")
        owner = ("SELECT p.id FROM directory_persons p JOIN directory_mailboxes m ON m.id_nat = p.id_nat "
                 "WHERE m.active")
        if query.mailbox:  # the owners of one address: a set read once
            found.append(f"c.id IN ({owner} AND m.address = {self(query.mailbox.strip().lower())})")
        if query.has_mailbox is not None:  # checked candidate by candidate: the person, then its mailboxes
            owned = f"EXISTS ({owner} AND p.id = c.id)"
            found.append(owned if query.has_mailbox else f"NOT {owned}")
        return found

    def rank(self, terms: list[str]) -> str:
        """:func:`rank_of` on the copy."""
        exact = ", ".join(self(term) for term in [" ".join(terms), *terms])
        starts = " OR ".join(f"c.family_norm LIKE {self(term + '%')}" for term in terms)
        return f"CASE WHEN c.family_norm IN ({exact}) THEN 0 WHEN {starts} THEN 1 ELSE 2 END"

    def key_range(self, low: str, high: str | None, after: str | None, checks: list[str], wanted: int) -> str:
        """The rows of the copy with keys in ``[low, high)`` above ``after`` that pass ``checks``, in key order."""
        above = after is not None and after >= low
        where = [f"c.sort_key > {self(after)}" if above else f"c.sort_key >= {self(low)}"]
        where += [] if high is None else [f"c.sort_key < {self(high)}"]
        return (f"SELECT c.id, c.sort_key FROM directory_search_persons c WHERE {' AND '.join(where + checks)} "  # noqa: S608
                f"ORDER BY c.sort_key LIMIT {int(wanted)}")

    def families(self, names: list[str], checks: list[str], wanted: int) -> str:
        """Rank 0: the rows whose family is one of ``names`` that pass ``checks``, in key order."""
        where = [f"c.family_norm IN ({', '.join(map(self, names))})", *checks]
        return (f"SELECT c.id, c.sort_key FROM directory_search_persons c WHERE {' AND '.join(where)} "  # noqa: S608
                f"ORDER BY c.sort_key LIMIT {int(wanted)}")

    def everything(self, match: Any, rank: str, where: list[str], wanted: int) -> str:
        """Every candidate of ``match`` that passes ``where``, ranked, in rank then display order."""
        where = [f"directory_search_fts MATCH {self(match)}", *where]
        return (f"SELECT c.id, c.sort_key, {rank} AS rank FROM directory_search_fts f "  # noqa: S608
                f"JOIN directory_search_persons c ON c.pos = f.rowid WHERE {' AND '.join(where)} "
                f"ORDER BY 3, f.rowid LIMIT {int(wanted)}")

    async def run(self, session: AsyncSession, tiers: list[tuple[int, str]], wanted: int) -> list[Hit]:
        """The tiers' rows in order, up to ``wanted``: one statement, the tiers one after another (SQLite runs
        UNION ALL's parts in order and stops at the limit); each row carries its tier, and the rows are put in
        tier order here in any case."""
        statement = " UNION ALL ".join(f"SELECT id, sort_key, {rank} AS rank, {step} AS step FROM ({tier})"  # noqa: S608
                                       for step, (rank, tier) in enumerate(tiers))
        rows = sorted(await self.fetch(session, f"{statement} LIMIT {int(wanted)}"), key=lambda row: int(row[3]))
        return [(int(row[0]), str(row[1]), int(row[2])) for row in rows][:wanted]

    def rows(self, match: Any, low: str, high: str | None, after: str | None, checks: list[str], wanted: int
             ) -> list[str]:
        """Up to ``wanted`` rows of the copy with keys in ``[low, high)`` above ``after`` that pass ``checks``, in
        key order: read through the word index (its postings for ``match`` within the positions of that key
        range, in position order, each row checked, stopping when the page is full), or without ``match`` as
        the key range of the copy itself."""
        if not match:
            return [self.key_range(low, high, after, checks, wanted)]
        above = after is not None and after >= low
        where = [f"directory_search_fts MATCH {self(match)}",
                 f"f.rowid >= {self.pos_of(after, True) if above and after is not None else self.pos_of(low, False)}"]
        where += [] if high is None else [f"f.rowid < {self.pos_of(high, False)}"]
        return ["SELECT c.id, c.sort_key FROM directory_search_fts f JOIN directory_search_persons c "  # noqa: S608
                f"ON c.pos = f.rowid WHERE {' AND '.join(where + checks)} ORDER BY f.rowid LIMIT {int(wanted)}"]


class _PgSql(_Sql):
    """PostgreSQL's statements over ``directory_search_postings``: the positions of the keys a search needs were
    read with its word counts (:func:`_postings_plan`: ``positions``, and ``end`` past the copy's last row), so
    that a tier's range of positions is cut into windows here."""

    def __init__(self, positions: dict[tuple[str, bool], int] | None = None, end: int = _PG_NO_POS) -> None:
        super().__init__()
        self.positions = positions or {}
        self.end = end  # past the last row of the copy

    async def fetch(self, session: AsyncSession, statement: str) -> list[Any]:
        """The rows of ``statement`` through the driver, its ``:pN`` parameters numbered in asyncpg's style (each
        statement of a search has its own numbering; a statement of the same shape has the same text, which the
        driver prepared already)."""
        values: list[Any] = []
        numbers: dict[str, str] = {}

        def number(found: re.Match[str]) -> str:
            name = found.group(1)
            if name not in numbers:
                values.append(self.parameters[name])
                numbers[name] = f"${len(values)}"
            return numbers[name]

        connection = await session.connection()
        return list((await connection.exec_driver_sql(_NAMED.sub(number, statement), tuple(values))).all())

    def families(self, names: list[str], checks: list[str], wanted: int) -> str:
        """As on SQLite, but each family read on its own in key order (the index on family and key), up to the
        page, and the few rows merged: PostgreSQL would read every row of all the families and sort them."""
        where = " AND ".join(checks)
        branches = " UNION ALL ".join(
            f"(SELECT c.id, c.sort_key FROM directory_search_persons c WHERE c.family_norm = {self(name)}"  # noqa: S608
            f"{' AND ' + where if where else ''} ORDER BY c.sort_key LIMIT {int(wanted)})" for name in names)
        return f"SELECT id, sort_key FROM ({branches}) AS f ORDER BY sort_key LIMIT {int(wanted)}"  # noqa: S608

    def everything(self, match: Any, rank: str, where: list[str], wanted: int) -> str:
        return (f"SELECT c.id, c.sort_key, {rank} AS rank FROM ({self.postings(match)}) d "  # noqa: S608
                f"JOIN directory_search_persons c ON c.pos = d.pos WHERE {' AND '.join(where) or 'true'} "
                f"ORDER BY 3, d.pos LIMIT {int(wanted)}")

    def rows(self, match: Any, low: str, high: str | None, after: str | None, checks: list[str], wanted: int
             ) -> list[str]:
        """As on SQLite, but one statement per window of positions, in order: each sorts its candidates and
        stops at the page's size; the next window is read only if the page is not full yet."""
        if not match:
            return [self.key_range(low, high, after, checks, wanted)]
        above = after is not None and after >= low
        start = self.positions[(after, True)] if above and after is not None else self.positions[(low, False)]
        end = self.end if high is None else self.positions[(high, False)]
        statements = []
        size = PG_WINDOW
        while start < end:
            stop = end if end - start <= size * PG_GROWTH else start + size
            # the window's positions sorted first (a sorted subquery is not merged into the join), so that the
            # candidates are joined and checked in order and the checks stop at the page
            window = f"SELECT pos FROM ({self.postings(match, self(start), self(stop))}) x ORDER BY pos"  # noqa: S608
            statements.append(
                f"SELECT c.id, c.sort_key FROM ({window}) d "  # noqa: S608
                f"JOIN directory_search_persons c ON c.pos = d.pos WHERE {' AND '.join(checks) or 'true'} "
                f"ORDER BY d.pos LIMIT {int(wanted)}")
            start, size = stop, size * PG_GROWTH
        return statements

    async def run(self, session: AsyncSession, tiers: list[tuple[int, str]], wanted: int) -> list[Hit]:
        """The statements one after another until the page is full (a round trip is cheaper than planning the
        windows that are not needed)."""
        found: list[Hit] = []
        for rank, statement in tiers:
            rows = await self.fetch(session, statement)
            found += [(int(row[0]), str(row[1]), rank) for row in rows[:wanted - len(found)]]
            if len(found) >= wanted:
                break
        return found


def _bounds(terms: list[str], after: tuple[int, str] | None) -> list[tuple[str, bool]]:
    """The keys whose positions :func:`ordered` needs (each with whether strictly above): the start of the copy,
    each range of families starting with a word and its end, and the cursor's key."""
    starts = family_starts(terms)
    return ([(key, False) for key in ["", *starts, *(term + AFTER_WORDS for term in starts)]]
            + ([(after[1], True)] if after else []))


async def ordered_plan(session: AsyncSession, query: SearchQuery, after: tuple[int, str] | None = None
                       ) -> Words | Postings | None:
    """What the copy's word index can match for this search (None: nothing). SQLite's has no index for a
    one-letter prefix; PostgreSQL's reads it as the range of words it starts, like any word. On PostgreSQL, a
    search with something to match gets :data:`PG_SETTINGS` applied by this statement (None: nothing was run,
    nor applied)."""
    facets = facet_terms(query)
    if session.get_bind().dialect.name != "sqlite":
        return await _postings_plan(session, sorted(set(words(query.q))), facets, _bounds(words(query.q), after))
    terms = sorted({term for term in words(query.q) if len(term) >= PREFIX_INDEXED})
    if not terms and not facets:
        return None
    *counts, total = await line_counts(session, [*((term, True) for term in terms),
                                                  *((FACET_WORD + token, starts) for token, starts in facets),
                                                  (TOTAL_WORD, False)])
    return Words(terms, facets, counts, total)


async def _postings_plan(session: AsyncSession, terms: list[str], facets: list[tuple[str, bool]],
                         bounds: list[tuple[str, bool]]) -> Postings | None:
    """PostgreSQL: the rows holding a word each term starts, and each filter token, and the copy's rows, in one
    statement, which also applies :data:`PG_SETTINGS` and reads the position of the first row of the copy at or
    above (strictly: above) each key of ``bounds`` (past the last row: the number of rows plus one), which a
    search read window by window needs: one round trip instead of three."""
    items = [(term, False) for term in terms] + [(token, not starts) for token, starts in facets]
    if not items:
        return None
    sql = _PgSql()
    parts = []
    for word, whole in items:
        where = f"word = {sql(word)}" if whole else f"word >= {sql(word)} AND word < {sql(word + AFTER_WORDS)}"
        parts.append(f"(SELECT CASE WHEN count(*) > {VOCABULARY_SCAN} THEN -1 ELSE coalesce(sum(lines), 0) END "  # noqa: S608
                     f"FROM (SELECT lines FROM directory_search_vocabulary WHERE {where} "
                     f"LIMIT {VOCABULARY_SCAN + 1}) v)")
    located = sorted(set(bounds))
    parts += [sql.pos_of(key, strictly) for key, strictly in located]
    parts.append("(SELECT max(pos) FROM directory_search_persons)")
    *found, last = (await sql.fetch(session, f"SELECT {', '.join([*PG_SETTINGS, *parts])}"))[0][len(PG_SETTINGS):]
    total = int(last or 0)
    counts, positions = found[:len(items)], found[len(items):]
    return Postings([(total if count < 0 else int(count), word, whole)
                     for (word, whole), count in zip(items, counts, strict=True)], total,
                    {key: min(int(pos), total + 1) for key, pos in zip(located, positions, strict=True)})


async def ordered(
    session: AsyncSession, query: SearchQuery, indexed: Words | Postings, after: tuple[int, str] | None,
    wanted: int,
) -> list[Hit]:
    """The ranked result tier by tier in display order (``indexed``: :func:`ordered_plan` of this query and
    cursor ``after``), as :func:`_tiers` reads it, but
    from the copy's word index (see :meth:`Words.match`) instead of every row of a key range. Rank 0 from the
    family index; rank 1 as one position range per word (the families starting with it: there the word itself
    needs no matching, the rarest other word is matched); rank 2 in the positions between those ranges (a row
    inside one has a family starting with a word). Every candidate is checked on its row (all words, filters,
    rank), so the rows are exactly those of the general ranked query."""
    terms = words(query.q)
    sql = indexed.builder()
    if indexed.few():  # its rarest word or token selects few rows: all of them, ranked and sorted, at once
        rank = sql.rank(terms) if terms else "0"
        where = sql.checks(query)
        if after is not None:
            where.append(f"({rank} > {sql(after[0])} OR ({rank} = {sql(after[0])} AND c.sort_key > {sql(after[1])}))")
        found = await sql.fetch(session, sql.everything(indexed.match(), rank, where, wanted))
        return [(int(row[0]), str(row[1]), int(row[2])) for row in found]
    starts = family_starts(terms)
    tiers: list[tuple[int, str]] = []  # (rank, statement), in the order of the ranking
    if not terms:  # filters alone: everything is rank 0
        tiers += [(0, tier) for tier in sql.rows(indexed.match(), "", None, after[1] if after else None,
                                                  sql.checks(query), wanted)]
    else:
        if after is None or after[0] == 0:
            checks = sql.checks(query) + ([f"c.sort_key > {sql(after[1])}"] if after is not None else [])
            tiers.append((0, sql.families(list(dict.fromkeys([" ".join(terms), *terms])), checks, wanted)))
            after = None
        if after is None or after[0] == 1:
            for term in starts:
                upper = term + AFTER_WORDS
                if after is None or after[1] < upper:
                    checks = [f"{sql.rank(terms)} = 1", *sql.checks(query)]
                    tiers += [(1, tier) for tier in sql.rows(indexed.match(term), term, upper,
                                                             after[1] if after else None, checks, wanted)]
            after = None
        gaps = list(zip(["", *(term + AFTER_WORDS for term in starts)], [*starts, None], strict=True))
        for low, high in gaps:
            if after is None or high is None or after[1] < high:
                checks = [f"{sql.rank(terms)} = 2", *sql.checks(query)]
                tiers += [(2, tier) for tier in sql.rows(indexed.match(), low, high, after[1] if after else None,
                                                         checks, wanted)]
    return await sql.run(session, tiers, wanted)
