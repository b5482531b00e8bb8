"""Directory: the ordered copy's rows numbered in display order (``pos``), and on SQLite their words indexed
by that number (``directory_search_fts``: FTS5, contentless, postings only), so that a word's rows are read in
display order and a search page stops as soon as it is full.

The copy is rebuilt here from the persons already imported (its layout changes), then by each activity import.

Revision ID: 0008_directory_search_fts
Revises: 0007_directory_search_persons
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_directory_search_fts"
down_revision = "0007_directory_search_persons"
branch_labels = None
depends_on = None

COPY = "directory_search_persons"
FTS = (
    "CREATE VIRTUAL TABLE directory_search_fts USING fts5(words, content='', detail=none, columnsize=0, "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
FTS_FILL = "INSERT INTO directory_search_fts(rowid, words) SELECT pos, doc || ' ' || facets FROM directory_search_persons"


def _copy(numbered: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        COPY,
        sa.Column("sort_key", sa.String(450).with_variant(sa.String(450, collation="C"), "postgresql"),
                  nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        *([sa.Column("pos", sa.Integer(), nullable=False)] if numbered else []),
        sa.Column("family_norm", sa.String(200), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("facets", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sort_key", name="pk_directory_search_persons"),
        sqlite_with_rowid=False,
    )
    order = "sort_key || ''" if sqlite else "sort_key"
    number = f"row_number() OVER (ORDER BY {order}), " if numbered else ""
    op.execute(f"INSERT INTO {COPY} (sort_key, id, {'pos, ' if numbered else ''}family_norm, doc, facets) "  # noqa: S608
               f"SELECT sort_key, id, {number}family_norm, doc, facets FROM directory_persons WHERE active "
               f"ORDER BY {order}")
    op.create_index("ix_directory_search_persons_family", COPY, ["family_norm", "sort_key"])
    if numbered:
        op.create_index("ix_directory_search_persons_pos", COPY, ["pos"], unique=True)
    op.execute(f"ANALYZE {COPY}")  # the searches' plans need its statistics at once


def upgrade() -> None:
    op.drop_table(COPY)
    _copy(numbered=True)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(FTS)
        op.execute(FTS_FILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS directory_search_fts")
    op.drop_table(COPY)
    _copy(numbered=False)
