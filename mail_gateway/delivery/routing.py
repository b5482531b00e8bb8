"""Who sends, what a refusal is, and the seam for domains served by another package (the patient domain).

A :class:`DomainHandler` receives the mail for one domain that is not a professional domain. The composition
root registers the patient inbox's handler for ``PATIENT_DOMAIN``; ``mail_gateway`` never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from mail_gateway.errors import DeliveryRefused
from mail_gateway.store.mailboxes import MailboxInfo

CHANNELS = ("submission", "mx", "web")


@dataclass(frozen=True)
class Sender:
    """Who is sending, as far as this server knows.

    ``mailbox`` is the authenticated local mailbox (submission); ``principal`` names any other authenticated
    actor (a patient on the web); both are None for mail from another MTA.
    """

    channel: str
    peer_ip: str = ""
    helo: str | None = None
    tls: bool = False
    mailbox: MailboxInfo | None = None
    principal: str | None = None


Refusal = DeliveryRefused


@dataclass(frozen=True)
class Message:
    """A message after DATA: the envelope, the final bytes, and its parsed top-level header fields."""

    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes
    headers: list[tuple[str, str]] = field(repr=False)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None


class DomainHandler(Protocol):
    async def check_recipient(self, sender: Sender, recipient: str) -> Refusal | None:
        """At RCPT time: may ``sender`` write to ``recipient``? None accepts."""

    async def check_message(self, sender: Sender, message: Message, recipients: list[str]) -> Refusal | None:
        """After DATA, with the headers: may this message go to these recipients of the domain?"""

    async def deliver(self, sender: Sender, message: Message, recipients: list[str]) -> None:
        """Store durably for ``recipients`` before returning (the SMTP 250 follows)."""
