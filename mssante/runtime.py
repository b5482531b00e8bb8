"""The objects one gateway process shares: database, blob store, mail store, pipeline, authenticator, TLS.

Built once by :func:`build_runtime` for ``mssante serve`` (and by tests that want the same wiring).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from certs.devca import ensure_dev_tls
from certs.tls import server_context
from mail_gateway.auth import Authenticator
from mail_gateway.delivery.events import EventBus
from mail_gateway.delivery.pipeline import DeliveryPipeline
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.notify import InProcessNotifier
from mssante.settings import Settings
from storage.blobs import BlobStore
from storage.engine import Database


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

    async def close(self) -> None:
        await self.store.close()
        await self.events.drain()
        await self.database.dispose()


def tls_context(settings: Settings) -> ssl.SSLContext:
    if settings.tls_cert and settings.tls_key:
        return server_context(settings.tls_cert, settings.tls_key, client_ca=settings.tls_client_ca)
    dev = ensure_dev_tls(settings.tls_dir, [settings.hostname, *settings.domains])
    return server_context(dev.cert, dev.key, client_ca=settings.tls_client_ca)


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
    )
    return Runtime(settings, database, blobs, notifier, store, events, pipeline, authenticator, tls_context(settings))
