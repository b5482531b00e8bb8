"""Tables of the patient side: accounts, conversations, participants, messages, attachments, web sessions.

Message bodies and attachments are immutable blobs (content-addressed, see :mod:`storage.blobs`); rows refer to
them by SHA-256. Every row that a patient can reach hangs off ``patient_accounts.id`` so each query is scoped
by the patient: another patient's id simply finds nothing (the web answers 404).

The inbox page reads only ``patient_conversations`` (denormalised last author, unread count and last date), so
listing stays one indexed range scan whatever the number of messages.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime


class PatientAccount(Base):
    __tablename__ = "patient_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ins: Mapped[str] = mapped_column(String(15), unique=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_names: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    email: Mapped[str] = mapped_column(String(320))  # personal address for content-free notifications
    state: Mapped[str] = mapped_column(String(16))  # policies.patient_lifecycle.State
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activation_code_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # RFC 6238 §5.2: no replay
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Conversation(Base):
    __tablename__ = "patient_conversations"
    __table_args__ = (Index("ix_patient_conversations_patient_last", "patient_id", "last_message_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient_accounts.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)  # value of our X-MSSante-Conversation header
    subject: Mapped[str] = mapped_column(String(998))
    state: Mapped[str] = mapped_column(String(8))  # open, closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unread: Mapped[int] = mapped_column(Integer, default=0)
    last_author: Mapped[str] = mapped_column(String(200))
    last_author_profession: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Participant(Base):
    """A professional on a conversation. The address never reaches the patient's pages."""

    __tablename__ = "patient_participants"
    __table_args__ = (UniqueConstraint("conversation_id", "address", name="uq_patient_participants_conversation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("patient_conversations.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    profession: Mapped[str | None] = mapped_column(String(200), nullable=True)
    structure: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PatientMessage(Base):
    __tablename__ = "patient_messages"
    __table_args__ = (Index("ix_patient_messages_conversation", "conversation_id", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("patient_conversations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("patient_participants.id", ondelete="SET NULL"), nullable=True
    )  # None: written by the patient
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True, index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(998))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Attachment(Base):
    __tablename__ = "patient_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("patient_messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class WebSession(Base):
    """A server-side web session; the cookie holds a random token, the row its SHA-256 (a stolen table is no key).

    ``stage`` is ``enrol`` between the activation code and the second factor, ``full`` once logged in.
    """

    __tablename__ = "patient_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient_accounts.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pending_totp: Mapped[str | None] = mapped_column(String(64), nullable=True)
