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

from directory.generator import ACTIVITY_HEADER_56, MAILBOX_HEADER, extraction_line, generate
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


# The site the demo professionals work at; the demo ORG and APP mailboxes are its services (FINESS 750000001,
# hence the structure id 1750000001 the demo mailboxes give as their owner).
_DEMO_SITE = {
    "Numéro SIRET site": "26750000100017", "Numéro SIREN site": "267500001", "Numéro FINESS site": "750000001",
    "Numéro FINESS établissement juridique": "750000000", "Raison sociale site": "CH Exemple",
    "Numéro Voie (coord. structure)": "12", "Code type de voie (coord. structure)": "R",
    "Libellé type de voie (coord. structure)": "Rue", "Libellé Voie (coord. structure)": "de l'Exemple",
    "Code postal (coord. structure)": "75012", "Code commune (coord. structure)": "75112",
    "Libellé commune (coord. structure)": "Paris", "Téléphone (coord. structure)": "0140000000",
    "Code Département (coord. structure)": "75", "Code secteur d'activité": "SA01",
    "Code mode exercice": "S", "Libellé mode exercice": "Salarié",
}
_DEMO_SITE_MAILBOX = {
    "Raison Sociale structure BAL": "CH Exemple", "Numéro Voie structure BAL": "12", "Type Voie structure BAL": "Rue",
    "Libellé Voie structure BAL": "de l'Exemple", "Ligne Acheminement structure BAL": "75012 PARIS",
    "Code postal structure BAL": "75012", "Département structure BAL": "75", "Pays structure BAL": "France",
    "Dématérialisation": "True",
}
# The demo mailboxes' owners as the national extractions would list them (local part -> activity columns,
# mailbox columns): each demo address resolves to its owner (directory.resolve) like any other.
_DEMO_OWNERS: dict[str, tuple[dict[str, str] | None, dict[str, str]]] = {
    "alice.martin": ({
        "Type d'identifiant PP": "8", "Identifiant PP": "10001234567", "Identification nationale PP": "810001234567",
        "Code civilité d'exercice": "DR", "Libellé civilité d'exercice": "Docteur", "Code civilité": "MME",
        "Libellé civilité": "Madame", "Nom d'exercice": "MARTIN", "Prénom d'exercice": "Alice",
        "Code profession": "10", "Libellé profession": "Médecin", "Code catégorie professionnelle": "C",
        "Libellé catégorie professionnelle": "Civil", "Code type savoir-faire": "S",
        "Libellé type savoir-faire": "Spécialité ordinale", "Code savoir-faire": "SM04",
        "Libellé savoir-faire": "Cardiologie et maladies vasculaires",
    }, {
        "Type de BAL": "PER", "Type Identifiant PP": "8", "Identifiant PP": "10001234567",
        "Identification nationale PP": "810001234567", "Civilité d'exercice": "DR", "Nom d'exercice": "MARTIN",
        "Prénom d'exercice": "Alice", "Catégorie profession": "C", "Libellé de catégorie profession": "Civil",
        "Code Profession": "10", "Libellé Profession": "Médecin", "Code savoir-faire": "SM04",
        "Libellé savoir-faire": "Cardiologie et maladies vasculaires",
    }),
    "jean-pierre.durand": ({
        "Type d'identifiant PP": "8", "Identifiant PP": "10009876543", "Identification nationale PP": "810009876543",
        "Code civilité": "M", "Libellé civilité": "Monsieur", "Nom d'exercice": "DURAND",
        "Prénom d'exercice": "Jean-Pierre", "Code profession": "60", "Libellé profession": "Infirmier",
        "Code catégorie professionnelle": "C", "Libellé catégorie professionnelle": "Civil",
    }, {
        "Type de BAL": "PER", "Type Identifiant PP": "8", "Identifiant PP": "10009876543",
        "Identification nationale PP": "810009876543", "Nom d'exercice": "DURAND", "Prénom d'exercice": "Jean-Pierre",
        "Catégorie profession": "C", "Libellé de catégorie profession": "Civil", "Code Profession": "60",
        "Libellé Profession": "Infirmier",
    }),
    "cardiologie.ch-exemple": (None, {"Type de BAL": "ORG", "Service de rattachement": "Cardiologie"}),
    "labo-biologie": (None, {"Type de BAL": "APP", "Service de rattachement": "Laboratoire de biologie"}),
}


def _demo_owner_lines(domain: str) -> tuple[list[str], list[str]]:
    """The activity and mailbox lines of the demo mailboxes' owners (see ``_DEMO_OWNERS``)."""
    activities, mailboxes = [], []
    for demo in DEMO_MAILBOXES:
        activity, mailbox = _DEMO_OWNERS[demo.local_part]
        if activity is not None:
            activities.append(extraction_line(ACTIVITY_HEADER_56, {**_DEMO_SITE, **activity}))
        structure = {} if demo.kind == "PER" else {"Type identifiant structure": demo.owner_id[0],
                                                   "Identification Structure": demo.owner_id}
        mailboxes.append(extraction_line(MAILBOX_HEADER, {
            **_DEMO_SITE_MAILBOX, **structure, **mailbox, "Adresse BAL": f"{demo.local_part}@{domain}"}))
    return activities, mailboxes


async def ensure_demo_directory(settings: Settings, database: Database) -> DemoDirectory | None:
    """Generate both national extractions (realistic names, professions, places, mailboxes; the generator the
    tests and the bench use) into ``<data dir>/demo-directory``, with the demo mailboxes and their owners added,
    and import them, unless a directory extraction was imported already (a real one is never overwritten);
    None then."""
    async with database.read() as session:
        if (await session.execute(select(func.count()).select_from(ImportRun))).scalar_one():
            return None
    folder = settings.data_dir / "demo-directory"
    generated = generate(folder, persons=DEMO_DIRECTORY_PERSONS, seed=DEMO_DIRECTORY_SEED)
    activities, mailboxes = _demo_owner_lines(settings.domains[0])
    for path, lines in ((generated.activity_path, activities), (generated.mailbox_path, mailboxes)):
        with path.open("a", encoding="utf-8") as out:  # the generated files are UTF-8, 56 columns
            out.writelines(line + "\n" for line in lines)
    rejects = settings.data_dir / "directory-rejects"
    rejects.mkdir(parents=True, exist_ok=True)
    for path in (generated.activity_path, generated.mailbox_path):
        await import_file(database, path, rejects_path=rejects / f"{path.name}.rejects.txt")
    return DemoDirectory(generated.persons + len(activities), generated.activity_lines + len(activities),
                         generated.mailbox_lines + len(mailboxes), folder)
