"""SMTP listeners: MX (port 25 role), submission with STARTTLS (RFC 6409, 587 role) and implicit TLS (RFC 8314,
465 role), all on the running event loop.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from certs import TrustStore
from mail_gateway.auth import Authenticator
from mail_gateway.delivery.pipeline import DeliveryPipeline
from mail_gateway.smtp.handler import GatewayHandler
from mail_gateway.smtp.session import GatewaySMTP

# RFC 5321 §4.5.3.1.4: a command line is at most 512 octets; extensions lengthen MAIL (RFC 1870, RFC 6531).
MAX_COMMANDS_PER_CONNECTION = {"*": 2000, "NOOP": 100, "RSET": 500, "HELP": 20, "VRFY": 20, "EXPN": 10}


@dataclass
class SmtpConfig:
    host: str
    mx_port: int
    submission_port: int
    smtps_port: int
    hostname: str
    max_message_size: int
    idle_timeout: float
    max_bad_commands: int


@dataclass
class SmtpListeners:
    servers: dict[str, asyncio.Server]
    handlers: dict[str, GatewayHandler]

    def ports(self) -> dict[str, int]:
        return {name: int(server.sockets[0].getsockname()[1]) for name, server in self.servers.items()}

    def stop_accepting(self) -> None:
        for server in self.servers.values():
            server.close()
        for handler in self.handlers.values():
            handler.draining = True

    def in_flight(self) -> int:
        return sum(handler.in_flight for handler in self.handlers.values())


async def start_smtp(
    config: SmtpConfig,
    pipeline: DeliveryPipeline,
    authenticator: Authenticator,
    tls: ssl.SSLContext,
    *,
    trust: TrustStore | None = None,
) -> SmtpListeners:
    loop = asyncio.get_running_loop()
    handlers = {
        "mx": GatewayHandler(pipeline, None, "mx"),
        "submission": GatewayHandler(pipeline, authenticator, "submission"),
        "smtps": GatewayHandler(pipeline, authenticator, "submission"),
    }
    for handler in handlers.values():
        handler.trust = trust

    def factory(name: str) -> GatewaySMTP:
        common: dict[str, Any] = {
            "data_size_limit": config.max_message_size,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "hostname": config.hostname,
            "ident": "mssante-gateway ESMTP",
            "timeout": config.idle_timeout,
            "command_call_limit": MAX_COMMANDS_PER_CONNECTION,
            "max_bad_commands": config.max_bad_commands,
            "loop": loop,
            # SASL EXTERNAL (certificate login) only when the health PKI is there to check certificates.
            "auth_exclude_mechanism": [] if trust is not None else ["EXTERNAL"],
        }
        if name == "mx":
            return GatewaySMTP(handlers["mx"], channel="mx", implicit_tls=False, tls_context=tls, **common)
        if name == "submission":
            return GatewaySMTP(
                handlers["submission"], channel="submission", implicit_tls=False, tls_context=tls,
                require_starttls=True, auth_required=True, auth_require_tls=True, **common,
            )
        return GatewaySMTP(
            handlers["smtps"], channel="submission", implicit_tls=True, auth_required=True, **common,
        )

    servers = {
        "smtp_mx": await loop.create_server(lambda: factory("mx"), config.host, config.mx_port),
        "smtp_submission": await loop.create_server(
            lambda: factory("submission"), config.host, config.submission_port
        ),
        "smtps": await loop.create_server(lambda: factory("smtps"), config.host, config.smtps_port, ssl=tls),
    }
    return SmtpListeners(servers, handlers)
