"""Our aiosmtpd ``SMTP`` subclass: the transport-level rules aiosmtpd leaves to us.

- every reply after the greeting carries an enhanced status code (RFC 2034), via :func:`replies.enhance`;
- EHLO also advertises PIPELINING (RFC 2920) and ENHANCEDSTATUSCODES (RFC 2034), and no AUTH on the MX port;
- a connection that piles up errors is closed with ``421`` (bad-command budget);
- on implicit TLS (port 465, RFC 8314) the session counts as encrypted;
- while the server drains for shutdown, new transactions get ``421``;
- DATA is read in large pieces (:mod:`mail_gateway.smtp.data`) rather than line by line.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, AnyStr

from aiosmtpd.smtp import MISSING, SMTP

from mail_gateway.smtp import replies
from mail_gateway.smtp.data import READ_LIMIT, read_data

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# The common path ``<dot-atom@host>`` (RFC 5321 §4.1.2) parsed by a regular expression; anything else goes to
# aiosmtpd's full RFC 5322 parser, which is exact but slow (it builds a token tree for every MAIL and RCPT).
_SIMPLE_PATH = re.compile(rf"\s*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(.*)", re.DOTALL)


# aiosmtpd's own bound on a DATA line (1,000 octets and CRLF per RFC 5321 §4.5.3.1.6, plus one of slack).
MAX_DATA_LINE: int = SMTP.line_length_limit
# aiosmtpd's wording, which replies.enhance turns into our enhanced replies.
_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
_TOO_MUCH = "552 Error: Too much mail data"


class GatewaySMTP(SMTP):  # type: ignore[misc]
    # aiosmtpd sizes its stream reader with this; our DATA reader checks line lengths itself (MAX_DATA_LINE)
    # and reads large pieces, and command lines keep aiosmtpd's own explicit size checks.
    line_length_limit = READ_LIMIT

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

    async def smtp_DATA(self, arg: str | None) -> None:
        """aiosmtpd's DATA command with :func:`read_data` for the message itself."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data = await read_data(self._reader, max_size=self.data_size_limit, max_line=MAX_DATA_LINE)
        except asyncio.IncompleteReadError:  # the client went away in the middle of DATA
            self._writer.close()
            return
        except asyncio.CancelledError:
            self._writer.close()
            raise
        if data.problem is not None:
            too_long = data.problem == "too_long"
            await self.push(_TOO_LONG if too_long else _TOO_MUCH)
            self._set_post_data_state()
            return
        self.envelope.content = data.content
        self.envelope.original_content = data.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)
