"""Directory, PostgreSQL: the GIN index on the persons' filter tokens goes. Every search with a filter now reads
its filter tokens from ``directory_search_postings`` (0009), so the index only cost each first import the time
to build it (12 s at 2,000,000 activity lines). The persons' word index (``doc``) stays: the FHIR API and the
searches the postings cannot drive (one-letter words) use it.

Revision ID: 0010_directory_no_facets_gin
Revises: 0009_directory_search_postings
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0010_directory_no_facets_gin"
down_revision = "0009_directory_search_postings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_directory_persons_facets_tsv")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("CREATE INDEX ix_directory_persons_facets_tsv ON directory_persons "
                   "USING gin (to_tsvector('simple'::regconfig, facets))")
