"""Patients: accounts, conversations, participants, messages, attachments, web sessions.

Revision ID: 0004_patients
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision = "0004_patients"
down_revision = "0001_foundation"
branch_labels = ("patients",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ins", sa.String(15), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("family_name", sa.String(100), nullable=False),
        sa.Column("given_names", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("state_changed_at", UTCDateTime(), nullable=False),
        sa.Column("activation_code_hash", sa.String(255), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_patient_accounts"),
        sa.UniqueConstraint("ins", name="uq_patient_accounts_ins"),
        sa.UniqueConstraint("address", name="uq_patient_accounts_address"),
    )
    op.create_table(
        "patient_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_message_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("unread", sa.Integer(), nullable=False),
        sa.Column("last_author", sa.String(200), nullable=False),
        sa.Column("last_author_profession", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_patient_conversations"),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient_accounts.id"], name="fk_patient_conversations_patient_id_patient_accounts",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("token", name="uq_patient_conversations_token"),
    )
    op.create_index(
        "ix_patient_conversations_patient_last", "patient_conversations", ["patient_id", "last_message_at", "id"]
    )
    op.create_table(
        "patient_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("profession", sa.String(200), nullable=True),
        sa.Column("structure", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_patient_participants"),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["patient_conversations.id"],
            name="fk_patient_participants_conversation_id_patient_conversations", ondelete="CASCADE",
        ),
        sa.UniqueConstraint("conversation_id", "address", name="uq_patient_participants_conversation"),
    )
    op.create_table(
        "patient_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_patient_messages"),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["patient_conversations.id"],
            name="fk_patient_messages_conversation_id_patient_conversations", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["patient_participants.id"], name="fk_patient_messages_author_id_patient_participants",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_patient_messages_conversation", "patient_messages", ["conversation_id", "received_at"])
    op.create_index("ix_patient_messages_message_id", "patient_messages", ["message_id"])
    op.create_table(
        "patient_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patient_attachments"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["patient_messages.id"], name="fk_patient_attachments_message_id_patient_messages",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_patient_attachments_message_id", "patient_attachments", ["message_id"])
    op.create_table(
        "patient_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("pending_totp", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_patient_sessions"),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient_accounts.id"], name="fk_patient_sessions_patient_id_patient_accounts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_patient_sessions_patient_id", "patient_sessions", ["patient_id"])


def downgrade() -> None:
    op.drop_table("patient_sessions")
    op.drop_table("patient_attachments")
    op.drop_table("patient_messages")
    op.drop_table("patient_participants")
    op.drop_table("patient_conversations")
    op.drop_table("patient_accounts")
