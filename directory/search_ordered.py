"""SQLite's ordered plan: a search read tier by tier in display order from the ordered copy's word index.

``directory_search_fts`` (migration ``0008_directory_search_fts``) holds the words and filter tokens of the
narrow ordered copy (``directory_search_persons``) with rowid = display position (``pos``), so that FTS5 yields
a word's rows in display order and a tier stops as soon as the page is full. :func:`ordered_plan` says what the
index can match for a search, :func:`ordered` runs it (one statement); every candidate is checked on its row, so
the rows are those of the general ranked query. :mod:`directory.search` chooses this plan on SQLite when no
mailbox condition needs the person table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from directory.batch import FACET_WORD, TOTAL_WORD
from directory.search_query import SearchQuery
from directory.search_sql import AFTER_WORDS, PREFIX_INDEXED, Hit, facet_terms, family_starts, line_counts
from directory.text import words

# SQLite: the ordered copy's words by display position (directory_search_fts, rowid = pos). A prefix of 2 or
# 3 characters is read from its prefix index, lazily, in rowid order; a longer word's prefix is read by
# merging the postings of every word it starts, up front, in every part of the statement: worth it for a word
# on few lines, else its first 3 characters stand in for it (more candidates, every word is checked on the row).
FULL_PREFIX_LINES = 3_000  # a longer word on at most this many lines is matched whole
RARE_ENOUGH = 3_000  # expected candidates that are checked on their rows rather than narrowed by another word
MATCHED_PARTS = 3  # at most this many words and tokens are intersected by the index
_NO_POS = 1 << 62  # past every position


class Words:
    """What the copy's word index can match for one search: its words (two characters or more) and filter
    tokens with their line counts (``directory_words``) and the line total."""

    def __init__(self, terms: list[str], facets: list[tuple[str, bool]], counts: list[int], total: int) -> None:
        self.total = total
        self.items = [(count, f'"{term}"*' if len(term) <= 3 or count <= FULL_PREFIX_LINES else f'"{term[:3]}"*', term)
                      for term, count in zip(terms, counts, strict=False)]
        self.items += [(count, f'"{token}"' + ("*" if starts else ""), "")
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


class _Sql:
    """A statement of plain SQL text with its named parameters: the word-index statement is built this way
    rather than as SQLAlchemy expressions, whose construction cost more than running it. Every value (words,
    patterns, keys, the match expression) is a parameter."""

    def __init__(self) -> None:
        self.parameters: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return f":{name}"

    def pos_of(self, key: str, strictly: bool) -> str:
        """The position of the first row of the copy with a key at or above (``strictly``: above) ``key``."""
        return (f"coalesce((SELECT pos FROM directory_search_persons WHERE sort_key {'>' if strictly else '>='} "  # noqa: S608
                f"{self(key)} ORDER BY sort_key LIMIT 1), {_NO_POS})")

    def checks(self, query: SearchQuery) -> list[str]:
        """:func:`row_checks` on the copy (``c``)."""
        found = [f"(' ' || c.doc) LIKE {self(f'% {term}%')}" for term in words(query.q)]
        for token, starts in facet_terms(query):
            if starts:
                found.append(f"(' ' || c.facets) LIKE {self(f'% {token}%')}")
            else:
                found.append(f"(' ' || c.facets || ' ') LIKE {self(f'% {token} %')}")
        return found

    def rank(self, terms: list[str]) -> str:
        """:func:`rank_of` on the copy."""
        exact = ", ".join(self(term) for term in [" ".join(terms), *terms])
        starts = " OR ".join(f"c.family_norm LIKE {self(term + '%')}" for term in terms)
        return f"CASE WHEN c.family_norm IN ({exact}) THEN 0 WHEN {starts} THEN 1 ELSE 2 END"

    def rows(self, match: str, low: str, high: str | None, after: str | None, checks: list[str], wanted: int) -> str:
        """Up to ``wanted`` rows of the copy with keys in ``[low, high)`` above ``after`` that pass ``checks``, in
        key order: read through the word index (its postings for ``match`` within the positions of that key
        range, in position order, each row checked, stopping when the page is full), or without ``match`` as
        the key range of the copy itself."""
        above = after is not None and after >= low
        if not match:
            where = [f"c.sort_key > {self(after)}" if above else f"c.sort_key >= {self(low)}"]
            where += [] if high is None else [f"c.sort_key < {self(high)}"]
            return (f"SELECT c.id, c.sort_key FROM directory_search_persons c WHERE {' AND '.join(where + checks)} "  # noqa: S608
                    f"ORDER BY c.sort_key LIMIT {int(wanted)}")
        where = [f"directory_search_fts MATCH {self(match)}",
                 f"f.rowid >= {self.pos_of(after, True) if above and after is not None else self.pos_of(low, False)}"]
        where += [] if high is None else [f"f.rowid < {self.pos_of(high, False)}"]
        return ("SELECT c.id, c.sort_key FROM directory_search_fts f JOIN directory_search_persons c "  # noqa: S608
                f"ON c.pos = f.rowid WHERE {' AND '.join(where + checks)} ORDER BY f.rowid LIMIT {int(wanted)}")


async def ordered_plan(session: AsyncSession, query: SearchQuery) -> Words | None:
    """What the copy's word index can match for this search (None: nothing), its words and filter tokens
    counted in ``directory_words`` (one statement)."""
    terms = sorted({term for term in words(query.q) if len(term) >= PREFIX_INDEXED})
    facets = facet_terms(query)
    if not terms and not facets:
        return None
    *counts, total = await line_counts(session, [*((term, True) for term in terms),
                                                  *((FACET_WORD + token, starts) for token, starts in facets),
                                                  (TOTAL_WORD, False)])
    return Words(terms, facets, counts, total)


async def ordered(
    session: AsyncSession, query: SearchQuery, indexed: Words, after: tuple[int, str] | None, wanted: int
) -> list[Hit]:
    """SQLite, no mailbox condition: the ranked result tier by tier in display order, as :func:`_tiers` reads
    it, but from the copy's word index (see :meth:`Words.match`) instead of every row of a key range. Rank 0
    from the family index; rank 1 as one position range per word (the families starting with it: there the
    word itself needs no matching, the rarest other word is matched); rank 2 in the positions between those
    ranges (a row inside one has a family starting with a word). Every candidate is checked on its row (all
    words, filters, rank), so the rows are exactly those of the general ranked query. One statement."""
    terms = words(query.q)
    sql = _Sql()
    if terms and indexed.few():  # its rarest word selects few rows: all of them, ranked and sorted, at once
        rank = sql.rank(terms)
        where = [f"directory_search_fts MATCH {sql(indexed.match())}", *sql.checks(query)]
        if after is not None:
            where.append(f"({rank} > {sql(after[0])} OR ({rank} = {sql(after[0])} AND c.sort_key > {sql(after[1])}))")
        statement = (f"SELECT c.id, c.sort_key, {rank} AS rank FROM directory_search_fts f "  # noqa: S608
                     f"JOIN directory_search_persons c ON c.pos = f.rowid WHERE {' AND '.join(where)} "
                     f"ORDER BY 3, f.rowid LIMIT {int(wanted)}")
        connection = await session.connection()
        found: list[Any] = list((await connection.exec_driver_sql(statement, sql.parameters)).all())
        return [(int(row[0]), str(row[1]), int(row[2])) for row in found]
    tiers: list[tuple[int, str]] = []  # (rank, statement), in the order of the ranking
    if not terms:  # filters alone: everything is rank 0
        tiers.append((0, sql.rows(indexed.match(), "", None, after[1] if after else None, sql.checks(query), wanted)))
    else:
        if after is None or after[0] == 0:
            family = ", ".join(sql(term) for term in [" ".join(terms), *terms])
            where = [f"c.family_norm IN ({family})", *sql.checks(query)]
            if after is not None:
                where.append(f"c.sort_key > {sql(after[1])}")
            tiers.append((0, f"SELECT c.id, c.sort_key FROM directory_search_persons c WHERE {' AND '.join(where)} "  # noqa: S608
                             f"ORDER BY c.sort_key LIMIT {int(wanted)}"))
            after = None
        starts = family_starts(terms)
        if after is None or after[0] == 1:
            for term in starts:
                upper = term + AFTER_WORDS
                if after is None or after[1] < upper:
                    checks = [f"{sql.rank(terms)} = 1", *sql.checks(query)]
                    tiers.append((1, sql.rows(indexed.match(term), term, upper, after[1] if after else None, checks,
                                              wanted)))
            after = None
        gaps = list(zip(["", *(term + AFTER_WORDS for term in starts)], [*starts, None], strict=True))
        for low, high in gaps:
            if after is None or high is None or after[1] < high:
                checks = [f"{sql.rank(terms)} = 2", *sql.checks(query)]
                tiers.append((2, sql.rows(indexed.match(), low, high, after[1] if after else None, checks, wanted)))
    # One statement: the tiers one after another (SQLite runs UNION ALL's parts in order and stops at the limit);
    # each row carries its tier, and the rows are put in tier order here in any case.
    statement = " UNION ALL ".join(f"SELECT id, sort_key, {rank} AS rank, {step} AS step FROM ({tier})"  # noqa: S608
                                   for step, (rank, tier) in enumerate(tiers))
    connection = await session.connection()
    result = await connection.exec_driver_sql(f"{statement} LIMIT {int(wanted)}", sql.parameters)
    rows: list[Any] = sorted(result.all(), key=lambda row: int(row[3]))
    return [(int(row[0]), str(row[1]), int(row[2])) for row in rows][:wanted]
