"""The INS matricule (the 15-character NIR) that names a patient's mailbox: syntax and control key.

Layout (DOMAIN.md): sex (1) · year (2) · month (2) · department (2, ``2A``/``2B`` for Corsica) · commune (3) ·
order (3) · key (2). The key is ``97 - (N mod 97)`` where N is the 13-character number read as an integer, with
``2A`` counting as ``19`` and ``2B`` as ``18``. A key always lies in 1..97.

Months: 01-12, plus the values INSEE uses when the month is unknown (20, 30-42, 50-99). Sex: 1 or 2, plus 3, 4,
7 and 8 which INSEE gives to people registered provisionally; we accept them because the matricule is what the
identity server returns and refusing it would leave a person without a mailbox.
"""

from __future__ import annotations

import re

INS_LENGTH = 15
_SHAPE = re.compile(
    r"(?P<sex>[1-478])(?P<year>\d{2})(?P<month>\d{2})(?P<dept>\d{2}|2A|2B)(?P<commune_order>\d{6})(?P<key>\d{2})"
)
_CORSICA = {"2A": "19", "2B": "18"}


def normalise_ins(value: str) -> str:
    """The canonical form: spaces, dots and dashes removed (letters keep their case: ``2a`` is not accepted)."""
    return re.sub(r"[\s.\-]", "", value)


def _valid_month(month: int) -> bool:
    return 1 <= month <= 12 or month == 20 or 30 <= month <= 42 or 50 <= month <= 99


def ins_key(first13: str) -> int:
    """The control key of the first 13 characters (``2A``/``2B`` replaced by ``19``/``18``)."""
    if len(first13) != 13:
        raise ValueError("the key is computed over exactly 13 characters")
    dept = first13[5:7]
    digits = first13[:5] + _CORSICA.get(dept, dept) + first13[7:]
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("the 13 characters must be digits, with 2A or 2B as the department")
    return 97 - int(digits) % 97


def ins_problem(value: str) -> str | None:
    """Why ``value`` is not a valid INS matricule, as a sentence for the person typing it, or None."""
    if len(value) != INS_LENGTH:
        return f"Le matricule INS doit comporter {INS_LENGTH} caractères (il en a {len(value)})."
    match = _SHAPE.fullmatch(value)
    if match is None:
        return (
            "Le matricule INS doit commencer par 1 ou 2 et ne contenir que des chiffres "
            "(2A ou 2B pour un département de Corse)."
        )
    if not _valid_month(int(match["month"])):
        return "Le mois de naissance indiqué dans le matricule INS n'existe pas."
    if int(match["key"]) != ins_key(value[:13]):
        return "La clé du matricule INS (les 2 derniers chiffres) ne correspond pas : vérifiez la saisie."
    return None


def is_valid_ins(value: str) -> bool:
    return ins_problem(value) is None


def with_key(first13: str) -> str:
    """The full matricule for 13 characters (used by factories and the demo data)."""
    return f"{first13}{ins_key(first13):02d}"


def patient_address(ins: str, patient_domain: str) -> str:
    """``<INS matricule>@<patient domain>``, the patient's mailbox address (lower case, as we store addresses)."""
    return f"{ins}@{patient_domain}".lower()


def ins_from_address(address: str, patient_domain: str) -> str | None:
    """The INS matricule of a patient address, or None when the address is not a valid patient address."""
    local, at, domain = address.strip().rpartition("@")
    if not at or domain.lower().rstrip(".") != patient_domain.lower():
        return None
    ins = local.upper()
    return ins if is_valid_ins(ins) else None
