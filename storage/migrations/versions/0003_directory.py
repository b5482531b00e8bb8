"""Directory: persons, activities, structures, mailboxes, certificates, import log, and search structures.

SQLite gets an FTS5 table over the persons' folded words (``unicode61 remove_diacritics 2``, prefix indexes)
kept in step by triggers; PostgreSQL gets ``unaccent`` and ``pg_trgm`` and GIN indexes over the same words as
``tsvector`` (config ``simple``) plus a trigram index on mailbox addresses.

Revision ID: 0003_directory
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision = "0003_directory"
down_revision = "0001_foundation"
branch_labels = ("directory",)
depends_on = None

# (name, type, indexed); every column is NOT NULL: the extractions' empty fields are empty strings.
S = sa.String


def _sort_key() -> Any:
    return sa.String(450).with_variant(sa.String(450, collation="C"), "postgresql")


_IMPORTED: list[tuple[str, Any, bool | str]] = [("active", sa.Boolean(), False), ("last_seen", sa.Date(), False), ("updated_at", UTCDateTime(), False)]

TABLES: dict[str, list[tuple[str, Any, bool | str]]] = {
    "directory_persons": [
        ("id_nat", S(12), "unique"), ("id_type", S(2), False), ("id_pp", S(12), True), ("civility", S(8), False),
        ("title", S(8), False), ("family", S(200), False), ("given", S(200), False), ("family_norm", S(200), False),
        ("given_norm", S(200), False), ("sort_key", _sort_key(), False), ("profession_code", S(4), False),
        ("profession_label", S(100), False), ("category_code", S(4), False), ("specialties", sa.Text(), False),
        ("doc", sa.Text(), False), ("facets", sa.Text(), False), *_IMPORTED,
    ],
    "directory_structures": [
        ("key", S(40), "unique"), ("name", S(300), False), ("name_norm", S(300), False), ("siret", S(14), False),
        ("siren", S(9), False), ("finess_site", S(9), True), ("finess_legal", S(9), False),
        ("technical_id", S(40), False), ("address", S(500), False), ("address_complement", S(500), False),
        ("postal_code", S(10), False), ("commune_code", S(10), False), ("city", S(200), False),
        ("department", S(4), False), ("phone", S(40), False), ("sector_code", S(10), False), *_IMPORTED,
    ],
    "directory_activities": [
        ("key", S(40), "unique"), ("id_nat", S(12), True), ("structure_key", S(40), True), ("mode_code", S(4), False),
        ("specialty_code", S(10), False), ("specialty_label", S(200), False), ("siret", S(14), False),
        ("siren", S(9), False), ("finess_site", S(9), False), ("finess_legal", S(9), False),
        ("technical_id", S(40), False), ("structure_name", S(300), False), ("address", S(500), False),
        ("address_complement", S(500), False), ("postal_code", S(10), False), ("commune_code", S(10), False),
        ("city", S(200), False), ("department", S(4), False), ("phone", S(40), False), ("email", S(254), False),
        ("sector_code", S(10), False), ("function_code", S(10), False), ("genre_code", S(10), False), *_IMPORTED,
    ],
    "directory_mailboxes": [
        ("address", S(254), "unique"), ("kind", S(3), False), ("domain", S(255), True), ("id_nat", S(12), True),
        ("structure_id", S(20), True), ("service", S(200), False), ("civility", S(8), False),
        ("family", S(200), False), ("given", S(200), False), ("profession_code", S(4), False),
        ("profession_label", S(100), False), ("specialty_code", S(10), False), ("specialty_label", S(200), False),
        ("dematerialised", sa.Boolean(), False), ("structure_name", S(300), False),
        ("address_lines", S(1000), False), ("postal_code", S(10), False), ("department", S(4), False),
        ("country", S(60), False), *_IMPORTED,
    ],
    "directory_certificates": [
        ("address", S(254), True), ("usage", S(16), False), ("sha256", S(64), "unique"),
        ("subject", S(1000), False), ("serial", S(64), False), ("not_before", UTCDateTime(), False),
        ("not_after", UTCDateTime(), False), ("der", sa.LargeBinary(), False), ("active", sa.Boolean(), False),
        ("added_at", UTCDateTime(), False),
    ],
    "directory_imports": [
        ("kind", S(16), False), ("extraction_date", sa.Date(), False), ("file_name", S(500), False),
        ("read", sa.Integer(), False), ("inserted", sa.Integer(), False), ("updated", sa.Integer(), False),
        ("deactivated", sa.Integer(), False), ("rejected", sa.Integer(), False),
        ("finished_at", UTCDateTime(), False),
    ],
}

_FTS_DELETE = (
    "INSERT INTO directory_person_fts(directory_person_fts, rowid, doc, facets) "
    "VALUES ('delete', old.id, old.doc, old.facets);"
)
_FTS_INSERT = "INSERT INTO directory_person_fts(rowid, doc, facets) VALUES (new.id, new.doc, new.facets);"
_FTS_TRIGGERS = (
    f"CREATE TRIGGER directory_persons_fts_insert AFTER INSERT ON directory_persons BEGIN {_FTS_INSERT} END",
    f"CREATE TRIGGER directory_persons_fts_delete AFTER DELETE ON directory_persons BEGIN {_FTS_DELETE} END",
    "CREATE TRIGGER directory_persons_fts_update AFTER UPDATE OF doc, facets ON directory_persons "
    f"BEGIN {_FTS_DELETE} {_FTS_INSERT} END",
)


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            *(sa.Column(name, kind, nullable=False) for name, kind, _ in columns),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            *(sa.UniqueConstraint(name, name=f"uq_{table}_{name}") for name, _, how in columns if how == "unique"),
        )
        for name, _, how in columns:
            if how is True:
                op.create_index(f"ix_{table}_{name}", table, [name])
    op.create_index("ix_directory_persons_family_sort", "directory_persons", ["family_norm", "sort_key"])
    op.create_index("ix_directory_persons_sort_key", "directory_persons", ["sort_key", "family_norm", "active"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE directory_person_fts USING fts5(doc, facets, content='directory_persons', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
        )
        for statement in _FTS_TRIGGERS:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_directory_persons_doc_tsv ON directory_persons "
            "USING gin (to_tsvector('simple'::regconfig, doc))"
        )
        op.execute(
            "CREATE INDEX ix_directory_persons_facets_tsv ON directory_persons "
            "USING gin (to_tsvector('simple'::regconfig, facets))"
        )
        op.execute(
            "CREATE INDEX ix_directory_mailboxes_address_trgm ON directory_mailboxes USING gin (address gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS directory_persons_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS directory_person_fts")
    for table in reversed(TABLES):
        op.drop_table(table)
