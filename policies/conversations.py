"""Conversation rules between professionals and patients (pure: facts in, a decision out).

The rules (DOMAIN.md, "Message rules"):

- only a professional mailbox (PER, ORG, APP) opens a conversation with a patient; a patient never writes to
  another patient;
- a patient only replies, inside an open conversation a professional opened, to its participants, and never adds
  recipients;
- the professional ends the conversation with ``X-MSS-MES: FIN`` or the exact subject ``[FIN]``; after that the
  patient cannot reply. A professional writing again in a closed thread opens a new conversation: closing is
  final, so the patient is never surprised by a conversation that comes back to life.

A conversation is found from our own header (:data:`CONVERSATION_HEADER`) first, then from ``In-Reply-To`` and
``References`` (newest first): :func:`thread_candidates` gives the message ids to look up, the caller looks them
up among the patient's own conversations only.

Refusals carry a stable ``code`` (for logs and tests), an SMTP-friendly meaning through the code, and a French
sentence a patient understands (the same sentence is shown on the web and sent in the SMTP reply).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

CONVERSATION_HEADER = "x-mssante-conversation"  # our own header, value: the conversation's opaque token
PROFESSIONAL_KINDS = frozenset({"PER", "ORG", "APP"})
FIN = "FIN"  # X-MSS-MES value that closes the conversation (DOMAIN.md)
FIN_SUBJECT = "[FIN]"  # the older convention: the subject is exactly this
MAX_REFERENCES = 100  # bound the ids we try to look up from a References header

_MSG_ID = re.compile(r"<([^<>\s]{1,995})>")


class Role(StrEnum):
    PROFESSIONAL = "professional"
    PATIENT = "patient"
    OTHER = "other"  # e.g. a CAB mailbox or anything that is neither: it may not open a conversation


class Code(StrEnum):
    PATIENT_CANNOT_START = "patient-cannot-start"
    PATIENT_TO_PATIENT = "patient-to-patient"
    NOT_A_PROFESSIONAL = "not-a-professional"
    EXTRA_RECIPIENT = "extra-recipient"
    NO_RECIPIENT = "no-recipient"
    CONVERSATION_CLOSED = "conversation-closed"
    PATIENT_WEB_ONLY = "patient-web-only"


SENTENCES: dict[Code, str] = {
    Code.PATIENT_CANNOT_START: (
        "Un patient ne peut pas commencer une conversation : il peut seulement répondre à un message "
        "qu'un professionnel de santé lui a envoyé."
    ),
    Code.PATIENT_TO_PATIENT: "Un patient ne peut pas écrire à un autre patient.",
    Code.NOT_A_PROFESSIONAL: (
        "Seule une messagerie de professionnel de santé (personnelle, organisationnelle ou applicative) "
        "peut écrire à un patient."
    ),
    Code.EXTRA_RECIPIENT: (
        "Vous pouvez répondre uniquement aux participants de la conversation, sans ajouter de destinataire."
    ),
    Code.NO_RECIPIENT: "Choisissez au moins un participant de la conversation à qui répondre.",
    Code.CONVERSATION_CLOSED: (
        "Cette conversation a été clôturée par le professionnel de santé : il n'est plus possible d'y répondre."
    ),
    Code.PATIENT_WEB_ONLY: (
        "Un patient répond depuis sa messagerie santé en ligne : un message à son nom venant d'ailleurs est refusé."
    ),
}


@dataclass(frozen=True)
class Refusal:
    code: Code

    @property
    def sentence(self) -> str:
        return SENTENCES[self.code]


@dataclass(frozen=True)
class Sender:
    address: str
    role: Role


@dataclass(frozen=True)
class ConversationFacts:
    """What the rules need to know of an existing conversation."""

    patient: str  # the patient's address
    professionals: frozenset[str]  # addresses of the professional participants
    open: bool


@dataclass(frozen=True)
class Filing:
    """Where a professional's message goes for one patient recipient."""

    join_existing: bool  # False: open a new conversation
    close_after: bool  # the message ends the conversation (FIN)
    participants: frozenset[str]  # professional addresses on the conversation after this message


