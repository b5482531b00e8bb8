"""Bytes in, bytes out for one connection: the framer and the session glued together, still without I/O.

``server.py`` owns the socket and the clock; it passes what it reads to :meth:`Connection.receive`, writes what
comes back, and acts on the :class:`Action` (upgrade to TLS, close, or wait in IDLE). Transcript tests drive
this same class, so they exercise everything but the socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from mail_gateway.imap.errors import ImapError
from mail_gateway.imap.handlers import selected
from mail_gateway.imap.handlers.common import Action, Reply
from mail_gateway.imap.protocol.framer import (
    NEED_DATA,
    CommandReader,
    CommandReady,
    CommandRejected,
    LineReceived,
    LiteralRequested,
)
from mail_gateway.imap.protocol.response import Continuation, Response, Status
from mail_gateway.imap.session import Session

log = structlog.get_logger(__name__)


class Connection:
    def __init__(self, session: Session, sink: Callable[[bytes], Awaitable[None]] | None = None) -> None:
        """``sink`` writes bytes to the client at once (the server); without it, output is returned by
        :meth:`receive` (transcript tests)."""
        self.session = session
        self.sink = sink
        self._out = bytearray()
        session.flush = self._flush
        self.reader = CommandReader(session.config.limits)
        self.mode = Action.NONE  # NONE, IDLE or SASL while a line is expected
        self.closed = False

    def greeting(self) -> bytes:
        return self.session.greeting().to_bytes()

    async def receive(self, data: bytes) -> tuple[bytes, Action]:
        """Feed bytes; return what to send and the action to take once it is sent."""
        self.reader.receive_data(data)
        out = self._out
        while not self.closed:
            event = self.reader.next_event()
            if event is NEED_DATA:
                break
            reply = await self._event(event)
            for response in reply.responses:
                out += response.to_bytes()
            if reply.action in (Action.IDLE, Action.SASL):
                self.mode = reply.action
                self.reader.expect_line()
            elif reply.action == Action.STARTTLS:
                # RFC 3501 §6.2.1 and RFC 2595 §3.1: plaintext pipelined after STARTTLS is discarded.
                self.reader = CommandReader(self.session.config.limits)
                return self._take(), Action.STARTTLS
            elif reply.action == Action.LOGOUT:
                self.closed = True
                self.session.close()
                return self._take(), Action.LOGOUT
        return self._take(), self.mode if self.mode == Action.IDLE else Action.NONE

    def _take(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    async def _flush(self, responses: list[Response]) -> None:
        """Send responses before the command ends (a large FETCH), so they are not all held in memory."""
        for response in responses:
            self._out += response.to_bytes()
        if self.sink is not None:
            await self.sink(self._take())

    async def _event(self, event: object) -> Reply:
        try:
            if isinstance(event, CommandReady):
                return await self.session.handle(event.command)
            if isinstance(event, LiteralRequested):
                return Reply([Continuation(b"Ready for literal")])
            if isinstance(event, CommandRejected):
                return self.session.rejected(event)
            if isinstance(event, LineReceived):
                mode, self.mode = self.mode, Action.NONE
                if mode == Action.IDLE:
                    return selected.idle_done(self.session, event.line)
                return await self.session.sasl_response(event.line)
        except ImapError as error:  # defensive: handlers already turn these into replies
            return self.session.refusal(b"*", error)
        except Exception as error:
            # Never a traceback to the client (design): log the type only, answer NO [SERVERBUG].
            log.exception("imap.internal_error", error=type(error).__name__)
            tag = event.command.tag if isinstance(event, CommandReady) else b"*"
            return Reply([Status("NO", "internal server error", "SERVERBUG", tag=tag)])
        raise AssertionError(f"unknown event {event!r}")

    async def idle_wakeup(self) -> bytes:
        """The selected folder changed during IDLE: the updates to push (RFC 2177)."""
        if self.mode != Action.IDLE:
            return b""
        try:
            responses = await selected.idle_updates(self.session)
        except ImapError as error:
            self.closed = True
            return Status("BYE", error.text, error.code).to_bytes()
        return b"".join(r.to_bytes() for r in responses)

    def close(self) -> None:
        self.closed = True
        self.session.close()
