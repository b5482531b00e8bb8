"""How a practitioner search becomes SQL: word and filter conditions on either engine, checked on the rows of
the narrow ordered copy of the persons, the rank, and the page's rows read as :class:`Practitioner`.

:mod:`directory.search` and :mod:`directory.search_ordered` plan and run searches with these pieces (and the
word counts that steer the plans); the FHIR API uses :class:`Binder`'s word-index pieces too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, TextClause, and_, bindparam, case, exists, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from directory.models import Activity, Mailbox, Person, SearchPerson
from directory.search_query import Place, Practitioner, SearchQuery
from directory.staging import PAIR, facet
from directory.text import words

# A word shorter than this ("le", "d", "ma") is the prefix of a huge share of all words: intersecting its
# posting list costs more than checking it on the rows the other words already selected.
SHORT_TERM = 3
PREFIX_INDEXED = 2  # the shortest word whose prefix the full-text index answers directly (FTS5 prefix='2 3')
VOCABULARY_SCAN = 300  # distinct words read to estimate a prefix: more than that is a common prefix anyway
AFTER_WORDS = "\x7f"  # above every folded character: [t, t + this) is "starts with t"
Hit = tuple[int, str, int]  # person id, sort key, rank


async def fetch_rows(session: AsyncSession, statement: Any) -> list[Any]:
    connection = await session.connection()
    return list((await connection.execute(statement)).all())


async def line_counts(session: AsyncSession, items: list[tuple[str, bool]]) -> list[int]:
    """About how many activity lines carry a word starting with each term (or equal to it when not
    ``starts``), from ``directory_words``, in one statement; a prefix reads at most 300 words. Filter tokens
    are counted there as ``~`` + token, the number of lines as the empty word. Plain SQL text (the same on
    both engines, every value a parameter): building it as expressions cost more than running it."""
    parts: list[str] = []
    parameters: dict[str, Any] = {}
    for index, (term, starts) in enumerate(items):
        parameters[f"w{index}"] = term
        if starts:
            parameters[f"u{index}"] = term + AFTER_WORDS
            parts.append("(SELECT coalesce(sum(lines), 0) FROM (SELECT lines FROM directory_words "  # noqa: S608
                         f"WHERE word >= :w{index} AND word < :u{index} LIMIT {VOCABULARY_SCAN}) AS w{index})")
        else:
            parts.append(f"(SELECT coalesce(sum(lines), 0) FROM directory_words WHERE word = :w{index})")  # noqa: S608
    row = (await fetch_rows(session, text(f"SELECT {', '.join(parts)}").bindparams(**parameters)))[0]
    return [int(value) for value in row]


async def lines_starting(session: AsyncSession, term: str, starts: bool = True) -> int:
    return (await line_counts(session, [(term, starts)]))[0]


def family_starts(terms: list[str]) -> list[str]:
    """The words whose ``sort_key`` ranges hold the families starting with any word, in key order (a word that
    starts with another word is in that one's range)."""
    starts: list[str] = []
    for term in sorted(set(terms)):
        if not starts or not term.startswith(starts[-1]):
            starts.append(term)
    return starts


NO_POS = 1 << 62  # past every position of the copy


class Binder:
    """Plain SQL text and its named parameters: each value bound gets the next name (``:p0``, ``:p1``, …, after
    ``prefix``), and every value (words, patterns, keys) is a parameter. The pieces of SQL over the copy's word
    index that the searches (:mod:`directory.search_ordered`) and the FHIR API share."""

    def __init__(self, prefix: str = "p") -> None:
        self.prefix = prefix
        self.parameters: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.parameters)}"
        self.parameters[name] = value
        return f":{name}"

    def pos_of(self, key: str, strictly: bool) -> str:
        """The position of the first row of the copy with a key at or above (``strictly``: above) ``key``."""
        return (f"coalesce((SELECT pos FROM directory_search_persons WHERE sort_key {'>' if strictly else '>='} "  # noqa: S608
                f"{self(key)} ORDER BY sort_key LIMIT 1), {NO_POS})")

    def fts(self, terms: list[str]) -> str:
        """SQLite: ``directory_search_fts`` (rowid = ``pos``) holds a word or filter token starting with every
        term (``[a-z0-9]+`` only)."""
        expression = " AND ".join(f'"{term}"*' for term in terms)
        return f"directory_search_fts MATCH {self(expression)}"

    def postings(self, match: list[tuple[str, bool]], low: str | None = None, high: str | None = None) -> str:
        """PostgreSQL: the positions holding every word of ``match`` (whole, or a word it starts), from
        ``directory_search_postings``, unsorted and distinct; ``low`` and ``high``: SQL expressions, the range
        ``[low, high)`` of positions wanted."""
        # a row holding two words of one prefix is there twice: INTERSECT returns distinct rows, else DISTINCT
        distinct = "DISTINCT " if len(match) == 1 and not match[0][1] else ""
        bounds = ([] if high is None else [f"w.first_pos < {high}", f"p.pos < {high}"]) + (
            [] if low is None else [f"w.last_pos >= {low}", f"p.pos >= {low}"])
        parts = []
        for word, whole in match:
            words = [f"w.word = {self(word)}"] if whole else [f"w.word >= {self(word)}",
                                                               f"w.word < {self(word + AFTER_WORDS)}"]
            parts.append(f"SELECT {distinct}p.pos FROM directory_search_postings w, unnest(w.positions) AS p(pos) "  # noqa: S608
                         f"WHERE {' AND '.join(words + bounds)}")
        # INTERSECT (a hash or a sort, linear): as a join, the planner takes each unnested chunk for one row and
        # would rescan one word's postings for every position of the other
        return " INTERSECT ".join(parts)


