"""IMAP listeners on asyncio streams: port 2143 role with STARTTLS, port 2993 role with implicit TLS
(RFC 8314). The only module that knows sockets, TLS and the clock.

- Plaintext connections advertise ``LOGINDISABLED`` (RFC 3501 §6.2.3) unless they come from loopback and
  ``loopback_is_secure`` is set (as Dovecot does), so local tools and benchmarks can log in.
- Inactivity: ``unauthenticated_timeout`` before login, ``idle_timeout`` (30 minutes, RFC 3501 §5.4) after,
  also during IDLE (RFC 2177 §3: clients re-issue IDLE within 29 minutes).
- During IDLE the connection waits on the client and on the selected folder's change notifications at once, so
  a delivery is pushed as soon as it commits.
- Any unexpected error closes the connection with ``* BYE``; a traceback only ever goes to the server log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from mail_gateway.imap.connection import Connection
from mail_gateway.imap.handlers.common import Action, State
from mail_gateway.imap.protocol.limits import Limits
from mail_gateway.imap.protocol.response import Status
from mail_gateway.imap.session import Config, PasswordVerifier, Session
from mail_gateway.imap.store import ImapStore

log = structlog.get_logger(__name__)

READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int  # STARTTLS
    tls_port: int  # implicit TLS
    hostname: str
    max_message_size: int
    loopback_is_secure: bool = True
    limits: Limits = field(default_factory=Limits)


@dataclass
class ImapListeners:
    servers: dict[str, asyncio.Server]
    connections: set[asyncio.Task[None]] = field(default_factory=set)
    closing: bool = False
    closer: asyncio.Task[None] | None = None

    def ports(self) -> dict[str, int]:
        return {name: int(server.sockets[0].getsockname()[1]) for name, server in self.servers.items()}

    def stop_accepting(self) -> None:
        for server in self.servers.values():
            server.close()

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting, tell every client ``* BYE``, and wait for the connections to end."""
        self.closing = True
        self.stop_accepting()
        for task in list(self.connections):
            task.cancel()
        if self.connections:
            await asyncio.wait(list(self.connections), timeout=grace)

    def close_on(self, event: asyncio.Event) -> None:
        """Close (BYE to every client) once ``event`` is set; for the composition root's stop event."""

        async def wait_then_close() -> None:
            await event.wait()
            await self.close()

        self.closer = asyncio.create_task(wait_then_close(), name="imap-close")


async def start_imap(
    config: ImapConfig, store: ImapStore, verifier: PasswordVerifier, tls: ssl.SSLContext
) -> ImapListeners:
    listeners = ImapListeners({})
    session_config = Config(hostname=config.hostname, limits=config.limits, max_message_size=config.max_message_size)

    def handler(implicit_tls: bool) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            listeners.connections.add(task)
            try:
                await _serve(reader, writer, implicit_tls, config, session_config, store, verifier, tls)
            finally:
                listeners.connections.discard(task)

        return serve

    # RFC 3501 §6.2.1 STARTTLS on the plain port; RFC 8314 §3.3 implicit TLS on the other.
    plain = await asyncio.start_server(handler(False), config.host, config.port, limit=READ_SIZE)
    secure = await asyncio.start_server(
        handler(True),
        config.host,
        config.tls_port,
        ssl=tls,
        limit=READ_SIZE,
        ssl_handshake_timeout=30,
    )
    listeners.servers = {"imap": plain, "imaps": secure}
    return listeners


def _is_loopback(peer: object) -> bool:
    host = peer[0] if isinstance(peer, tuple) and peer else ""
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


async def _serve(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    implicit_tls: bool,
    config: ImapConfig,
    session_config: Config,
    store: ImapStore,
    verifier: PasswordVerifier,
    tls: ssl.SSLContext,
) -> None:
    peer = writer.get_extra_info("peername")
    remote_ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
    loopback_secure = config.loopback_is_secure and _is_loopback(peer)
    session = Session(
        store,
        verifier,
        session_config,
        secure=implicit_tls or loopback_secure,
        tls_active=implicit_tls,
        starttls_available=not implicit_tls,
        remote_ip=remote_ip,
    )

    async def sink(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    connection = Connection(session, sink)
    read_task: asyncio.Task[bytes] | None = None
    watch_task: asyncio.Task[object | None] | None = None
    try:
        writer.write(connection.greeting())
        await writer.drain()
        while not connection.closed:
            limits = session_config.limits
            timeout = (
                limits.unauthenticated_timeout if session.state == State.NOT_AUTHENTICATED else limits.idle_timeout
            )
            if read_task is None:
                read_task = asyncio.ensure_future(reader.read(READ_SIZE))
            waiting: set[asyncio.Future[Any]] = {read_task}
            if connection.mode == Action.IDLE and session.view is not None:
                if watch_task is None:
                    watch_task = asyncio.ensure_future(session.view.watch.wait())
                waiting.add(watch_task)
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                writer.write(Status("BYE", "autologout: idle for too long").to_bytes())  # RFC 3501 §5.4
                break
            if watch_task is not None and watch_task in done:
                watch_task = None
                writer.write(await connection.idle_wakeup())
                await writer.drain()
            if read_task not in done:
                continue
            data = read_task.result()
            read_task = None
            if not data:
                break
            out, action = await connection.receive(data)
            if out:
                writer.write(out)
                await writer.drain()
            if action == Action.STARTTLS:
                # RFC 3501 §6.2.1 / RFC 2595 §3.1: plaintext the client sent after STARTTLS and before the
                # handshake must not be taken as protected input (command injection). The connection layer
                # dropped what it had; bytes still in the stream buffer mean a misbehaving client: close.
                if getattr(reader, "_buffer", b""):
                    break
                await writer.start_tls(tls, ssl_handshake_timeout=30)
                session.tls_active = True
                session.secure = True
            elif action == Action.LOGOUT:
                break
            if connection.mode != Action.IDLE and watch_task is not None:
                watch_task.cancel()
                watch_task = None
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            writer.write(Status("BYE", "server shutting down").to_bytes())
            await asyncio.wait_for(writer.drain(), 1)
    except (ConnectionError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError):
        pass
    except Exception as error:
        log.exception("imap.connection_failed", error=type(error).__name__)
        with contextlib.suppress(Exception):
            writer.write(Status("BYE", "internal server error", "SERVERBUG").to_bytes())
    finally:
        for task in (read_task, watch_task):
            if task is not None:
                task.cancel()
        connection.close()
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2)
