"""Tables of the mail store: mailboxes, folders, stored message contents and their per-folder instances.

Designed for IMAP (RFC 3501, RFC 7162): each folder has its UIDVALIDITY, next UID and highest MODSEQ; each
message instance has its UID, flags, MODSEQ and internal date; expunged UIDs are remembered with the MODSEQ of
their removal for QRESYNC's VANISHED. A message sent to several local recipients is one content row and one
blob, referenced by one instance per recipient folder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow


class Mailbox(Base):
    """A local mailbox (BAL). Address and kind never change after creation."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    kind: Mapped[str] = mapped_column(String(3))  # PER, ORG, APP
    owner_id: Mapped[str] = mapped_column(String(32))  # idNat_PS for PER, structure id for ORG/APP
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="active")  # active, suspended
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: the configured default
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Folder(Base):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("mailbox_id", "name", name="uq_folders_mailbox_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512))  # UTF-8, "/" as hierarchy delimiter
    special_use: Mapped[str | None] = mapped_column(String(32), nullable=True)  # RFC 6154: \Sent, \Drafts ...
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uidnext: Mapped[int] = mapped_column(BigInteger, default=1)
    highestmodseq: Mapped[int] = mapped_column(BigInteger, default=1)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MessageContent(Base):
    """One stored message (immutable, named by its SHA-256) and its cached parse.

    Its bytes are in ``inline_data`` for a small message, else in the blob store under ``sha256``.
    """

    __tablename__ = "message_contents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    structure: Mapped[dict[str, Any]] = mapped_column(JSON)
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    inline_data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)


class FolderMessage(Base):
    """A message as it appears in one folder (RFC 3501 §2.3)."""

    __tablename__ = "folder_messages"
    __table_args__ = (
        UniqueConstraint("folder_id", "uid", name="uq_folder_messages_folder_uid"),
        Index("ix_folder_messages_folder_modseq", "folder_id", "modseq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    content_id: Mapped[int] = mapped_column(ForeignKey("message_contents.id"), index=True)
    flags: Mapped[str] = mapped_column(String(2000), default="")  # space-separated, sorted
    modseq: Mapped[int] = mapped_column(BigInteger)
    internal_date: Mapped[datetime] = mapped_column(UTCDateTime())


class ExpungedUid(Base):
    """A UID removed from a folder, kept for QRESYNC VANISHED (RFC 7162 §3.2.10)."""

    __tablename__ = "expunged_uids"
    __table_args__ = (Index("ix_expunged_uids_folder_modseq", "folder_id", "modseq"),)

    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    modseq: Mapped[int] = mapped_column(BigInteger)
