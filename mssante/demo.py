"""Demo data for ``mssante init --demo``: a few professional mailboxes with generated passwords, a patient, and
a generated professional directory.

Passwords are generated once and kept in ``<data_dir>/demo-credentials.json`` (mode 0600) so that each
``make run`` can print them again. Development only.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from directory.generator import generate
from directory.importer import import_file
from directory.models import ImportRun
from mail_gateway.errors import MailboxExists
from mail_gateway.passwords import hash_password
from mail_gateway.store.mailboxes import create_mailbox
from mssante.settings import Settings
from patient_inbox.accounts import create_account
from patient_inbox.errors import AccountExists
from storage.base import utcnow
from storage.engine import Database


@dataclass(frozen=True)
class DemoMailbox:
    local_part: str
    kind: str
    owner_id: str
    display_name: str


DEMO_MAILBOXES = (
    DemoMailbox("alice.martin", "PER", "810001234567", "Dr Alice MARTIN"),
    DemoMailbox("jean-pierre.durand", "PER", "810009876543", "Jean-Pierre DURAND"),
    DemoMailbox("cardiologie.ch-exemple", "ORG", "1750000001", "Service de cardiologie, CH Exemple"),
    DemoMailbox("labo-biologie", "APP", "1750000002", "Laboratoire de biologie (automate)"),
)


def credentials_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-credentials.json"


def load_credentials(settings: Settings) -> dict[str, str]:
    path = credentials_file(settings)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


async def create_demo_data(settings: Settings, database: Database) -> dict[str, str]:
    """Create the demo mailboxes that are missing; return every demo address with its password."""
    credentials = load_credentials(settings)
    domain = settings.domains[0]
    for demo in DEMO_MAILBOXES:
        address = f"{demo.local_part}@{domain}"
        password = credentials.get(address) or secrets.token_urlsafe(12)
        try:
            async with database.write() as session:
                await create_mailbox(
                    session, address=address, kind=demo.kind, owner_id=demo.owner_id,
                    display_name=demo.display_name, password_hash=hash_password(password),
                )
        except MailboxExists:
            if address not in credentials:
                continue  # made by hand earlier: its password is not ours to print
        credentials[address] = password
    path = credentials_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)
    os.replace(tmp, path)
    return credentials


# A demo patient: INS 2 84 03 75 123 456, key 97 - (2840375123456 mod 97) = 40.
DEMO_PATIENT = {"ins": "284037512345640", "family": "DUPONT", "given": "Marie", "birth_date": "1984-03-12",
                "email": "marie.dupont@example.org"}


def patient_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-patient.json"


def load_demo_patient(settings: Settings) -> dict[str, str]:
    path = patient_file(settings)
    return {str(k): str(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


async def create_demo_patient(settings: Settings, database: Database) -> dict[str, str]:
    """Create the demo patient's space once; keep its activation code to print (it is stored hashed)."""
    known = load_demo_patient(settings)
    if known:
        return known
    try:
        async with database.write() as session:
            row, code = await create_account(
                session, ins=DEMO_PATIENT["ins"], family_name=DEMO_PATIENT["family"],
                given_names=DEMO_PATIENT["given"], birth_date=date.fromisoformat(DEMO_PATIENT["birth_date"]),
                email=DEMO_PATIENT["email"], patient_domain=settings.patient_domain, now=utcnow(),
            )
            address = row.address
    except AccountExists:
        return {}
    info = {"address": address, "ins": DEMO_PATIENT["ins"], "birth_date": DEMO_PATIENT["birth_date"],
            "activation_code": code}
    path = patient_file(settings)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle, indent=2)
    os.replace(path.with_suffix(".tmp"), path)
    return info


DEMO_DIRECTORY_PERSONS = 2_000  # practitioners of the demo directory: a few seconds to generate and import
DEMO_DIRECTORY_SEED = 2026


@dataclass(frozen=True)
class DemoDirectory:
    persons: int
    activity_lines: int
    mailboxes: int
    folder: Path


async def ensure_demo_directory(settings: Settings, database: Database) -> DemoDirectory | None:
    """Generate both national extractions (realistic names, professions, places, mailboxes; the generator the
    tests and the bench use) into ``<data dir>/demo-directory`` and import them, unless a directory extraction
    was imported already (a real one is never overwritten); None then."""
    async with database.read() as session:
        if (await session.execute(select(func.count()).select_from(ImportRun))).scalar_one():
            return None
    folder = settings.data_dir / "demo-directory"
    generated = generate(folder, persons=DEMO_DIRECTORY_PERSONS, seed=DEMO_DIRECTORY_SEED)
    rejects = settings.data_dir / "directory-rejects"
    rejects.mkdir(parents=True, exist_ok=True)
    for path in (generated.activity_path, generated.mailbox_path):
        await import_file(database, path, rejects_path=rejects / f"{path.name}.rejects.txt")
    return DemoDirectory(generated.persons, generated.activity_lines, generated.mailbox_lines, folder)
