"""Directory tables: persons, their activities, structures, mailboxes, certificates and the import log.

Every imported row carries ``active`` and ``last_seen`` (the extraction date that last listed it): a row that a
newer extraction no longer lists is deactivated, never deleted, so that a mail already exchanged with it still
resolves to a name. The search columns (``doc``, ``facets``, ``*_norm``, ``sort_key``) are derived at import
by :mod:`directory.text` so that SQLite and PostgreSQL index the very same words. There are no foreign keys
between imported tables: an extraction is the source of truth and the import replaces a table's view of it
in one transaction, joins use indexed natural keys (idNat, structure key).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime

# Byte order on both engines: PostgreSQL's default collation would ignore spaces and break keyset paging.
SortKey = String(450).with_variant(String(450, collation="C"), "postgresql")


def Code(length: int) -> String:
    """An identifier column (idNat, RPPS, keys, FINESS, mailbox addresses; migration
    ``0017_directory_code_collation``) or the search copy's folded family names (``0018_directory_search_
    tuning``): ASCII values compared byte by byte (PostgreSQL ``COLLATE "C"``): equality is the same under
    any collation, and PostgreSQL sorts such values twice as fast as under a libc locale (its index builds: a
    first load builds those of 2,000,000 activities)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Person(Base):
    __tablename__ = "directory_persons"
    # No index on the search columns: searches and the FHIR API read them in display order from the copy
    # (SearchPerson, migration 0014_directory_copy_all_persons).

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_nat: Mapped[str] = mapped_column(Code(12), unique=True)
    id_type: Mapped[str] = mapped_column(String(2))
    id_pp: Mapped[str] = mapped_column(Code(12), index=True)
    civility: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(8))
    family: Mapped[str] = mapped_column(String(200))
    given: Mapped[str] = mapped_column(String(200))
    family_norm: Mapped[str] = mapped_column(String(200))
    given_norm: Mapped[str] = mapped_column(String(200))
    sort_key: Mapped[str] = mapped_column(SortKey)
    profession_code: Mapped[str] = mapped_column(String(4))
    profession_label: Mapped[str] = mapped_column(String(100))
    category_code: Mapped[str] = mapped_column(String(4))
    specialties: Mapped[str] = mapped_column(Text)  # "code=label" joined by ";", sorted by code
    doc: Mapped[str] = mapped_column(Text)  # folded words: names, profession, specialties, cities
    facets: Mapped[str] = mapped_column(Text)  # filter tokens: p<profession> s<specialty> c<postcode> ...
    active: Mapped[bool] = mapped_column(Boolean)
    last_seen: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Structure(Base):
    __tablename__ = "directory_structures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Code(40), unique=True)  # technical id, else F+FINESS, else S+SIRET
    name: Mapped[str] = mapped_column(String(300))
    name_norm: Mapped[str] = mapped_column(String(300))
    siret: Mapped[str] = mapped_column(String(14))
    siren: Mapped[str] = mapped_column(String(9))
    finess_site: Mapped[str] = mapped_column(Code(9), index=True)
    finess_legal: Mapped[str] = mapped_column(String(9))
    technical_id: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(500))
    address_complement: Mapped[str] = mapped_column(String(500))
    postal_code: Mapped[str] = mapped_column(String(10))
    commune_code: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(4))
    phone: Mapped[str] = mapped_column(String(40))
    sector_code: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean)
    last_seen: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Activity(Base):
    __tablename__ = "directory_activities"
    # the key's uniqueness is an index, not a constraint (0016_directory_activities_key): SQLite cannot drop a
    # constraint, and a first load builds this index once after its rows, like the others (directory.merge)
    __table_args__ = (Index("uq_directory_activities_key", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Code(40))  # hash of person, structure, mode, role, specialty
    id_nat: Mapped[str] = mapped_column(Code(12), index=True)
    structure_key: Mapped[str] = mapped_column(Code(40), index=True)
    mode_code: Mapped[str] = mapped_column(String(4))
    specialty_code: Mapped[str] = mapped_column(String(10))
    specialty_label: Mapped[str] = mapped_column(String(200))
    siret: Mapped[str] = mapped_column(String(14))
    siren: Mapped[str] = mapped_column(String(9))
    finess_site: Mapped[str] = mapped_column(String(9))
    finess_legal: Mapped[str] = mapped_column(String(9))
    technical_id: Mapped[str] = mapped_column(String(40))
    structure_name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str] = mapped_column(String(500))
    address_complement: Mapped[str] = mapped_column(String(500))
    postal_code: Mapped[str] = mapped_column(String(10))
    commune_code: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(4))
    phone: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    sector_code: Mapped[str] = mapped_column(String(10))
    function_code: Mapped[str] = mapped_column(String(10))
    genre_code: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean)
    last_seen: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Mailbox(Base):
    __tablename__ = "directory_mailboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(Code(254), unique=True)  # lower case
    kind: Mapped[str] = mapped_column(String(3))  # PER, ORG, APP, CAB
    domain: Mapped[str] = mapped_column(Code(255), index=True)
    id_nat: Mapped[str] = mapped_column(Code(12), index=True)  # owner person, empty for a structure's box
    structure_id: Mapped[str] = mapped_column(Code(20), index=True)  # 1+FINESS, 3+SIRET, 4+SIREN
    service: Mapped[str] = mapped_column(String(200))
    civility: Mapped[str] = mapped_column(String(8))
    family: Mapped[str] = mapped_column(String(200))
    given: Mapped[str] = mapped_column(String(200))
    profession_code: Mapped[str] = mapped_column(String(4))
    profession_label: Mapped[str] = mapped_column(String(100))
    specialty_code: Mapped[str] = mapped_column(String(10))
    specialty_label: Mapped[str] = mapped_column(String(200))
    dematerialised: Mapped[bool] = mapped_column(Boolean)
    structure_name: Mapped[str] = mapped_column(String(300))
    address_lines: Mapped[str] = mapped_column(String(1000))
    postal_code: Mapped[str] = mapped_column(String(10))
    department: Mapped[str] = mapped_column(String(4))
    country: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean)
    last_seen: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Certificate(Base):
    """A mailbox's certificate for S/MIME discovery (not in the public extractions: added by the operator)."""

    __tablename__ = "directory_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(254), index=True)
    usage: Mapped[str] = mapped_column(String(16))  # encryption, signature
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(1000))
    serial: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    der: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImportRun(Base):
    """One finished import: the report, and the extraction date that later imports are compared with."""

    __tablename__ = "directory_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    extraction_date: Mapped[date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(500))
    read: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    deactivated: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Word(Base):
    """How many activity lines carry each folded word of the persons' documents, as of the last activity import.

    A planner hint only (:mod:`directory.search` drives a multi-word search by its rarest word): a stale or
    missing count changes how fast a search is, never what it returns."""

    __tablename__ = "directory_words"

    word: Mapped[str] = mapped_column(SortKey, primary_key=True)
    lines: Mapped[int] = mapped_column(Integer)


