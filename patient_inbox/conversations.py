"""Conversations of a patient: filing professionals' messages, the inbox, reading, and recording replies.

Filing follows :mod:`policies.conversations`: the threading headers are looked up among *this patient's*
conversations only (our header first, then In-Reply-To and References), so a forged token or reference can
never attach a message to someone else's conversation. Message and attachment bytes are written as blobs before
the transaction that refers to them commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from patient_inbox.errors import NotFound
from patient_inbox.mime import ParsedMessage
from patient_inbox.models import Attachment, Conversation, Participant, PatientAccount, PatientMessage
from patient_inbox.senders import SenderIdentity
from policies import conversations as rules
from policies.conversations import ConversationFacts, Role, Sender, is_closing, thread_candidates
from storage.blobs import BlobStore, blob_name
from storage.engine import Database

NO_SUBJECT = "(sans objet)"


@dataclass(frozen=True)
class Filed:
    patient_id: int
    conversation_id: int
    email: str  # the patient's personal address, for the notification


async def find_thread(
    session: AsyncSession, patient_id: int, token: str | None, in_reply_to: str | None, references: str | None
) -> Conversation | None:
    if token:
        found = await session.scalar(
            select(Conversation).where(Conversation.patient_id == patient_id, Conversation.token == token.strip())
        )
        if found is not None:
            return found
    candidates = thread_candidates(in_reply_to, references)
    if not candidates:
        return None
    rows = (
        await session.execute(
            select(PatientMessage.message_id, Conversation)
            .join(Conversation, Conversation.id == PatientMessage.conversation_id)
            .where(Conversation.patient_id == patient_id, PatientMessage.message_id.in_(candidates))
        )
    ).all()
    by_id = {message_id: conversation for message_id, conversation in rows}
    for candidate in candidates:
        if candidate in by_id:
            return by_id[candidate]
    return None


async def participants(session: AsyncSession, conversation_id: int) -> list[Participant]:
    return list(
        (
            await session.scalars(
                select(Participant).where(Participant.conversation_id == conversation_id).order_by(Participant.id)
            )
        ).all()
    )


async def facts(session: AsyncSession, conversation: Conversation, patient_address: str) -> ConversationFacts:
    people = await participants(session, conversation.id)
    return ConversationFacts(
        patient_address, frozenset(p.address for p in people), open=conversation.state == "open"
    )


async def _add_with_attachments(session: AsyncSession, message: PatientMessage, parsed: ParsedMessage) -> None:
    """Add ``message`` and one row per attachment of ``parsed``, in order (their bytes are blobs)."""
    session.add(message)
    await session.flush()
    for position, attachment in enumerate(parsed.attachments):
        session.add(
            Attachment(
                message_id=message.id,
                position=position,
                filename=attachment.filename,
                content_type=attachment.content_type[:255],
                size=len(attachment.data),
                sha256=blob_name(attachment.data),
            )
        )


def store_blobs(blobs: BlobStore, raw: bytes, parsed: ParsedMessage) -> None:
    """Write the message and its attachments durably; call it before the transaction that refers to them."""
    blobs.put_many([raw, *(a.data for a in parsed.attachments)])


async def file_professional_message(
    session: AsyncSession,
    *,
    patient: PatientAccount,
    sender: str,
    identities: dict[str, SenderIdentity],
    other_professionals: list[str],
    raw: bytes,
    parsed: ParsedMessage,
    sha256: str,
    now: datetime,
) -> Filed:
    """File one professional's message for one patient, in the caller's transaction (blobs already stored)."""
    existing = await find_thread(
        session, patient.id, parsed.conversation_token, parsed.in_reply_to, parsed.references
    )
    existing_facts = await facts(session, existing, patient.address) if existing is not None else None
    filing = rules.file_professional_message(
        Sender(sender, Role.PROFESSIONAL),
        other_professionals,
        existing_facts,
        closing=is_closing(parsed.mss_mes, parsed.subject),
    )
    author_identity = identities[sender]
    if filing.join_existing and existing is not None:
        conversation = existing
        known = {p.address for p in await participants(session, conversation.id)}
    else:
        conversation = Conversation(
            patient_id=patient.id,
            token=secrets.token_urlsafe(24),
            subject=parsed.subject or NO_SUBJECT,
            state="open",
            created_at=now,
            last_message_at=now,
            unread=0,
            last_author=author_identity.name,
            last_author_profession=author_identity.profession,
        )
        session.add(conversation)
        await session.flush()
        known = set()
    for address in sorted(filing.participants):
        identity = identities.get(address)
        if address in known or identity is None:
            continue
        row = Participant(
            conversation_id=conversation.id,
            address=address,
            display_name=identity.name,
            profession=identity.profession,
            structure=identity.structure,
        )
        session.add(row)
    await session.flush()
    author_id = await session.scalar(
        select(Participant.id).where(Participant.conversation_id == conversation.id, Participant.address == sender)
    )
    message = PatientMessage(
        conversation_id=conversation.id,
        author_id=author_id,
        message_id=parsed.message_id,
        sha256=sha256,
        size=len(raw),
        subject=parsed.subject or NO_SUBJECT,
        received_at=now,
    )
    await _add_with_attachments(session, message, parsed)
    conversation.unread += 1
    conversation.last_message_at = now
    conversation.last_author = author_identity.name
    conversation.last_author_profession = author_identity.profession
    if filing.close_after:
        conversation.state = "closed"
        conversation.closed_at = now
    await session.flush()
    return Filed(patient.id, conversation.id, patient.email)


# Reading --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxEntry:
    id: int
    subject: str
    author: str
    profession: str | None
    last_message_at: datetime
    unread: int
    open: bool


@dataclass(frozen=True)
class InboxPage:
    entries: list[InboxEntry]
    page: int
    pages: int
    total: int


_PATIENT_CONVERSATIONS = Conversation.patient_id == bindparam("patient_id")
_NEWEST_FIRST = (Conversation.last_message_at.desc(), Conversation.id.desc())
_COUNT = select(func.count()).select_from(Conversation).where(_PATIENT_CONVERSATIONS)
_COLUMNS = (
    Conversation.id,
    Conversation.subject,
    Conversation.last_author,
    Conversation.last_author_profession,
    Conversation.last_message_at,
    Conversation.unread,
    Conversation.state,
    _COUNT.scalar_subquery().label("total"),
)
_LIMIT, _OFFSET = bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)
_PAGE = select(*_COLUMNS).where(_PATIENT_CONVERSATIONS).order_by(*_NEWEST_FIRST).limit(_LIMIT).offset(_OFFSET)
_PAGE_IDS = (
    select(Conversation.id)
    .where(_PATIENT_CONVERSATIONS)
    .order_by(*_NEWEST_FIRST)
    .limit(_LIMIT)
    .offset(_OFFSET)
    .subquery("page")
)
_PAGE_DEFERRED = (
    select(*_COLUMNS).join_from(_PAGE_IDS, Conversation, Conversation.id == _PAGE_IDS.c.id).order_by(*_NEWEST_FIRST)
)
# Both built once: SQLAlchemy then finds their compiled forms in its cache without rebuilding them. SQLite reads a
# whole row for each skipped one under OFFSET, so there the page's ids come first from the index (which holds
# patient_id, last_message_at and id: skipping reads no row), then its 20 rows by primary key: 2-3 times faster
# on the later pages. PostgreSQL's index scan skips cheaply already and planned the join worse (measured).


async def inbox_page(database: Database, patient_id: int, page: int, per_page: int = 20) -> InboxPage:
    """One page of the inbox, newest first: a range scan of ``ix_patient_conversations_patient_last`` (it
    matches the ORDER BY); the total, an uncorrelated subquery over the same index, comes in the same statement
    (:meth:`Database.rows`: one round trip). Past the last page, the last page is shown instead."""
    page = max(1, page)
    for attempt in range(2):
        params = {"patient_id": patient_id, "limit": per_page, "offset": (page - 1) * per_page}
        rows = await database.rows(_PAGE_DEFERRED if database.sqlite else _PAGE, params)
        if rows or page == 1 or attempt:
            break
        [(count,)] = await database.rows(_COUNT, {"patient_id": patient_id})
        page = max(1, -(-int(count) // per_page))
    total = int(rows[0][7]) if rows else 0
    pages = max(1, -(-total // per_page))
    entries = [InboxEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6] == "open") for r in rows]
    return InboxPage(entries, page, pages, total)


@dataclass(frozen=True, slots=True)
class ThreadPerson:
    id: int
    display_name: str
    profession: str | None
    structure: str | None


@dataclass(frozen=True, slots=True)
class ThreadFile:
    id: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    id: int
    author_id: int | None  # None: the patient wrote it
    sha256: str
    received_at: datetime
    files: list[ThreadFile]


@dataclass(frozen=True, slots=True)
class Thread:
    """What the conversation page shows: the conversation, its professionals, its messages and their files."""

    id: int
    subject: str
    state: str
    unread: int
    people: list[ThreadPerson]
    messages: list[ThreadMessage]


MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger one from a URL matches nothing
_THREAD_ID = bindparam("conversation_id", type_=Integer)
_THREAD_HEAD = (
    select(
        Conversation.id, Conversation.subject, Conversation.state, Conversation.unread,
        Participant.id, Participant.display_name, Participant.profession, Participant.structure,
    )
    .outerjoin_from(Conversation, Participant, Participant.conversation_id == Conversation.id)
    .where(Conversation.id == _THREAD_ID, _PATIENT_CONVERSATIONS)
    .order_by(Participant.id)
)
_THREAD_MESSAGES = (
    select(
        PatientMessage.id, PatientMessage.author_id, PatientMessage.sha256, PatientMessage.received_at,
        Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size,
    )
    .outerjoin_from(PatientMessage, Attachment, Attachment.message_id == PatientMessage.id)
    .where(PatientMessage.conversation_id == _THREAD_ID)
    .order_by(PatientMessage.received_at, PatientMessage.id, Attachment.position)
)


async def read_thread(database: Database, patient_id: int, conversation_id: int) -> Thread:
    """The conversation page's data in two statements (:meth:`Database.rows`: one round trip each): the
    conversation with its professionals, only if it is this patient's (else :class:`NotFound`, the web's 404),
    then its messages with their attachments, oldest first. The second statement runs only once the first has
    found the conversation to be the patient's. Each statement is its own snapshot: a message that arrives in
    between shows at the next visit."""
    if not 0 < conversation_id <= MAX_ID:  # an id from a URL no row can have (the database would refuse it)
        raise NotFound("Cette conversation n'existe pas.")
    head = await database.rows(_THREAD_HEAD, {"conversation_id": conversation_id, "patient_id": patient_id})
    if not head:
        raise NotFound("Cette conversation n'existe pas.")
    people = [ThreadPerson(r[4], r[5], r[6], r[7]) for r in head if r[4] is not None]
    messages: list[ThreadMessage] = []
    for row in await database.rows(_THREAD_MESSAGES, {"conversation_id": conversation_id}):
        if not messages or messages[-1].id != row[0]:
            messages.append(ThreadMessage(row[0], row[1], row[2], row[3], []))
        if row[4] is not None:
            messages[-1].files.append(ThreadFile(row[4], row[5], row[6], row[7]))
    first = head[0]
    return Thread(first[0], first[1], first[2], first[3], people, messages)


async def get_conversation(session: AsyncSession, patient_id: int, conversation_id: int) -> Conversation:
    """The conversation if it is this patient's; anything else is :class:`NotFound` (the web's 404)."""
    if not 0 < conversation_id <= MAX_ID:
        raise NotFound("Cette conversation n'existe pas.")
    row = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.patient_id == patient_id)
    )
    if row is None:
        raise NotFound("Cette conversation n'existe pas.")
    return row


async def conversation_messages(session: AsyncSession, conversation_id: int) -> list[PatientMessage]:
    return list(
        (
            await session.scalars(
                select(PatientMessage)
                .where(PatientMessage.conversation_id == conversation_id)
                .order_by(PatientMessage.received_at, PatientMessage.id)
            )
        ).all()
    )


async def attachments_of(session: AsyncSession, message_ids: list[int]) -> dict[int, list[Attachment]]:
    result: dict[int, list[Attachment]] = {mid: [] for mid in message_ids}
    if not message_ids:
        return result
    rows = await session.scalars(
        select(Attachment).where(Attachment.message_id.in_(message_ids)).order_by(Attachment.position)
    )
    for row in rows:
        result[row.message_id].append(row)
    return result


async def mark_read(session: AsyncSession, conversation_id: int, now: datetime) -> None:
    await session.execute(
        update(PatientMessage)
        .where(PatientMessage.conversation_id == conversation_id, PatientMessage.read_at.is_(None))
        .values(read_at=now)
    )
    await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(unread=0))


async def get_attachment(session: AsyncSession, patient_id: int, attachment_id: int) -> Attachment:
    if not 0 < attachment_id <= MAX_ID:
        raise NotFound("Cette pièce jointe n'existe pas.")
    row = await session.scalar(
        select(Attachment)
        .join(PatientMessage, PatientMessage.id == Attachment.message_id)
        .join(Conversation, Conversation.id == PatientMessage.conversation_id)
        .where(Attachment.id == attachment_id, Conversation.patient_id == patient_id)
    )
    if row is None:
        raise NotFound("Cette pièce jointe n'existe pas.")
    return row


async def record_patient_message(
    session: AsyncSession,
    *,
    conversation: Conversation,
    raw: bytes,
    parsed: ParsedMessage,
    now: datetime,
) -> PatientMessage:
    """Keep the patient's own reply in the conversation (its blobs are already stored by the pipeline call)."""
    message = PatientMessage(
        conversation_id=conversation.id,
        author_id=None,
        message_id=parsed.message_id,
        sha256=blob_name(raw),
        size=len(raw),
        subject=parsed.subject or NO_SUBJECT,
        received_at=now,
        read_at=now,
    )
    await _add_with_attachments(session, message, parsed)
    conversation.last_message_at = now
    await session.flush()
    return message
