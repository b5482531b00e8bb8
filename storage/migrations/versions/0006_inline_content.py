"""Small message contents are kept in the database row itself (``message_contents.inline_data``).

A message of up to ``MailStore.inline_max`` octets is committed with its row, in the same transaction: no file,
no file-system barrier. Larger ones stay in the blob store; existing rows (all file-backed) are unchanged.

Revision ID: 0006_inline_content
Revises: 0005_expunged_modseq
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_inline_content"
down_revision = "0005_expunged_modseq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("message_contents", sa.Column("inline_data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_contents") as batch:
        batch.drop_column("inline_data")