def role_of_kind(kind: str) -> Role:
    """The role of a local mailbox of type ``kind``."""
    return Role.PROFESSIONAL if kind in PROFESSIONAL_KINDS else Role.OTHER


def is_patient_address(address: str, patient_domain: str) -> bool:
    return address.rpartition("@")[2].lower().rstrip(".") == patient_domain.lower()


def is_closing(mss_mes: str | None, subject: str | None) -> bool:
    """``X-MSS-MES: FIN`` (case-insensitive, surrounding space ignored) or the subject exactly ``[FIN]``."""
    if mss_mes is not None and mss_mes.strip().upper() == FIN:
        return True
    return subject is not None and subject.strip() == FIN_SUBJECT


def message_ids(value: str | None, limit: int = MAX_REFERENCES) -> list[str]:
    """The ``<msg-id>`` values of an ``In-Reply-To`` or ``References`` field (RFC 5322 §3.6.4), in order."""
    if not value:
        return []
    return [f"<{match}>" for match in _MSG_ID.findall(value)][:limit]


def thread_candidates(in_reply_to: str | None, references: str | None) -> list[str]:
    """Message ids to look a conversation up by, most specific first: In-Reply-To, then References newest first."""
    seen: list[str] = []
    for candidate in [*message_ids(in_reply_to), *reversed(message_ids(references))]:
        if candidate not in seen:
            seen.append(candidate)
    return seen[:MAX_REFERENCES]


def check_recipient(sender: Sender, recipient: str, patient_domain: str) -> Refusal | None:
    """At RCPT time: may ``sender`` write to the patient ``recipient`` at all?"""
    if not is_patient_address(recipient, patient_domain):
        return None
    if sender.role is Role.PATIENT or is_patient_address(sender.address, patient_domain):
        return Refusal(Code.PATIENT_TO_PATIENT)
    if sender.role is not Role.PROFESSIONAL:
        return Refusal(Code.NOT_A_PROFESSIONAL)
    return None


def file_professional_message(
    sender: Sender,
    other_professionals: Iterable[str],
    existing: ConversationFacts | None,
    *,
    closing: bool,
) -> Filing:
    """Where a professional's message to one patient goes.

    ``other_professionals`` are the professional addresses among the message's visible recipients (To, Cc):
    they are on the conversation with the sender. ``existing`` is the conversation the threading headers point
    to among this patient's conversations, if any.
    """
    added = frozenset({sender.address, *other_professionals})
    if existing is not None and existing.open:
        return Filing(True, closing, existing.professionals | added)
    return Filing(False, closing, added)


def check_patient_mail(
    patient: str,
    recipients: Sequence[str],
    conversation: ConversationFacts | None,
    patient_domain: str,
) -> Refusal:
    """Mail claiming to come from a patient that did not come through the web inbox (SMTP, another MTA).

    It is always refused (patients have no SMTP access), with the most useful reason: the rule it breaks if it
    breaks one, else the fact that patients reply from the web inbox only.
    """
    return check_patient_reply(patient, recipients, conversation, patient_domain) or Refusal(Code.PATIENT_WEB_ONLY)


def check_patient_reply(
    patient: str,
    recipients: Sequence[str],
    conversation: ConversationFacts | None,
    patient_domain: str,
) -> Refusal | None:
    """May ``patient`` send this message to ``recipients``? ``conversation`` is what its threading points to."""
    if any(is_patient_address(recipient, patient_domain) for recipient in recipients):
        return Refusal(Code.PATIENT_TO_PATIENT)
    if conversation is None or conversation.patient != patient:
        return Refusal(Code.PATIENT_CANNOT_START)
    if not conversation.open:
        return Refusal(Code.CONVERSATION_CLOSED)
    if not recipients:
        return Refusal(Code.NO_RECIPIENT)
    if any(recipient not in conversation.professionals for recipient in recipients):
        return Refusal(Code.EXTRA_RECIPIENT)
    return None