class SearchPerson(Base):
    """The search's narrow copy of the persons (active or not), stored in display order (``sort_key``).

    Rebuilt from ``directory_persons`` by each activity import that changed a person. Every search and the
    FHIR API's searches read the persons in display order and by word through this table and its word index
    (the person table has no index of its own on these columns: migration
    ``0014_directory_copy_all_persons``); searches check ``active`` on its rows. Searches that read
    their results in display order (a family name and its prefixes, common words, common filters) walk this
    table's key range and test the words on its few columns, instead of reading the wide person rows one at a
    time from all over ``directory_persons``: a walk here reads consecutive pages. SQLite keeps it as a
    ``WITHOUT ROWID`` table (one B-tree ordered by the key); PostgreSQL's heap is filled in key order.

    On SQLite an FTS5 index of each row's words (``doc`` and ``facets``), ``directory_search_fts``
    (contentless, no positions, migration ``0008_directory_search_fts``), has the row's ``pos`` as its rowid:
    its postings are in display order, so a word's rows are read in display order and a page stops early."""

    __tablename__ = "directory_search_persons"
    __table_args__ = (
        Index("ix_directory_search_persons_family", "family_norm", "sort_key"),  # rank 0: family equal to a word
        Index("ix_directory_search_persons_pos", "pos", unique=True),  # SQLite: the full-text rowid to the row
        {"sqlite_with_rowid": False},
    )

    sort_key: Mapped[str] = mapped_column(SortKey, primary_key=True)
    id: Mapped[int] = mapped_column(Integer)  # directory_persons.id
    # the row's place in display order (1, 2, ...): on SQLite the rowid of its words in directory_search_fts
    pos: Mapped[int] = mapped_column(Integer)
    family_norm: Mapped[str] = mapped_column(Code(200))  # compared byte by byte (0018_directory_search_tuning)
    doc: Mapped[str] = mapped_column(Text)
    facets: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)  # directory_persons.active
