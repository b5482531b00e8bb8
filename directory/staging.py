"""Bulk loading of parsed lines into per-import temporary tables, the fastest way each engine offers.

An import first loads every valid line into a temporary staging table (SQLite ``executemany`` on the raw
driver connection, PostgreSQL ``COPY``) inside the import's single transaction, then merges it into the
directory tables with set-based SQL (:mod:`directory.merge`). Nothing is visible to readers before the commit
and a failure anywhere rolls the whole import back.

The derived search values (folded names, words, facet tokens, the activity key) are computed here, per line,
by the same functions the search uses for queries.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from directory.extraction import Activity, MailboxEntry
from directory.text import fold, squash

if TYPE_CHECKING:  # SQLAlchemy is imported by the import process only (Staging): a parsing process, which
    from sqlalchemy.ext.asyncio import AsyncConnection  # stages into SQLite or COPY text, starts 0.2 s sooner

ACTIVITY_COLUMNS = (
    "line_no", "id_nat", "specialty_code", "specialty_label", "mode_code", "structure_key", "siret", "siren",
    "finess_site", "finess_legal", "technical_id", "structure_name", "structure_norm", "address",
    "address_complement", "postal_code", "commune_code", "city", "department", "phone", "email", "sector_code",
    "function_code", "genre_code", "key",
)
MAILBOX_COLUMNS = ("line_no", *MailboxEntry._fields[1:])
PERSON_COLUMNS = (
    "line_no", "id_nat", "id_type", "id_pp", "civility", "title", "family", "given", "family_norm", "given_norm",
    "sort_key", "profession_code", "profession_label", "category_code", "specialties", "doc", "facets",
)
_INTEGER = frozenset({"line_no"})
_BOOLEAN = frozenset({"dematerialised"})
# PostgreSQL COPY text format: a backslash, a tab, a line feed or a carriage return inside a value is escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows of strings and integers as PostgreSQL ``COPY ... (FORMAT text)`` data: what the parsing process
    sends, so that the import process hands bytes to the server without touching a value.

    The fast way formats every row with one precompiled ``%`` format (``"%s\t%s…\n" % row``, called from C
    by ``map``: no list and no ``str`` call per value) and counts the separators: a value holding one of them
    (rare) sends the whole batch through per-value escaping."""
    if not rows:
        return b""
    width = len(rows[0])
    text = "".join(map(_row_format(width), rows))
    if (text.count("\t") != len(rows) * (width - 1) or text.count("\n") != len(rows)
            or "\\" in text or "\r" in text):
        text = "".join(["\t".join([str(value).translate(_COPY_ESCAPES) for value in row]) + "\n" for row in rows])
    return text.encode()


@functools.lru_cache(maxsize=8)
def _row_format(width: int) -> Callable[[tuple[Any, ...]], str]:
    """``"%s\t%s…%s\n".__mod__``: one COPY text line of a row of ``width`` values (``%s`` is ``str(value)``
    for the strings and integers of a staging row)."""
    return ("\t".join(["%s"] * width) + "\n").__mod__


def structure_key(activity: Activity) -> str:
    """The structure's identity: its technical id, else ``F`` + FINESS site, else ``S`` + SIRET, else none."""
    if activity.technical_id:
        return activity.technical_id
    if activity.finess_site:
        return "F" + activity.finess_site
    return "S" + activity.siret if activity.siret else ""


def facet(prefix: str, value: str) -> str:
    """A filter token such as ``c69003`` or ``vsaintetienne``; empty for an empty value."""
    squashed = squash(value)
    return prefix + squashed if squashed else ""


# A profession token and a place token of one activity line paired into one filter token (``p10:c69003``). The
# separator is one that SQLite's FTS5 tokenizer (unicode61) splits on and PostgreSQL's postings (split on
# spaces) keep: SQLite's word index then holds no pair (it intersects ``p10`` and ``c69003``, in display
# order, at search time; the pairs were 6 of the 14 million tokens and more than a third of its fill), while
# PostgreSQL's postings keep each pair's short positions list. It sorts after the digits and before the letters,
# so a line's tokens keep their order (``directory.batch._facets``). Migration 0015_directory_facet_pairs.
PAIR = ":"


