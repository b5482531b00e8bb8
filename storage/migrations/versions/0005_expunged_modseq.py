"""Index expunged UIDs by folder and MODSEQ: QRESYNC VANISHED and change queries filter on ``modseq > ?``.

Revision ID: 0005_expunged_modseq
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0005_expunged_modseq"
down_revision = "0001_foundation"
branch_labels = ("mailstore_indexes",)
depends_on = None


def upgrade() -> None:
    op.create_index("ix_expunged_uids_folder_modseq", "expunged_uids", ["folder_id", "modseq"])


def downgrade() -> None:
    op.drop_index("ix_expunged_uids_folder_modseq", table_name="expunged_uids")
