"""The objects the patient side shares between its SMTP handler and its web pages.

Built by the composition root (``mssante``) with the pipeline it owns; ``patient_inbox`` never builds a
pipeline itself, so the web replies go through exactly the path SMTP uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from directory.resolve import Resolver
from mail_gateway.delivery.pipeline import DeliveryPipeline
from patient_inbox.config import PatientSettings
from patient_inbox.keys import SEALING_KEY, load_key
from patient_inbox.notify import Notifier
from patient_inbox.senders import Directory, MailboxDirectory, ProfessionalDirectory
from patient_inbox.views import BodyViews
from patient_inbox.web.sessions import SessionCache
from policies.rate_limits import FailureWindow
from storage.base import utcnow
from storage.blobs import BlobStore
from storage.engine import Database


@dataclass
class PatientServices:
    database: Database
    blobs: BlobStore
    pipeline: DeliveryPipeline
    patient_domain: str
    data_dir: Path
    settings: PatientSettings
    directory: Directory
    notifier: Notifier
    ip_failures: FailureWindow  # anonymous attempts (login, activation, opposition) per client IP
    bodies: BodyViews
    sealing_key: bytes  # seals TOTP secrets at rest (patient_inbox.keys)
    web_sessions: SessionCache  # logged-in web sessions read in the last few seconds
    clock: Callable[[], datetime] = utcnow  # the time of each web request (tests move it forward)

    @classmethod
    def build(
        cls,
        *,
        database: Database,
        blobs: BlobStore,
        pipeline: DeliveryPipeline,
        patient_domain: str,
        data_dir: Path,
        settings: PatientSettings | None = None,
        directory: Directory | None = None,
    ) -> PatientServices:
        settings = settings or PatientSettings()
        sender = settings.notify_from or f"ne-pas-repondre@{patient_domain}"
        return cls(
            database=database,
            blobs=blobs,
            pipeline=pipeline,
            patient_domain=patient_domain,
            data_dir=data_dir,
            settings=settings,
            directory=directory or ProfessionalDirectory(Resolver(database), MailboxDirectory(database)),
            notifier=Notifier(settings.notify_smarthost, sender, settings.public_url),
            ip_failures=FailureWindow(settings.patient_ip_failures, settings.patient_ip_window),
            bodies=BodyViews(blobs),
            sealing_key=load_key(data_dir, SEALING_KEY),
            web_sessions=SessionCache(settings.patient_session_cache),
        )
