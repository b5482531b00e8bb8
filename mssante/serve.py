"""``mssante serve``: every listener in one process, with a graceful stop on SIGTERM.

Start-up refuses a database whose schema is not current (run ``mssante init``), removes blob temporaries a
crash may have left, binds every port (port 0 picks a free one), writes the bound ports to
``<data_dir>/ports.json`` and logs them. On SIGTERM or SIGINT it stops accepting, lets transactions in flight
finish (up to ``shutdown_grace`` seconds), flushes the mail store and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

import structlog
import uvicorn

from mail_gateway.imap.protocol.limits import Limits
from mail_gateway.imap.server import ImapConfig, start_imap
from mail_gateway.imap.sql_store import SqlImapStore
from mail_gateway.smtp.server import SmtpConfig, start_smtp
from mssante.runtime import Runtime, attach_health_pki, build_runtime, refresh_trust_forever
from mssante.settings import Settings
from mssante.web import create_app
from patient_inbox.handler import PatientDomainHandler
from patient_inbox.services import PatientServices
from storage.migrate import is_current

log = structlog.get_logger(__name__)


class NotInitialised(RuntimeError):
    pass


def _write_ports(settings: Settings, ports: dict[str, int]) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.ports_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({**ports, "host": settings.listen_host, "pid": os.getpid()}, indent=2) + "\n")
    os.replace(tmp, settings.ports_file)


def settle_heap() -> None:
    """Once every listener is up: collect, then freeze the start-up heap (:func:`gc.freeze`).

    Everything built at start-up (modules, the app and its routes, SQLAlchemy and pydantic structures) lives
    until exit; left in the collector's oldest generation, each full pass walks all of it again, stopping every
    request for about 100 ms every few seconds under load. Frozen, a full pass walks only what came later.
    """
    gc.collect()
    gc.freeze()


def _http_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP; without
    # it, every response written in two parts (headers, then body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def serve(
    settings: Settings,
    *,
    on_ready: Callable[[dict[str, int]], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, or until ``stop`` is set when the caller provides it (tests, embedding)."""
    runtime = build_runtime(settings)
    if not await is_current(runtime.database):
        await runtime.database.dispose()
        raise NotInitialised("the database schema is not current: run `mssante init` first")
    removed = await asyncio.to_thread(runtime.blobs.remove_temporaries)
    if removed:
        log.warning("blobs.temporaries_removed", count=removed)
    runtime.store.start()
    trust = await attach_health_pki(runtime)
    refresher = asyncio.create_task(refresh_trust_forever(runtime)) if trust is not None else None
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    smtp = await start_smtp(
        SmtpConfig(
            host=settings.listen_host,
            mx_port=settings.smtp_mx_port,
            submission_port=settings.smtp_submission_port,
            smtps_port=settings.smtps_port,
            hostname=settings.hostname,
            max_message_size=settings.max_message_size,
            idle_timeout=settings.smtp_idle_timeout,
            max_bad_commands=settings.smtp_max_bad_commands,
        ),
        runtime.pipeline,
        runtime.authenticator,
        runtime.tls,
        trust=trust,
    )
    ports = smtp.ports()
    extra_servers: list[asyncio.Server] = []
    # imap: start the IMAP listeners here and add their ports
    imap = await start_imap(
        ImapConfig(
            host=settings.listen_host,
            port=settings.imap_port,
            tls_port=settings.imaps_port,
            hostname=settings.hostname,
            max_message_size=settings.max_message_size,
            loopback_is_secure=settings.loopback_is_secure,
            limits=Limits(max_literal=settings.max_message_size),
        ),
        SqlImapStore(runtime.database, runtime.blobs, runtime.store, runtime.notifier,
                     default_quota=settings.default_quota_bytes),
        runtime.authenticator,
        runtime.tls,
    )
    ports.update(imap.ports())
    imap.close_on(stop)  # says BYE to its clients when the gateway stops
    # patients: register the patient domain handler and delivery listeners here
    patients = PatientServices.build(database=runtime.database, blobs=runtime.blobs, pipeline=runtime.pipeline,
                                     patient_domain=settings.patient_domain, data_dir=settings.data_dir)
    runtime.pipeline.register_domain(settings.patient_domain, PatientDomainHandler(patients))

    app = create_app(settings, runtime.database)
    app.state.runtime = runtime
    http_sock = _http_socket(settings.listen_host, settings.http_port)
    ports["http"] = int(http_sock.getsockname()[1])
    http = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    http_task = asyncio.create_task(http.serve(sockets=[http_sock]))

    _write_ports(settings, ports)
    log.info("serve.listening", host=settings.listen_host, **ports)
    if on_ready is not None:
        on_ready(ports)
    try:
        await stop.wait()
    finally:
        if refresher is not None:
            refresher.cancel()
        await _shutdown(runtime, smtp_stop=smtp.stop_accepting, in_flight=smtp.in_flight, others=extra_servers,
                        http=http, http_task=http_task)


async def _shutdown(
    runtime: Runtime,
    *,
    smtp_stop: Callable[[], None],
    in_flight: Callable[[], int],
    others: list[asyncio.Server],
    http: uvicorn.Server,
    http_task: asyncio.Task[Any],
) -> None:
    log.info("serve.stopping", in_flight=in_flight())
    smtp_stop()
    for server in others:
        server.close()
    deadline = asyncio.get_running_loop().time() + runtime.settings.shutdown_grace
    while in_flight() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - counters of many handlers
        await asyncio.sleep(0.05)
    http.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(http_task, timeout=5)
    await runtime.close()
    with contextlib.suppress(FileNotFoundError):
        runtime.settings.ports_file.unlink()
    log.info("serve.stopped")
