"""Our aiosmtpd ``SMTP`` subclass: the transport-level rules aiosmtpd leaves to us.

- every reply after the greeting carries an enhanced status code (RFC 2034), via :func:`replies.enhance`;
- EHLO also advertises PIPELINING (RFC 2920) and ENHANCEDSTATUSCODES (RFC 2034), and no AUTH on the MX port;
- a connection that piles up errors is closed with ``421`` (bad-command budget);
- on implicit TLS (port 465, RFC 8314) the session counts as encrypted;
- while the server drains for shutdown, new transactions get ``421``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP

from mail_gateway.smtp import replies

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# The common path ``<dot-atom@host>`` (RFC 5321 §4.1.2) parsed by a regular expression; anything else goes to
# aiosmtpd's full RFC 5322 parser, which is exact but slow (it builds a token tree for every MAIL and RCPT).
_SIMPLE_PATH = re.compile(rf"\s*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(.*)", re.DOTALL)


class GatewaySMTP(SMTP):  # type: ignore[misc]
    def __init__(self, handler: Any, *, channel: str, max_bad_commands: int, implicit_tls: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        if implicit_tls:
            # The whole connection is TLS (RFC 8314), which aiosmtpd's STARTTLS-only check does not know.
            self._auth_require_tls = False
        self.channel = channel
        self.max_bad_commands = max_bad_commands
        self.implicit_tls = implicit_tls
        self._bad_commands = 0
        self._in_ehlo = False
        self._in_transaction = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.implicit_tls and self.session is not None and self.session.ssl is None:
            self.session.ssl = {"ssl_object": transport.get_extra_info("ssl_object")}

    # A transaction runs from an accepted MAIL to the end of DATA, RSET or the end of the connection; the
    # handler counts them so that a graceful shutdown lets every started transaction finish.

    def _set_transaction(self, active: bool) -> None:
        if active != self._in_transaction:
            self._in_transaction = active
            self.event_handler.in_flight += 1 if active else -1

    def _set_post_data_state(self) -> None:
        super()._set_post_data_state()  # type: ignore[no-untyped-call]
        self._set_transaction(False)

    def connection_lost(self, error: Exception | None) -> None:
        self._set_transaction(False)
        super().connection_lost(error)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = _SIMPLE_PATH.fullmatch(arg) if arg else None
        if match is not None:
            return match.group(1), match.group(2).lstrip()
        address, rest = super()._getaddr(arg)
        return address, rest

    @property
    def encrypted(self) -> bool:
        return self.implicit_tls or self._tls_protocol is not None

    async def push(self, status: AnyStr) -> None:
        text = status.decode("utf-8", "surrogateescape") if isinstance(status, bytes) else str(status)
        if not self._in_ehlo:
            text = replies.enhance(text)
        await super().push(text)
        if text[:1] == "5" and text[:3] in ("500", "501", "502", "503", "504", "535", "538", "555"):
            self._bad_commands += 1
            if self._bad_commands >= self.max_bad_commands and self.transport is not None:
                await super().push(replies.TOO_MANY_BAD_COMMANDS)
                self.transport.close()

    async def smtp_EHLO(self, hostname: str) -> None:
        self._in_ehlo = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_ehlo = False

    async def smtp_AUTH(self, arg: str) -> None:
        if self.channel == "mx":
            await self.push(replies.AUTH_NOT_ON_MX)
            return
        await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        if getattr(self.event_handler, "draining", False):
            await self.push(replies.SHUTTING_DOWN)
            if self.transport is not None:
                self.transport.close()
            return
        await super().smtp_MAIL(arg)
        if self.envelope is not None and self.envelope.mail_from is not None:
            self._set_transaction(True)
