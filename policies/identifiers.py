"""National identifiers of professionals and structures (see DOMAIN.md), checked without I/O.

- ``idNat_PS``: ``8`` + 11-digit RPPS (12 characters) or ``0`` + 9-character ADELI (10 characters).
- structure id: ``1`` + 9-character FINESS, ``3`` + 14-digit SIRET, ``4`` + 9-digit SIREN.
FINESS numbers may contain ``A``/``B`` for Corsica (department 2A/2B), hence the character class.
"""

from __future__ import annotations

import re

_IDNAT_PS = re.compile(r"8\d{11}|0[0-9AB]{9}")
_STRUCTURE = re.compile(r"1[0-9AB]{9}|3\d{14}|4\d{9}")


def is_idnat_ps(value: str) -> bool:
    return _IDNAT_PS.fullmatch(value) is not None


def is_structure_id(value: str) -> bool:
    return _STRUCTURE.fullmatch(value) is not None


def owner_id_problem(kind: str, owner_id: str) -> str | None:
    """Why ``owner_id`` cannot own a mailbox of ``kind`` (PER, ORG, APP, CAB), or None when it can."""
    if kind == "PER":
        if not is_idnat_ps(owner_id):
            return (
                "a personal (PER) mailbox belongs to a professional: the owner must be an idNat_PS, "
                "8 followed by the 11-digit RPPS, or 0 followed by the 9-character ADELI"
            )
        return None
    if kind in ("ORG", "APP", "CAB"):
        if not is_structure_id(owner_id):
            return (
                f"an {kind} mailbox belongs to a structure: the owner must be a structure id, 1 followed by the "
                "FINESS, 3 followed by the SIRET, or 4 followed by the SIREN"
            )
        return None
    return f"unknown mailbox type {kind!r}: use PER, ORG, APP or CAB"
