"""Factories for the patient side: a wired pipeline with the patient handler, professionals, patients, mail."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pyotp

from mail_gateway.delivery.pipeline import DeliveryPipeline
from mail_gateway.delivery.routing import Sender
from mail_gateway.passwords import hash_password
from mail_gateway.store.mailboxes import MailboxInfo, create_mailbox
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.notify import InProcessNotifier
from patient_inbox.accounts import create_account
from patient_inbox.config import PatientSettings
from patient_inbox.credentials import TOTP_STEP
from patient_inbox.handler import PatientDomainHandler
from patient_inbox.services import PatientServices
from policies.ins import with_key
from storage.blobs import BlobStore
from storage.engine import Database

PATIENT_DOMAIN = "patient.mssante.localhost"
PRO_DOMAIN = "mssante.localhost"
PASSWORD = "correct horse battery staple"
PATIENT_PASSWORD = "Une phrase de passe solide 42"
_seq = itertools.count(1)
_HASH = hash_password(PASSWORD)


@dataclass
class World:
    database: Database
    store: MailStore
    pipeline: DeliveryPipeline
    services: PatientServices
    handler: PatientDomainHandler

    async def close(self) -> None:
        await self.store.close()
        await self.services.notifier.drain()


def build_world(database: Database, data_dir: Path, settings: PatientSettings | None = None) -> World:
    blobs = BlobStore(data_dir / "blobs")
    store = MailStore(database, blobs, InProcessNotifier())
    pipeline = DeliveryPipeline(
        store,
        local_domains=[PRO_DOMAIN],
        hostname="mx.mssante.localhost",
        max_message_size=25 * 1024 * 1024,
        max_recipients=100,
        default_quota=1024 * 1024 * 1024,
    )
    services = PatientServices.build(
        database=database,
        blobs=blobs,
        pipeline=pipeline,
        patient_domain=PATIENT_DOMAIN,
        data_dir=data_dir,
        settings=settings or PatientSettings(notify_smarthost=""),
    )
    handler = PatientDomainHandler(services)
    pipeline.register_domain(PATIENT_DOMAIN, handler)
    return World(database, store, pipeline, services, handler)


async def make_professional(database: Database, *, kind: str = "PER", name: str | None = None) -> MailboxInfo:
    n = next(_seq)
    owner = f"8{n:011d}" if kind == "PER" else f"1{n:09d}"
    async with database.write() as session:
        row = await create_mailbox(
            session,
            address=f"pro{n}@{PRO_DOMAIN}",
            kind=kind,
            owner_id=owner,
            display_name=name or f"Dr Claire Martin {n}",
            password_hash=_HASH,
        )
        return MailboxInfo.of(row)


@dataclass(frozen=True)
class PatientFixture:
    id: int
    ins: str
    address: str
    birth_date: date
    activation_code: str
    email: str


def new_ins() -> str:
    n = next(_seq)
    return with_key(f"1850775{n:06d}")


async def make_patient(database: Database, *, now: datetime | None = None, ins: str | None = None) -> PatientFixture:
    ins = ins or new_ins()
    birth = date(1985, 7, 14)
    email = f"patient{ins[-6:]}@perso.example"
    async with database.write() as session:
        row, code = await create_account(
            session,
            ins=ins,
            family_name="Dupont",
            given_names="Élodie",
            birth_date=birth,
            email=email,
            patient_domain=PATIENT_DOMAIN,
            now=now or datetime.now(UTC),
        )
        return PatientFixture(row.id, row.ins, row.address, birth, code, email)


def professional_message(
    sender: MailboxInfo,
    to: list[str],
    *,
    subject: str = "Compte rendu de consultation",
    text: str = "Bonjour,\nvoici votre compte rendu.\n",
    html: str | None = None,
    pdf: bytes | None = None,
    cc: list[str] | None = None,
    extra: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"{sender.display_name} <{sender.address}>"
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=PRO_DOMAIN)
    message["X-MSS-NIL"] = "test-suite"
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename="compte-rendu.pdf")
    return message.as_bytes(policy=SMTP)


async def submit(world: World, sender: MailboxInfo, recipients: list[str], raw: bytes) -> str:
    return await world.pipeline.submit(Sender(channel="submission", mailbox=sender), sender.address, recipients, raw)


def totp_now(secret: str, at: float) -> str:
    return pyotp.TOTP(secret, interval=TOTP_STEP).at(at)


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