@functools.lru_cache(maxsize=65_536)
def _line_words(profession_label: str, specialty_label: str, city: str) -> str:
    return f"{fold(profession_label)} {fold(specialty_label)} {fold(city)}"


@functools.lru_cache(maxsize=65_536)
def _line_facets(profession: str, specialty: str, postal_code: str, department: str, city: str) -> str:
    """Filter tokens of one activity; a profession is also paired with the place (``p10:c69003``, see
    :data:`PAIR`), so that the common "doctors in 69003" is one short posting list on PostgreSQL instead of the
    intersection of a huge one."""
    job = facet("p", profession)
    places = (facet("c", postal_code), facet("d", department), facet("v", city))
    paired = tuple(job + PAIR + place for place in places if job and place)
    tokens = (job, facet("s", specialty), *places, *paired)
    return " ".join(token for token in tokens if token)


def activity_row(activity: Activity) -> tuple[Any, ...]:
    """The staging row of one activity line (the person's own columns are staged by PersonAccumulator)."""
    a = activity
    key_structure = structure_key(a)
    identity = "|".join((a.id_nat, key_structure, a.mode_code, a.sector_code, a.function_code, a.genre_code,
                         a.specialty_code))
    key = a.id_nat + "-" + hashlib.blake2b(identity.encode(), digest_size=6).hexdigest()
    return (
        a.line_no, a.id_nat, a.specialty_code, a.specialty_label, a.mode_code, key_structure, a.siret, a.siren,
        a.finess_site, a.finess_legal, a.technical_id, a.structure_name, _fold_name(a.structure_name), a.address,
        a.address_complement, a.postal_code, a.commune_code, a.city, a.department, a.phone, a.email,
        a.sector_code, a.function_code, a.genre_code, key,
    )


@functools.lru_cache(maxsize=65_536)
def _fold_name(name: str) -> str:
    return fold(name)[:300]


def person_row(first: Activity, words: set[str], facets: set[str], specialties: set[str]) -> tuple[Any, ...]:
    """A person from their activity lines: names from the first line, words and codes from all of them."""
    family_norm, given_norm = fold(first.family)[:200], fold(first.given)[:200]  # NFKD may lengthen a name
    return (
        first.line_no, first.id_nat, first.id_type, first.id_pp, first.civility, first.title, first.family,
        first.given, family_norm, given_norm, f"{family_norm} {given_norm} {first.id_nat}", first.profession_code,
        first.profession_label, first.category_code, ";".join(sorted(specialties - {""})),
        f"{family_norm} {given_norm} {' '.join(sorted(words - {''}))}", " ".join(sorted(facets - {""})),
    )


class PersonAccumulator:
    """Folds consecutive lines of one person into one person row (the extractions list a person's lines
    together; a person met again later gives a second row that :mod:`directory.merge` folds in SQL)."""

    def __init__(self) -> None:
        self.first: Activity | None = None
        self.words: set[str] = set()
        self.facets: set[str] = set()
        self.specialties: set[str] = set()

    def add(self, activity: Activity) -> tuple[Any, ...] | None:
        a = activity
        done = self.flush() if self.first is not None and self.first.id_nat != a.id_nat else None
        if self.first is None:
            self.first = a
        self.words.update(_line_words(a.profession_label, a.specialty_label, a.city).split(" "))
        self.facets.update(_line_facets(a.profession_code, a.specialty_code, a.postal_code, a.department,
                                        a.city).split(" "))
        if a.specialty_code:
            self.specialties.add(f"{a.specialty_code}={a.specialty_label}")
        return done

    def flush(self) -> tuple[Any, ...] | None:
        if self.first is None:
            return None
        row = person_row(self.first, self.words, self.facets, self.specialties)
        self.first, self.words, self.facets, self.specialties = None, set(), set(), set()
        return row


