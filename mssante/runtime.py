"""The objects one gateway process shares: database, blob store, mail store, pipeline, authenticator, TLS.

Built once by :func:`build_runtime` for ``mssante serve`` (and by tests that want the same wiring).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

import structlog

from certs import TrustStore
from certs.devca import ensure_dev_tls
from certs.tls import server_context
from mail_gateway.auth import Authenticator
from mail_gateway.delivery.events import EventBus
from mail_gateway.delivery.pipeline import DeliveryPipeline
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.notify import InProcessNotifier
from mssante.pki_store import ca_bundle_file, load_trust, pki_dir, refresh_trust
from mssante.settings import Settings
from storage.blobs import BlobStore
from storage.engine import Database

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    blobs: BlobStore
    notifier: InProcessNotifier
    store: MailStore
    events: EventBus
    pipeline: DeliveryPipeline
    authenticator: Authenticator
    tls: ssl.SSLContext
    trust: TrustStore | None = None

    async def close(self) -> None:
        await self.store.close()
        await self.events.drain()
        await self.database.dispose()


def tls_context(settings: Settings, client_ca: Path | None = None) -> ssl.SSLContext:
    """The listeners' TLS context; with a client CA bundle, clients may present a certificate (SASL EXTERNAL)."""
    client_ca = client_ca or settings.tls_client_ca
    if settings.tls_cert and settings.tls_key:
        return server_context(settings.tls_cert, settings.tls_key, client_ca=client_ca)
    dev = ensure_dev_tls(settings.tls_dir, [settings.hostname, *settings.domains])
    return server_context(dev.cert, dev.key, client_ca=client_ca)


async def attach_health_pki(runtime: Runtime) -> TrustStore | None:
    """When the health PKI exists (``mssante pki init``), verify S/MIME on delivery and accept certificate logins.

    The TLS context then asks clients for an optional certificate from the PKI's CA bundle.
    """
    settings = runtime.settings
    if not (pki_dir(settings) / "config.json").exists():
        return None
    trust = await load_trust(settings, runtime.database)
    runtime.trust = trust
    runtime.tls = tls_context(settings, client_ca=ca_bundle_file(settings))
    runtime.pipeline.smime.trust = trust
    return trust


async def refresh_trust_forever(runtime: Runtime, every: float = 60.0) -> None:
    """Pick up new revocations (``mssante pki revoke``) without a restart."""
    while runtime.trust is not None:
        await asyncio.sleep(every)
        try:
            await refresh_trust(runtime.trust, runtime.settings, runtime.database)
        except Exception as error:  # a failed refresh keeps the previous revocations; say so
            log.warning("pki.refresh_failed", error=type(error).__name__)


def build_runtime(settings: Settings) -> Runtime:
    database = Database(settings.effective_database_url)
    blobs = BlobStore(settings.blob_dir)
    notifier = InProcessNotifier()
    store = MailStore(database, blobs, notifier)
    events = EventBus()
    pipeline = DeliveryPipeline(
        store,
        local_domains=settings.domains,
        hostname=settings.hostname,
        max_message_size=settings.max_message_size,
        max_recipients=settings.max_recipients,
        default_quota=settings.default_quota_bytes,
        events=events,
    )
    authenticator = Authenticator(
        database,
        max_failures=settings.auth_max_failures,
        failure_window=settings.auth_failure_window,
        patient_domain=settings.patient_domain,
        mailboxes=pipeline.mailboxes,
    )
    return Runtime(settings, database, blobs, notifier, store, events, pipeline, authenticator, tls_context(settings))
