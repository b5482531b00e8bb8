"""The delivery pipeline: the one path every message takes (SMTP submission, MX, and the web).

It decides (recipients, sender, headers), then stores: local professional mailboxes through the
:class:`~mail_gateway.store.mailstore.MailStore`, other served domains through their :class:`DomainHandler`.
It returns only once everything is committed, so the caller may then say ``250``. Refusals are
:class:`~mail_gateway.errors.DeliveryRefused` with their SMTP reply; the web shows the same sentence.
"""

from __future__ import annotations

import asyncio

import structlog

from mail_gateway.delivery.events import DeliveryEvent, EventBus
from mail_gateway.delivery.headers import (
    add_missing_fields,
    from_addresses,
    has_bare_line_ending,
    header_fields,
    new_queue_id,
    received_field,
)
from mail_gateway.delivery.routing import DomainHandler, Message, Refusal, Sender
from mail_gateway.delivery.smime import SmimeAnnotator
from mail_gateway.errors import DeliveryRefused
from mail_gateway.smtp import replies
from mail_gateway.store.cache import MailboxCache
from mail_gateway.store.mailboxes import MailboxInfo
from mail_gateway.store.mailstore import MailStore
from policies.addresses import normalise, split
from storage.base import utcnow

log = structlog.get_logger(__name__)


