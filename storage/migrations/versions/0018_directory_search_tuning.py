"""Directory, PostgreSQL: less work for the search structures an import rebuilds.

- ``directory_search_persons.family_norm`` compared byte by byte (``COLLATE "C"``): it holds folded words
  (``[a-z0-9 ]``, :func:`directory.text.fold`), and its index ``(family_norm, sort_key)``, which every import
  that changed a person builds again, sorted them through the database's libc locale, without abbreviated keys.
  Equality and ``LIKE 'prefix%'`` match the same rows under any deterministic collation, and the searches order
  by ``sort_key`` (already ``"C"``), never by this column: they return the same rows in the same order (SQLite
  compares bytes anyway). ``directory.models.Code``.
- no planner statistics on ``directory_search_postings.positions`` (``SET STATISTICS 0``): the import analyses
  the postings before it commits, and the element statistics of 30,000 sampled arrays of up to 256 positions
  were most of that; no query filters on the arrays' contents (they are read by word and position range).

Downgrade puts the default collation and statistics target back.

Revision ID: 0018_directory_search_tuning
Revises: 0017_directory_code_collation
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018_directory_search_tuning"
down_revision = "0017_directory_code_collation"
branch_labels = None
depends_on = None


def _tune(collation: str, statistics: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(f'ALTER TABLE directory_search_persons ALTER COLUMN family_norm TYPE varchar(200) COLLATE "{collation}"')
    op.execute(f"ALTER TABLE directory_search_postings ALTER COLUMN positions SET STATISTICS {statistics}")


def upgrade() -> None:
    _tune("C", 0)


def downgrade() -> None:
    _tune("default", -1)  # -1: the default target
