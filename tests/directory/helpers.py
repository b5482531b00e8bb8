"""Small generated extractions and edits of them (a later extraction) for the directory tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from directory.generator import Generated, generate
from directory.importer import import_file
from storage.engine import Database


def small(tmp_path: Path, *, persons: int = 40, seed: int = 7, generation: int = 56, encoding: str = "utf-8",
          stamp: str = "202611010000") -> Generated:
    return generate(tmp_path / f"gen-{seed}-{generation}-{encoding}-{stamp}", persons=persons, seed=seed,
                    generation=generation, encoding=encoding, stamp=stamp)


def read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    return path.read_text(encoding=encoding).splitlines()


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding=encoding)
    return path


async def scalar(database: Database, sql: str) -> Any:
    """The one value ``sql`` selects."""
    async with database.engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


def field(line: str, index: int) -> str:
    return line.split("|")[index]


def with_field(line: str, index: int, value: str) -> str:
    fields = line.split("|")
    fields[index] = value
    return "|".join(fields)


# A hand-made directory whose search answers are known in advance.
from directory.generator import ACTIVITY_HEADER_56, MAILBOX_HEADER, extraction_line  # noqa: E402

PEOPLE = [
    # id_nat, family, given, profession code, label, specialty code, label, city, postal code, commune, department
    ("810000000001", "VÉRAN", "Olivier", "10", "Médecin", "SM04", "Cardiologie et maladies vasculaires", "Lyon",
     "69003", "69383", "69"),
    ("810000000002", "MARTIN", "Jean-Pierre", "10", "Médecin", "SM54", "Médecine générale", "Lyon", "69008",
     "69388", "69"),
    ("810000000003", "MARTINEZ", "Anne", "60", "Infirmier", "", "", "Paris", "75015", "75115", "75"),
    ("0691234567", "D'ALMEIDA", "Hélène", "50", "Sage-Femme", "", "", "Saint-Étienne", "42000", "42218", "42"),
    ("810000000005", "DE LA FONTAINE", "Zoé", "70", "Masseur-Kinésithérapeute", "", "", "Ajaccio", "20000", "2A004",
     "2A"),
    ("810000000006", "LE GOFF", "Jean", "10", "Médecin", "SM04", "Cardiologie et maladies vasculaires", "Brest",
     "29200", "29019", "29"),
    ("810000000007", "PIERRE", "Jean", "60", "Infirmier", "", "", "Paris", "75011", "75111", "75"),
]
FILLERS = 23  # DUPONT doctors in Lyon 69003, for paging


def person_line(person: tuple[str, ...], structure: str = "Cabinet du Centre", technical_id: str = "") -> str:
    id_nat, family, given, code, label, specialty, specialty_label, city, postal, commune, department = person
    values = {
        "Type d'identifiant PP": id_nat[0], "Identifiant PP": id_nat[1:], "Identification nationale PP": id_nat,
        "Code civilité": "M", "Nom d'exercice": family, "Prénom d'exercice": given, "Code profession": code,
        "Libellé profession": label, "Code savoir-faire": specialty, "Libellé savoir-faire": specialty_label,
        "Code mode exercice": "L", "Identifiant technique de la structure": technical_id or f"R1{id_nat}",
        "Raison sociale site": structure, "Numéro Voie (coord. structure)": "3",
        "Libellé type de voie (coord. structure)": "Rue", "Libellé Voie (coord. structure)": "de la République",
        "Code postal (coord. structure)": postal, "Code commune (coord. structure)": commune,
        "Libellé commune (coord. structure)": city, "Code Département (coord. structure)": department,
        "Téléphone (coord. structure)": "0478000000",
    }
    return extraction_line(ACTIVITY_HEADER_56, values)


def mailbox_line(kind: str, address: str, id_nat: str = "", structure_id: str = "", service: str = "",
                 family: str = "", given: str = "", structure_name: str = "") -> str:
    values = {
        "Type de BAL": kind, "Adresse BAL": address, "Identification nationale PP": id_nat,
        "Identification Structure": structure_id, "Service de rattachement": service, "Nom d'exercice": family,
        "Prénom d'exercice": given, "Dématérialisation": "True", "Raison Sociale structure BAL": structure_name,
        "Code Profession": "10" if id_nat else "", "Libellé Profession": "Médecin" if id_nat else "",
    }
    return extraction_line(MAILBOX_HEADER, values)


def known_directory(tmp_path: Path, stamp: str = "202611010000", extra: list[str] | None = None) -> tuple[Path, Path]:
    lines = [person_line(person) for person in PEOPLE]
    lines.append(person_line(
        ("810000000006", "LE GOFF", "Jean", "10", "Médecin", "SM04", "Cardiologie et maladies vasculaires", "Lyon",
         "69003", "69383", "69"), structure="Hôpital Édouard Herriot", technical_id="F690000001"))
    lines += [
        person_line((f"8100000001{n:02d}", "DUPONT", f"Prénom{n:02d}", "10", "Médecin", "SM54", "Médecine générale",
                     "Lyon", "69003", "69383", "69"))
        for n in range(FILLERS)
    ]
    lines += extra or []
    activity = write_lines(tmp_path / "known" / f"PS_LibreAcces_Personne_activite_{stamp}.txt",
                           ["|".join(ACTIVITY_HEADER_56) + "|", *lines])
    mailboxes = write_lines(tmp_path / "known" / f"Extraction_Correspondance_MSSante_{stamp}.txt", [
        "|".join(MAILBOX_HEADER) + "|",
        mailbox_line("PER", "jean-pierre.martin@medecin.mssante.fr", "810000000002", family="MARTIN",
                     given="Jean-Pierre"),
        mailbox_line("ORG", "cardiologie@chu-lyon.mssante.fr", structure_id="1690000001", service="Cardiologie",
                     structure_name="Hôpital Édouard Herriot"),
    ])
    return activity, mailboxes


async def veran_vanished(database: Database, tmp_path: Path, extra: list[str] | None = None) -> Path:
    """The known directory imported, then a newer extraction (with the ``extra`` lines) without VÉRAN
    (810000000001): one inactive person. Returns the newer extraction."""
    activity, _ = known_directory(tmp_path)
    await import_file(database, activity)
    newer, _ = known_directory(tmp_path / "v2", stamp="202611020000", extra=extra)
    lines = newer.read_text(encoding="utf-8").splitlines(keepends=True)
    newer.write_text("".join(line for line in lines if "VÉRAN" not in line), encoding="utf-8")
    assert (await import_file(database, newer, force=True)).deactivated == 1
    return newer
