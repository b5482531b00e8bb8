"""aiosmtpd handler hooks. Each stays a few lines long and delegates to the delivery pipeline."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import structlog
from aiosmtpd.smtp import MISSING, AuthResult, Envelope, Session

from certs import TrustStore, tls_login
from mail_gateway.auth import Authenticator, certificate_outcome
from mail_gateway.delivery.pipeline import DeliveryPipeline
from mail_gateway.delivery.routing import Sender
from mail_gateway.errors import DeliveryRefused
from mail_gateway.smtp import replies
from mail_gateway.smtp.session import GatewaySMTP
from mail_gateway.store.mailboxes import MailboxInfo

log = structlog.get_logger(__name__)


def _declared_size(options: list[str]) -> int:
    for option in options:
        key, _, value = option.partition("=")
        if key.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


class GatewayHandler:
    def __init__(self, pipeline: DeliveryPipeline, authenticator: Authenticator | None, channel: str) -> None:
        self.pipeline = pipeline
        self.authenticator = authenticator
        self.channel = channel
        self.trust: TrustStore | None = None  # set when the health PKI is available: enables AUTH EXTERNAL
        self.in_flight = 0  # open SMTP transactions (MAIL accepted, DATA not finished); see GatewaySMTP
        self.draining = False

    def sender(self, server: GatewaySMTP, session: Session) -> Sender:
        mailbox = session.auth_data if isinstance(session.auth_data, MailboxInfo) else None
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        return Sender(self.channel, peer_ip=peer, helo=session.host_name, tls=server.encrypted, mailbox=mailbox)

    async def handle_EHLO(
        self, server: GatewaySMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        lines = [line for line in responses[:-1] if not (self.channel == "mx" and line.startswith("250-AUTH"))]
        return [*lines, "250-PIPELINING", "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_MAIL(
        self, server: GatewaySMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.pipeline.check_sender(self.sender(server, session), address)
        if refusal is not None:
            return refusal.reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.SENDER_OK

    async def handle_RCPT(
        self, server: GatewaySMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.pipeline.max_recipients:
            return replies.too_many_recipients(self.pipeline.max_recipients).reply
        size = _declared_size(envelope.mail_options)
        refusal = await self.pipeline.check_recipient(self.sender(server, session), address, size)
        if refusal is not None:
            return refusal.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: GatewaySMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            queue_id = await self.pipeline.submit(
                self.sender(server, session), envelope.mail_from or "", list(envelope.rcpt_tos), raw
            )
        except DeliveryRefused as refusal:
            log.info("smtp.refused", channel=self.channel, code=refusal.enhanced)
            return refusal.reply
        except Exception as error:
            log.exception("smtp.store_failed", channel=self.channel, error=type(error).__name__)
            return replies.TEMPORARY_FAILURE
        return replies.accepted(queue_id)

    # SASL (RFC 4954). Argon2 runs off the event loop inside the authenticator.

    async def _login(self, server: GatewaySMTP, login: bytes, password: bytes) -> AuthResult:
        if self.authenticator is None:
            return AuthResult(success=False, handled=False)
        session = server.session
        assert session is not None
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        outcome = await self.authenticator.verify_password(
            login.decode("utf-8", "replace"), password.decode("utf-8", "surrogateescape"), peer
        )
        if outcome.ok:
            return AuthResult(success=True, auth_data=outcome.mailbox)
        code = "454 4.7.0" if outcome.reason == "throttled" else "535 5.7.8"
        return AuthResult(success=False, handled=False, message=f"{code} Authentication failed: {outcome.message}")

    async def auth_PLAIN(self, server: GatewaySMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 The AUTH PLAIN argument is not valid base64")
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00") if isinstance(blob, bytes) else []
        if len(parts) != 3:
            await server.push("501 5.5.2 AUTH PLAIN expects authzid NUL login NUL password (RFC 4616)")
            return AuthResult(success=False, handled=True)
        return await self._login(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: GatewaySMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login: Any = await server.challenge_auth("Username:")
        else:
            try:
                login = base64.b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 The AUTH LOGIN argument is not valid base64")
                return AuthResult(success=False, handled=True)
        if login is MISSING:
            return AuthResult(success=False, handled=True)
        password: Any = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password)

    async def auth_EXTERNAL(self, server: GatewaySMTP, args: list[str]) -> AuthResult:
        """RFC 4422 Appendix A over the TLS client certificate; the optional argument is the authzid."""
        if self.trust is None:
            await server.push("504 5.5.4 Certificate login is not enabled on this server")
            return AuthResult(success=False, handled=True)
        authzid = ""
        if len(args) > 1 and args[1] != "=":
            try:
                authzid = base64.b64decode(args[1].encode(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 The AUTH EXTERNAL argument is not valid base64")
                return AuthResult(success=False, handled=True)
        session = server.session
        assert session is not None
        ssl_info = session.ssl if isinstance(session.ssl, dict) else {}
        login = tls_login(ssl_info.get("ssl_object"), self.trust)
        outcome = await certificate_outcome(self.pipeline.database, login, authzid or None)
        if outcome.ok:
            return AuthResult(success=True, auth_data=outcome.mailbox)
        log.info("smtp.certificate_refused", reason=outcome.reason)
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 Authentication failed: {outcome.message}")