def match_words(sqlite: bool, terms: list[str], name: str = "") -> TextClause:
    """The copy's rows (``directory_search_persons``) holding a word or filter token starting with every term:
    read from its word index (SQLite ``directory_search_fts``, PostgreSQL ``directory_search_postings``). Words and
    filter tokens share that index, so this is a superset of the rows whose words match: callers check the words
    on the rows. ``name`` keeps the bound parameters apart when one statement matches twice."""
    bind = Binder(f"match_words{name}_")
    if sqlite:
        rows = f"SELECT rowid FROM directory_search_fts WHERE {bind.fts(terms)}"  # noqa: S608
    else:
        rows = bind.postings([(term, False) for term in terms])
    return text(f"directory_search_persons.pos IN ({rows})").bindparams(**bind.parameters)


def facet_terms(query: SearchQuery) -> list[tuple[str, bool]]:
    """The filter tokens of ``query`` and whether each is matched as a prefix."""
    facets: list[tuple[str, bool]] = []
    job = facet("p", query.profession) if query.profession else ""
    places = [("c", query.postal_code, True), ("d", query.department, False), ("v", query.city, True)]
    for prefix, value, starts in places:
        if value:
            facets.append(((job + PAIR if job else "") + facet(prefix, value), starts))  # paired with the profession
    if job and not any(value for _, value, _ in places):
        facets.append((job, False))
    if query.specialty:
        facets.append((facet("s", query.specialty), False))
    return facets


