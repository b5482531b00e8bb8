"""PKI: the registry of certificates issued by our CAs, with their revocation status.

Revision ID: 0002_pki
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision = "0002_pki"
down_revision = "0001_foundation"
branch_labels = ("pki",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pki_certificates",
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("ca", sa.String(16), nullable=False),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(32), nullable=True),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("serial", name="pk_pki_certificates"),
    )
    op.create_index("ix_pki_certificates_ca_status", "pki_certificates", ["ca", "status"])
    op.create_index("ix_pki_certificates_owner_id", "pki_certificates", ["owner_id"])


def downgrade() -> None:
    op.drop_table("pki_certificates")
