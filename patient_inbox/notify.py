"""Content-free notification emails to the patient's personal address.

The message says only that something new is waiting and where to read it: no sender, no subject, no health
data, because personal mailboxes are outside the trust space. It goes through the configured relay
(``NOTIFY_SMARTHOST``) after the delivery committed, in the background: a relay that is down delays a
notification, never a delivery. Failures are logged with the account id only.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import structlog

from storage.base import utcnow

log = structlog.get_logger(__name__)

SUBJECT = "Nouveau message dans votre messagerie santé"
TIMEOUT = 30.0


def notification(to: str, sender: str, public_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: no auto-replies to this
    where = f" : {public_url}" if public_url else "."
    message.set_content(
        "Bonjour,\n\n"
        "Un nouveau message vous attend dans votre messagerie santé. Pour le lire, connectez-vous à votre "
        f"espace{where}\n\n"
        "Par sécurité, ce courriel ne contient aucune information sur le message.\n"
        "Ceci est un envoi automatique : merci de ne pas y répondre.\n"
    )
    return message


class Notifier:
    def __init__(self, smarthost: str, sender: str, public_url: str = "") -> None:
        host, _, port = smarthost.rpartition(":")
        self.host = host or smarthost
        self.port = int(port) if host and port.isdigit() else 25
        self.enabled = bool(smarthost)
        self.sender = sender
        self.public_url = public_url
        self._pending: set[asyncio.Task[None]] = set()

    def _send(self, to: str) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT) as client:
            client.send_message(notification(to, self.sender, self.public_url))

    async def send(self, to: str, account_id: int) -> None:
        try:
            await asyncio.to_thread(self._send, to)
        except (OSError, smtplib.SMTPException) as error:
            log.warning("patient.notify_failed", account_id=account_id, error=type(error).__name__)
        else:
            log.info("patient.notified", account_id=account_id)

    def schedule(self, to: str, account_id: int) -> None:
        """Send in the background (the delivery has already committed)."""
        if not self.enabled:
            return
        task = asyncio.create_task(self.send(to, account_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*tuple(self._pending), return_exceptions=True)
