"""Foundation: mailboxes, folders, message contents and instances, expunged UIDs.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mailboxes"),
        sa.UniqueConstraint("address", name="uq_mailboxes_address"),
    )
    op.create_table(
        "folders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("special_use", sa.String(32), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uidnext", sa.BigInteger(), nullable=False),
        sa.Column("highestmodseq", sa.BigInteger(), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_folders"),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name="fk_folders_mailbox_id_mailboxes", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("mailbox_id", "name", name="uq_folders_mailbox_name"),
    )
    op.create_index("ix_folders_mailbox_id", "folders", ["mailbox_id"])
    op.create_table(
        "message_contents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("structure", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_contents"),
        sa.UniqueConstraint("sha256", name="uq_message_contents_sha256"),
    )
    op.create_index("ix_message_contents_message_id", "message_contents", ["message_id"])
    op.create_table(
        "folder_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folder_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("content_id", sa.Integer(), nullable=False),
        sa.Column("flags", sa.String(2000), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.Column("internal_date", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_folder_messages"),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["folders.id"], name="fk_folder_messages_folder_id_folders", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["content_id"], ["message_contents.id"], name="fk_folder_messages_content_id_message_contents"
        ),
        sa.UniqueConstraint("folder_id", "uid", name="uq_folder_messages_folder_uid"),
    )
    op.create_index("ix_folder_messages_folder_modseq", "folder_messages", ["folder_id", "modseq"])
    op.create_index("ix_folder_messages_content_id", "folder_messages", ["content_id"])
    op.create_table(
        "expunged_uids",
        sa.Column("folder_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("folder_id", "uid", name="pk_expunged_uids"),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["folders.id"], name="fk_expunged_uids_folder_id_folders", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("expunged_uids")
    op.drop_table("folder_messages")
    op.drop_table("message_contents")
    op.drop_table("folders")
    op.drop_table("mailboxes")
