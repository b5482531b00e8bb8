"""Directory: the search's narrow copy of the active persons in display order (``directory_search_persons``).

Searches that read their results in ``sort_key`` order walk this table instead of reading wide person rows at
random. It is filled here from the persons already imported, then rebuilt by each activity import.

Revision ID: 0007_directory_search_persons
Revises: 0006_directory_words
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_directory_search_persons"
down_revision = "0006_directory_words"
branch_labels = None
depends_on = None

FILL = (
    "INSERT INTO directory_search_persons (sort_key, id, family_norm, doc, facets) "
    "SELECT sort_key, id, family_norm, doc, facets FROM directory_persons WHERE active ORDER BY sort_key"
)


def upgrade() -> None:
    op.create_table(
        "directory_search_persons",
        sa.Column("sort_key", sa.String(450).with_variant(sa.String(450, collation="C"), "postgresql"),
                  nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_norm", sa.String(200), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("facets", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sort_key", name="pk_directory_search_persons"),
        sqlite_with_rowid=False,
    )
    op.execute(FILL)
    op.create_index("ix_directory_search_persons_family", "directory_search_persons", ["family_norm", "sort_key"])


def downgrade() -> None:
    op.drop_table("directory_search_persons")
