"""The patient domain's handler for the delivery pipeline: the conversation rules on the SMTP paths.

Registered by the composition root for ``PATIENT_DOMAIN``. At RCPT time it refuses senders that may not write
to a patient and spaces that do not take mail (opposed, closed, unknown); after DATA it refuses a patient's
address posing as the sender; then it files the message into the patient's conversation (durably, before the
pipeline answers ``250``) and schedules the content-free notification once committed.
"""

from __future__ import annotations

import asyncio

import structlog

from mail_gateway.delivery.routing import Message, Refusal, Sender
from patient_inbox.accounts import find_by_address
from patient_inbox.conversations import Filed, facts, file_professional_message, find_thread, store_blobs
from patient_inbox.mime import ParsedMessage, parse_message
from patient_inbox.senders import SenderIdentity, identify
from patient_inbox.services import PatientServices
from patient_inbox.smtp_replies import rule_refusal, space_unavailable, unknown_patient
from policies import conversations as rules
from policies.conversations import Code, Role
from policies.patient_lifecycle import State, mail_refusal
from storage.base import utcnow
from storage.blobs import blob_name

log = structlog.get_logger(__name__)


def role_of(sender: Sender) -> Role:
    """A web principal is a patient; an authenticated mailbox has its kind; an MX peer is a trust-space operator."""
    if sender.principal is not None:
        return Role.PATIENT
    if sender.mailbox is not None:
        return rules.role_of_kind(sender.mailbox.kind)
    return Role.PROFESSIONAL


def sender_address(sender: Sender) -> str:
    if sender.mailbox is not None:
        return sender.mailbox.address
    return (sender.principal or "").lower()


class PatientDomainHandler:
    def __init__(self, services: PatientServices) -> None:
        self.services = services
        self.domain = services.patient_domain

    async def check_recipient(self, sender: Sender, recipient: str) -> Refusal | None:
        refusal = rules.check_recipient(rules.Sender(sender_address(sender), role_of(sender)), recipient, self.domain)
        if refusal is not None:
            log.info("patient.refused", code=refusal.code.value, channel=sender.channel)
            return rule_refusal(refusal)
        async with self.services.database.read() as session:
            account = await find_by_address(session, recipient)
        if account is None:
            return unknown_patient(recipient)
        closed = mail_refusal(State(account.state), account.created_at, utcnow())
        if closed is not None:
            log.info("patient.refused", code=closed.code, channel=sender.channel, account_id=account.id)
            return space_unavailable(closed)
        return None

    async def check_message(self, sender: Sender, message: Message, recipients: list[str]) -> Refusal | None:
        """Refuse mail claiming a patient as its sender (envelope or From) unless it is the web inbox's own.

        The pipeline calls this for the patient domain's recipients; it may also call it with every recipient
        for mail whose sender is in the patient domain (patient-initiated mail, extra recipients, replies to
        closed conversations on the SMTP paths): the same rules then give the same reasons as on the web.
        """
        parsed = parse_message(message.raw)
        claimed = [a.lower() for a in (message.mail_from, parsed.from_address) if a]
        patients = [a for a in claimed if rules.is_patient_address(a, self.domain)]
        if not patients:
            return await self._mx_sender_refusal(sender, parsed.from_address or message.mail_from, recipients)
        if sender.channel == "web" and sender.principal in patients:
            return None
        refusal = await self._patient_mail_refusal(patients[0], parsed, [r.lower() for r in recipients])
        log.info("patient.refused", code=refusal.code.value, channel=sender.channel)
        return rule_refusal(refusal)

    async def _mx_sender_refusal(self, sender: Sender, author: str, recipients: list[str]) -> Refusal | None:
        """Another operator's sender whose mailbox the directory knows to be neither PER, ORG nor APP (a CAB
        mailbox, say) may not write to a patient. Unknown senders of the trust space are taken as professionals."""
        if sender.mailbox is not None or sender.principal is not None or not author:
            return None
        if not any(rules.is_patient_address(r, self.domain) for r in recipients):
            return None
        identity = await self.services.directory.identify(author.lower())
        if identity is None or identity.mailbox_type is None:
            return None
        if rules.role_of_kind(identity.mailbox_type) is Role.PROFESSIONAL:
            return None
        log.info("patient.refused", code=Code.NOT_A_PROFESSIONAL.value, channel=sender.channel)
        return rule_refusal(rules.Refusal(Code.NOT_A_PROFESSIONAL))

    async def _patient_mail_refusal(
        self, patient_address: str, parsed: ParsedMessage, recipients: list[str]
    ) -> rules.Refusal:
        async with self.services.database.read() as session:
            account = await find_by_address(session, patient_address)
            conversation = (
                await find_thread(
                    session, account.id, parsed.conversation_token, parsed.in_reply_to, parsed.references
                )
                if account is not None
                else None
            )
            known = await facts(session, conversation, patient_address) if conversation is not None else None
        return rules.check_patient_mail(patient_address, recipients, known, self.domain)

    async def deliver(self, sender: Sender, message: Message, recipients: list[str]) -> None:
        parsed = parse_message(message.raw)
        author = sender.mailbox.address if sender.mailbox is not None else (parsed.from_address or message.mail_from)
        author = author.lower()
        professionals = [
            (name, address)
            for name, address in parsed.visible_recipients
            if not rules.is_patient_address(address, self.domain) and address != author
        ]
        identities: dict[str, SenderIdentity] = {
            author: await identify(self.services.directory, author, parsed.from_name)
        }
        for name, address in professionals:
            identities[address] = await identify(self.services.directory, address, name)
        now = utcnow()
        sha256 = blob_name(message.raw)
        filed: list[Filed] = []
        # blobs first (fsync'ed), outside the transaction: the writer is not held during disk flushes
        await asyncio.to_thread(store_blobs, self.services.blobs, message.raw, parsed)
        async with self.services.database.write() as session:
            for recipient in recipients:
                account = await find_by_address(session, recipient)
                if account is None:  # removed between RCPT and now: the pipeline turns this into a refusal
                    raise unknown_patient(recipient)
                filed.append(
                    await file_professional_message(
                        session,
                        patient=account,
                        sender=author,
                        identities=identities,
                        other_professionals=[address for _, address in professionals],
                        raw=message.raw,
                        parsed=parsed,
                        sha256=sha256,
                        now=now,
                    )
                )
        for item in filed:
            log.info("patient.delivered", account_id=item.patient_id, conversation_id=item.conversation_id)
            self.services.notifier.schedule(item.email, item.patient_id)