class DeliveryPipeline:
    def __init__(
        self,
        store: MailStore,
        *,
        local_domains: list[str],
        hostname: str,
        max_message_size: int,
        max_recipients: int,
        default_quota: int,
        events: EventBus | None = None,
    ) -> None:
        self.store = store
        self.database = store.database
        self.local_domains = {domain.lower() for domain in local_domains}
        self.hostname = hostname
        self.max_message_size = max_message_size
        self.max_recipients = max_recipients
        self.default_quota = default_quota
        self.events = events or EventBus()
        self.handlers: dict[str, DomainHandler] = {}
        self.mailboxes = MailboxCache(self.database)
        self.smime = SmimeAnnotator(hostname)

    def register_domain(self, domain: str, handler: DomainHandler) -> None:
        self.handlers[domain.lower()] = handler

    # Decisions ----------------------------------------------------------------------------------------

    def check_sender(self, sender: Sender, mail_from: str) -> Refusal | None:
        """RFC 6409 §6.1: on submission the envelope sender must be the authenticated mailbox."""
        if sender.channel != "submission":
            return None
        if sender.mailbox is None or normalise(mail_from) != sender.mailbox.address:
            return replies.sender_not_owned(mail_from or "<>", sender.mailbox.address if sender.mailbox else "?")
        return None

    async def _local_mailbox(self, address: str) -> MailboxInfo | None:
        return await self.mailboxes.get(address)

    async def check_recipient(self, sender: Sender, recipient: str, size: int = 0) -> Refusal | None:
        address = normalise(recipient)
        _, domain = split(address)
        if domain in self.local_domains:
            mailbox = await self._local_mailbox(address)
            if mailbox is None:
                return replies.unknown_recipient(address)
            if mailbox.state != "active":
                return replies.recipient_disabled(address)
            quota = mailbox.quota_bytes if mailbox.quota_bytes is not None else self.default_quota
            if mailbox.used_bytes + size > quota:
                return replies.mailbox_full(address)
            return None
        handler = self.handlers.get(domain)
        if handler is not None:
            return await handler.check_recipient(sender, address)
        if sender.channel == "mx":
            return replies.relay_denied(domain or "an empty domain")
        return replies.other_operators_disabled(domain or "an empty domain")

    # Delivery -----------------------------------------------------------------------------------------

    async def submit(self, sender: Sender, mail_from: str, recipients: list[str], raw: bytes) -> str:
        """Check and store ``raw`` for every recipient; return the queue id. Raises ``DeliveryRefused``."""
        if len(raw) > self.max_message_size:
            raise replies.message_too_big(self.max_message_size)
        if has_bare_line_ending(raw):
            raise replies.bare_line_ending()
        if not recipients:
            raise replies.refusal(554, "5.5.1", "No valid recipients")
        if len(recipients) > self.max_recipients:
            raise replies.too_many_recipients(self.max_recipients)
        refusal = self.check_sender(sender, mail_from)
        if refusal is not None:
            raise refusal
        original = raw
        fields = header_fields(raw)
        if not fields:
            raise replies.bad_headers("no header fields were found")
        now = utcnow()
        if sender.channel == "submission":
            assert sender.mailbox is not None
            senders = from_addresses(fields)
            if not senders or any(address != sender.mailbox.address for address in senders):
                raise replies.from_not_owned(sender.mailbox.address)
            raw = add_missing_fields(raw, fields, self.hostname, now)
        if self.smime.needs_work(fields):
            raw = await asyncio.to_thread(self.smime.annotate, raw, fields)
        if raw is not original:  # header fields were added or removed: the parse must follow
            fields = header_fields(raw)
        queue_id = new_queue_id()
        unique = list(dict.fromkeys(normalise(r) for r in recipients))
        for recipient in unique:
            refusal = await self.check_recipient(sender, recipient, len(raw))
            if refusal is not None:
                raise refusal
        protocol = {"submission": "ESMTPSA", "mx": "ESMTPS" if sender.tls else "ESMTP", "web": "HTTPS"}[sender.channel]
        trace = received_field(
            helo=sender.helo, peer_ip=sender.peer_ip or "127.0.0.1", hostname=self.hostname, protocol=protocol,
            queue_id=queue_id, recipient=unique[0] if len(unique) == 1 else None, now=now,
        )
        raw = trace + raw
        message = Message(mail_from, tuple(unique), raw, [*header_fields(trace), *fields])
        local: list[str] = []
        by_handler: dict[str, list[str]] = {}
        for recipient in unique:
            domain = split(recipient)[1]
            if domain in self.local_domains:
                local.append(recipient)
            else:
                by_handler.setdefault(domain, []).append(recipient)
        for domain, addresses in by_handler.items():
            refusal = await self.handlers[domain].check_message(sender, message, addresses)
            if refusal is not None:
                raise refusal
        await self._check_claimed_senders(sender, message, fields, unique)
        await self._store_local(sender, message, local, queue_id)
        for domain, addresses in by_handler.items():
            await self.handlers[domain].deliver(sender, message, addresses)
        log.info("delivery.accepted", queue_id=queue_id, channel=sender.channel, recipients=len(unique),
                 size=len(raw))
        return queue_id

    async def _check_claimed_senders(
        self, sender: Sender, message: Message, fields: list[tuple[str, str]], recipients: list[str]
    ) -> None:
        """Mail that claims a sender in a handler's domain (a patient) is that handler's to judge.

        Such mail may only come from the web (where the handler's own rules run first); on SMTP the handler
        sees it with every recipient, professionals included, and gives the rule it breaks (a patient never
        starts a conversation, never adds recipients, never writes into a closed one).
        """
        if sender.channel == "web":
            return
        claimed = {split(normalise(message.mail_from))[1]}
        from_text = " ".join(value for name, value in fields if name == "from").lower()
        if any(domain in from_text for domain in self.handlers):  # parse From: only when it could matter
            claimed |= {split(a)[1] for a in from_addresses(fields)}
        for domain in sorted(claimed & set(self.handlers)):
            refusal = await self.handlers[domain].check_message(sender, message, recipients)
            if refusal is not None:
                raise refusal

    async def _store_local(self, sender: Sender, message: Message, local: list[str], queue_id: str) -> None:
        if not local:
            return
        mailboxes: list[MailboxInfo] = []
        for address in local:
            mailbox = await self._local_mailbox(address)
            if mailbox is None:  # removed between the check and now
                raise replies.unknown_recipient(address)
            mailboxes.append(mailbox)
        copies = await self.store.deliver(message.raw, [m.id for m in mailboxes])
        message_id = message.header("message-id")
        for mailbox, copy in zip(mailboxes, copies, strict=True):
            self.events.publish(
                DeliveryEvent(
                    recipient=mailbox.address, mailbox_id=mailbox.id, folder_id=copy.folder_id, uid=copy.uid,
                    sha256=copy.sha256, size=copy.size, message_id=message_id, channel=sender.channel,
                )
            )


__all__ = ["DeliveryPipeline", "DeliveryRefused"]
