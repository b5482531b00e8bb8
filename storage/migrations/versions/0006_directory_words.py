"""Directory: the word counts that let a multi-word search start from its rarest word (a planner hint).

Revision ID: 0006_directory_words
Revises: 0003_directory
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_directory_words"
down_revision = "0003_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_words",
        sa.Column("word", sa.String(450).with_variant(sa.String(450, collation="C"), "postgresql"), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("word", name="pk_directory_words"),
    )


def downgrade() -> None:
    op.drop_table("directory_words")
