"""Subjects of the health PKI and the identities read back from them (DOMAIN.md, "The health PKI").

* person (professional card): one multi-valued RDN ``CN=<idNat_PS> + SN=<surname> + GN=<given name>``, then
  ``title=<profession label>`` and ``C=FR``;
* organisation and server: ``CN=<service, application or MTA host>, OU=<structure id>, O=<legal name>,
  ST=<Département (NN)>, C=FR``.

The identifiers are checked here so that a typo never becomes a certificate: ``idNat_PS`` is ``8`` + an 11-digit
RPPS or ``0`` + a 9-digit ADELI; structure ids are ``1`` + FINESS, ``3`` + SIRET (14 digits) or ``4`` + SIREN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from certs.errors import ProfileError

IDNAT_PS = re.compile(r"(?:8\d{11}|0\d{9})")
# FINESS: 9 characters, the first two the département (2A/2B for Corsica).
STRUCTURE_ID = re.compile(r"(?:1(?:\d{2}|2[AB])\d{7}|3\d{14}|4\d{9})")


def check_idnat(idnat: str) -> str:
    if not IDNAT_PS.fullmatch(idnat):
        raise ProfileError(f"{idnat!r} is not an idNat_PS (8 + 11-digit RPPS, or 0 + 9-digit ADELI)")
    return idnat


def check_structure_id(structure_id: str) -> str:
    if not STRUCTURE_ID.fullmatch(structure_id):
        raise ProfileError(f"{structure_id!r} is not a structure id (1 + FINESS, 3 + SIRET or 4 + SIREN)")
    return structure_id


def _nonempty(label: str, value: str) -> str:
    if not value.strip():
        raise ProfileError(f"the {label} must not be empty")
    return value.strip()


def person_subject(idnat: str, surname: str, given_name: str, profession: str) -> x509.Name:
    """``CN=idNat+SN=surname+GN=given, title=profession, C=FR`` (RFC 5280 §4.1.2.4 multi-valued RDN)."""
    return x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, _nonempty("profession", profession))]),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, check_idnat(idnat)),
                    x509.NameAttribute(NameOID.SURNAME, _nonempty("surname", surname)),
                    x509.NameAttribute(NameOID.GIVEN_NAME, _nonempty("given name", given_name)),
                ]
            ),
        ]
    )


def structure_subject(common_name: str, structure_id: str, legal_name: str, department: str) -> x509.Name:
    """``CN, OU=structure id, O, ST, C=FR``: the organisation and server pattern (written root-first)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, _nonempty("département", department)),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _nonempty("legal name", legal_name)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, check_structure_id(structure_id)),
            x509.NameAttribute(NameOID.COMMON_NAME, _nonempty("common name", common_name)),
        ]
    )


def ca_subject(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


_SHORT_NAMES = {NameOID.SURNAME: "SN", NameOID.GIVEN_NAME: "GN", NameOID.TITLE: "title"}


def dn_string(name: x509.Name) -> str:
    """RFC 4514 string with the short names the trust space uses (``SN``, ``GN``, ``title``)."""
    return name.rfc4514_string(_SHORT_NAMES)


@dataclass(frozen=True)
class SubjectIdentity:
    """Who a certificate names: ``PER`` with an idNat, or ``ORG`` with a structure id (servers are ``ORG`` too)."""

    kind: str
    owner_id: str
    name: str
    emails: tuple[str, ...]


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def mailbox_addresses(certificate: x509.Certificate) -> tuple[str, ...]:
    """The ``rfc822Name`` SAN entries (RFC 8550 §3), lower-cased for comparison with ``From:``."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(address.lower() for address in san.get_values_for_type(x509.RFC822Name))


def identity_of(certificate: x509.Certificate) -> SubjectIdentity | None:
    """Read back the DOMAIN.md subject pattern; None when the subject follows neither pattern."""
    subject = certificate.subject
    emails = mailbox_addresses(certificate)
    common_name = _first(subject, NameOID.COMMON_NAME)
    surname = _first(subject, NameOID.SURNAME)
    if IDNAT_PS.fullmatch(common_name) and surname:
        given = _first(subject, NameOID.GIVEN_NAME)
        return SubjectIdentity("PER", common_name, f"{given} {surname}".strip(), emails)
    unit = _first(subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    if STRUCTURE_ID.fullmatch(unit):
        legal = _first(subject, NameOID.ORGANIZATION_NAME)
        return SubjectIdentity("ORG", unit, f"{common_name} ({legal})" if legal else common_name, emails)
    return None
