"""A patient's reply from the web: checked by the same conversation rules, sent through the same pipeline.

The patient chooses among the conversation's participants (by participant id, never by address) and cannot
type an address at all; a forged form naming anyone else is refused by :func:`policies.conversations
.check_patient_reply` exactly as the SMTP side would refuse it. The message is threaded for the
professional's mail client (RFC 5322 §3.6.4: In-Reply-To and References) and carries our conversation header.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from mail_gateway.delivery.routing import Sender
from mail_gateway.errors import DeliveryRefused
from patient_inbox.conversations import (
    conversation_messages,
    facts,
    get_conversation,
    participants,
    record_patient_message,
)
from patient_inbox.errors import ReplyInvalid, ReplyRefused
from patient_inbox.mime import display_address, parse_message
from patient_inbox.models import PatientAccount
from patient_inbox.services import PatientServices
from policies.conversations import CONVERSATION_HEADER, Code, Refusal, check_patient_reply

MAX_REFERENCES = 20  # keep References bounded; the first and the newest ids are the ones clients use
MAX_FILENAME = 200


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def _reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith(("re:", "re :")) else f"Re: {subject}"


def check_form(text: str, uploads: list[Upload], services: PatientServices) -> None:
    limits = services.settings
    if not text.strip() and not uploads:
        raise ReplyInvalid("Écrivez un message ou joignez un fichier avant d'envoyer.")
    if len(text) > limits.reply_max_text:
        raise ReplyInvalid(f"Le message est trop long : {limits.reply_max_text} caractères au plus.")
    if len(uploads) > limits.reply_max_attachments:
        raise ReplyInvalid(f"Vous pouvez joindre {limits.reply_max_attachments} fichiers au plus.")
    total = len(text.encode()) + sum(len(u.data) for u in uploads)
    if total > limits.reply_max_bytes:
        raise ReplyInvalid(
            f"Les pièces jointes sont trop lourdes : {limits.reply_max_bytes // (1024 * 1024)} Mo au plus en tout."
        )


def compose(
    *,
    patient: PatientAccount,
    recipients: list[tuple[str, str]],
    subject: str,
    token: str,
    thread_ids: list[str],
    text: str,
    uploads: list[Upload],
    now: datetime,
    domain: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = display_address(f"{patient.given_names} {patient.family_name}", patient.address)
    message["To"] = ", ".join(display_address(name, address) for name, address in recipients)
    message["Subject"] = _reply_subject(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{secrets.token_hex(16)}@{domain}>"
    if thread_ids:
        message["In-Reply-To"] = thread_ids[-1]
        kept = thread_ids
        if len(kept) > MAX_REFERENCES:
            kept = [thread_ids[0], *thread_ids[-(MAX_REFERENCES - 1) :]]
        message["References"] = " ".join(kept)
    message[CONVERSATION_HEADER] = token
    message.set_content(text or "", subtype="plain", charset="utf-8")
    for upload in uploads:
        maintype, _, subtype = upload.content_type.partition("/")
        if not maintype or not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        name = upload.filename.replace("/", "_").replace("\\", "_")[:MAX_FILENAME] or "piece-jointe"
        message.add_attachment(upload.data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=SMTP)  # CRLF line endings (RFC 5322 §2.3)


async def send_reply(
    services: PatientServices,
    *,
    patient: PatientAccount,
    conversation_id: int,
    participant_ids: list[int],
    text: str,
    uploads: list[Upload],
    peer_ip: str,
    now: datetime,
) -> None:
    """Check, send through the pipeline, then keep the reply in the conversation. Raises ReplyRefused/Invalid."""
    async with services.database.read() as session:
        conversation = await get_conversation(session, patient.id, conversation_id)
        people = {p.id: p for p in await participants(session, conversation.id)}
        rules_facts = await facts(session, conversation, patient.address)
        thread_ids = [m.message_id for m in await conversation_messages(session, conversation.id) if m.message_id]
    unknown = [pid for pid in participant_ids if pid not in people]
    chosen = [people[pid].address for pid in participant_ids if pid in people]
    refusal: Refusal | None = (
        Refusal(Code.EXTRA_RECIPIENT)
        if unknown
        else check_patient_reply(patient.address, chosen, rules_facts, services.patient_domain)
    )
    if refusal is not None:
        raise ReplyRefused(refusal.code.value, refusal.sentence)
    check_form(text, uploads, services)
    recipients = [(people[pid].display_name, people[pid].address) for pid in dict.fromkeys(participant_ids)]
    raw = compose(
        patient=patient,
        recipients=recipients,
        subject=conversation.subject,
        token=conversation.token,
        thread_ids=thread_ids,
        text=text,
        uploads=uploads,
        now=now,
        domain=services.patient_domain,
    )
    sender = Sender(channel="web", peer_ip=peer_ip, tls=True, principal=patient.address)
    try:
        await services.pipeline.submit(sender, patient.address, [address for _, address in recipients], raw)
    except DeliveryRefused as error:
        raise ReplyRefused("delivery-refused", f"Le message n'a pas pu être remis : {error.text}") from error
    parsed = parse_message(raw)
    await asyncio.to_thread(services.blobs.put_many, [raw, *(u.data for u in uploads)])
    async with services.database.write() as session:
        current = await get_conversation(session, patient.id, conversation_id)
        await record_patient_message(session, conversation=current, raw=raw, parsed=parsed, now=now)

