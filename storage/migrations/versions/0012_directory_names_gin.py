"""Directory, PostgreSQL: the persons' GIN index covers their names only (``family_norm`` and ``given_norm``),
not every word of ``doc``. Every search reads words from ``directory_search_postings`` (0009); only the FHIR
API's name searches (``family``, ``given``, ``name``, over active and inactive persons) read this index, and a
third of the words makes it a third of the build (7.7 s at 2,000,000 activity lines for ``doc``).

Revision ID: 0012_directory_names_gin
Revises: 0011_directory_person_fts_words
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012_directory_names_gin"
down_revision = "0011_directory_person_fts_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_directory_persons_doc_tsv")
        op.execute("CREATE INDEX ix_directory_persons_names_tsv ON directory_persons "
                   "USING gin (to_tsvector('simple'::regconfig, family_norm || ' ' || given_norm))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_directory_persons_names_tsv")
        op.execute("CREATE INDEX ix_directory_persons_doc_tsv ON directory_persons "
                   "USING gin (to_tsvector('simple'::regconfig, doc))")