def merge_person_rows(rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """One row from the rows of a person listed in several places of the file (first line wins)."""
    rows = sorted(rows)
    first = list(rows[0])
    family_norm, given_norm = first[8], first[9]
    specialties = {item for row in rows for item in row[14].split(";")} - {""}
    words = {word for row in rows for word in row[15].split(" ")[len(f"{family_norm} {given_norm}".split(" ")):]}
    facets = {token for row in rows for token in row[16].split(" ")} - {""}
    first[14] = ";".join(sorted(specialties))
    first[15] = f"{family_norm} {given_norm} {' '.join(sorted(words - {''}))}"
    first[16] = " ".join(sorted(facets))
    return tuple(first)


def mailbox_row(entry: MailboxEntry) -> tuple[Any, ...]:
    return tuple(entry)


def definitions(columns: tuple[str, ...], *, sqlite: bool) -> str:
    """The column list of a staging table. PostgreSQL's text columns are ``COLLATE "C"``: the staging tables'
    sorts, groupings, ``MIN`` and indexes compare bytes instead of calling the locale's ``strcoll`` (equality
    is byte equality under any deterministic collation, so matching rows is unchanged; order and ``MIN`` are
    SQLite's ``BINARY`` ones, the same as the database's under a ``C`` or ``C.UTF-8`` locale)."""

    def kind(column: str) -> str:
        if column in _INTEGER:
            return "INTEGER"
        if column in _BOOLEAN:
            return "INTEGER" if sqlite else "BOOLEAN"
        return "TEXT" if sqlite else 'TEXT COLLATE "C"'

    return ", ".join(f"{column} {kind(column)} NOT NULL" for column in columns)


class Staging:
    """One temporary table on the import's connection, filled in batches."""

    def __init__(self, connection: AsyncConnection, name: str, columns: tuple[str, ...]) -> None:
        self.connection = connection
        self.name = name
        self.columns = columns
        self.sqlite = connection.dialect.name == "sqlite"
        self.written = 0  # PostgreSQL: the rows its COPYs wrote

    async def create(self) -> None:
        from sqlalchemy import text  # noqa: PLC0415 - see the imports at the top

        columns = definitions(self.columns, sqlite=self.sqlite)
        if self.sqlite:
            await self.connection.execute(text(f"DROP TABLE IF EXISTS temp.{self.name}"))
            await self.connection.execute(text(f"CREATE TEMP TABLE {self.name} ({columns})"))
        else:
            await self.connection.execute(text(f"CREATE TEMP TABLE {self.name} ({columns}) ON COMMIT DROP"))

    async def write(self, rows: list[tuple[Any, ...]] | bytes) -> None:
        """Rows as tuples, or on PostgreSQL as :func:`copy_text` bytes."""
        if not rows:
            return
        raw = await self.connection.get_raw_connection()
        driver: Any = raw.driver_connection
        if isinstance(rows, bytes):
            # a memoryview: asyncpg would take bytes for a file name
            status = await driver.copy_to_table(self.name, source=memoryview(rows), columns=list(self.columns),
                                                format="text")
        elif self.sqlite:
            marks = ", ".join("?" * len(self.columns))
            await driver.executemany(f"INSERT INTO temp.{self.name} VALUES ({marks})", rows)  # noqa: S608
            return
        else:
            status = await driver.copy_records_to_table(self.name, records=rows, columns=list(self.columns))
        self.written += int(status.rsplit(" ", 1)[-1])  # "COPY <rows>"

    async def drop(self) -> None:
        from sqlalchemy import text  # noqa: PLC0415 - see the imports at the top

        if self.sqlite:
            await self.connection.execute(text(f"DROP TABLE IF EXISTS temp.{self.name}"))