def mailbox_conditions(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The mailbox conditions on the copy's rows, through the person's idNat."""
    conditions: list[ColumnElement[bool]] = []
    if query.mailbox:  # the owners of one address, from the address index (a correlated EXISTS made both engines
        # walk every person in display order looking for them)
        address = query.mailbox.strip().lower()
        owners = (select(Person.sort_key).join(Mailbox, Mailbox.id_nat == Person.id_nat)
                  .where(Mailbox.address == address, Mailbox.active.is_(True)))
        conditions.append(SearchPerson.sort_key.in_(owners))  # the copy's key: its primary key, found at once
    if query.has_mailbox is not None:  # candidate by candidate: the person by id, then its mailboxes
        owned = exists().where(Person.id == SearchPerson.id, Mailbox.id_nat == Person.id_nat, Mailbox.active.is_(True))
        conditions.append(owned if query.has_mailbox else ~owned)
    return conditions


def text_conditions(query: SearchQuery, sqlite: bool) -> list[ColumnElement[bool] | TextClause]:
    """The general query's conditions on the copy: the word index for the words of 3 characters or more (all
    the words when none is that long), and every check on the row (:func:`row_checks`)."""
    terms = words(query.q)
    indexed = [term for term in terms if len(term) >= SHORT_TERM] or terms
    found: list[ColumnElement[bool] | TextClause] = []
    if indexed:
        found.append(match_words(sqlite, indexed))
    # filter tokens as plain string checks: their index is read by the ordered plan (search_ordered), which every
    # search with a filter takes; this general query is the reference the plans are tested against
    return found + list(row_checks(query))


def row_checks(query: SearchQuery) -> list[ColumnElement[bool]]:
    """Every condition of ``query`` tested on a row of the copy itself (active, each word as a word prefix of
    ``doc``, each filter token in ``facets``, the mailbox conditions): for candidates an index already narrowed
    down, or rows read in display order."""
    doc = literal(" ") + SearchPerson.doc
    conditions: list[ColumnElement[bool]] = [SearchPerson.active.is_(True)]
    conditions += [doc.like(f"% {term}%") for term in words(query.q)]
    return conditions + facet_checks(query, SearchPerson.facets) + mailbox_conditions(query)


def facet_checks(query: SearchQuery, facets: Any) -> list[ColumnElement[bool]]:
    """Each filter token of ``query`` in the ``facets`` column (a token prefix where the filter is one)."""
    return [(literal(" ") + facets + ("" if starts else " ")).like(f"% {token}%" if starts else f"% {token} %")
            for token, starts in facet_terms(query)]


def rank_of(terms: list[str], family: Any = SearchPerson.family_norm) -> ColumnElement[int]:
    if not terms:
        return literal(0)
    phrase = " ".join(terms)
    return case(
        (family.in_([phrase, *terms]), 0),
        (or_(*(family.like(f"{term}%") for term in terms)), 1),
        else_=2,
    )


def specialties_of(value: str) -> list[tuple[str, str]]:
    return [tuple(item.split("=", 1)) for item in value.split(";") if "=" in item]  # type: ignore[misc]


_PERSON_COLUMNS = (
    Person.id, Person.id_nat, Person.id_type, Person.id_pp, Person.civility, Person.title, Person.family,
    Person.given, Person.profession_code, Person.profession_label, Person.specialties, Person.active,
)
_PLACE_COLUMNS = (
    Activity.id, Activity.structure_name, Activity.address, Activity.postal_code, Activity.city,
    Activity.department, Activity.phone, Activity.mode_code,
)


def _completion(chosen: ColumnElement[bool]) -> tuple[Any, Any]:
    activity = and_(Activity.id_nat == Person.id_nat, Activity.active.is_(True))
    return (select(*_PERSON_COLUMNS, *_PLACE_COLUMNS).outerjoin(Activity, activity).where(chosen)
            .order_by(Person.id, Activity.key),
            select(Person.id, Mailbox.address).join(Mailbox, Mailbox.id_nat == Person.id_nat)
            .where(chosen, Mailbox.active.is_(True)).order_by(Mailbox.address))


# A page of ids, the statements built once (an expanding parameter): building them cost more than running them.
_BY_IDS = _completion(Person.id.in_(bindparam("ids", expanding=True)))


async def complete(session: AsyncSession, chosen: ColumnElement[bool] | list[int], order: list[int] | None
                   ) -> list[Practitioner]:
    """The practitioners of the persons ``chosen`` selects (or of these ids), in the order of the ids ``order``
    (else as found), with their places and mailboxes: two plain statements (persons joined to their active
    activities, then their active mailboxes), read as rows rather than ORM objects."""
    if isinstance(chosen, list):
        people, owned = (statement.params(ids=chosen) for statement in _BY_IDS)
    else:
        people, owned = _completion(chosen)
    rows = await fetch_rows(session, people)
    if not rows:
        return []
    boxes = await fetch_rows(session, owned)
    mailboxes: dict[int, list[str]] = {}
    for person_id, address in boxes:
        mailboxes.setdefault(person_id, []).append(address)
    found: dict[int, Practitioner] = {}
    width = len(_PERSON_COLUMNS)
    for row in rows:
        p = row[:width]
        practitioner = found.get(p[0])
        if practitioner is None:
            practitioner = found[p[0]] = Practitioner(
                p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], specialties_of(p[10]), bool(p[11]),
                mailboxes.get(p[0], []), [],
            )
        a = row[width:]
        if a[0] is not None:
            practitioner.places.append(Place(a[1], a[2], a[3], a[4], a[5], a[6], a[7]))
    return [found[identifier] for identifier in order if identifier in found] if order is not None else list(
        found.values())
