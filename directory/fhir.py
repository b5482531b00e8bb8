"""FHIR R4 resources built from directory rows: Practitioner, PractitionerRole, Organization, Bundle.

Pure functions from rows to JSON-ready dicts; the routes are in :mod:`directory.fhir_api`. Systems and
extension URLs follow the French national directory's FHIR profiles where we know them (unconfirmed: the
exact URLs of the mailbox extension and of the code systems are kept in constants so they can be aligned).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from directory.models import Activity, Mailbox, Person, Structure

IDNAT_PS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"  # idNat_PS (ASIP/ANS OID)
IDNAT_STRUCTURE_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"  # idNat_Struct
RPPS_SYSTEM = "https://rpps.esante.gouv.fr"
ADELI_SYSTEM = "https://adeli.esante.gouv.fr"
FINESS_SYSTEM = "https://finess.esante.gouv.fr"
SIRET_SYSTEM = "https://sirene.fr/siret"
ID_TYPE_SYSTEM = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
PROFESSION_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
SPECIALTY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
MAILBOX_EXTENSION = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata"
MAILBOX_TYPE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL"


def _meta(updated: datetime) -> dict[str, str]:
    return {"lastUpdated": updated.isoformat().replace("+00:00", "Z")}


def _identifier(system: str, value: str, type_code: str | None = None) -> dict[str, Any]:
    identifier: dict[str, Any] = {"system": system, "value": value}
    if type_code:
        identifier["type"] = {"coding": [{"system": ID_TYPE_SYSTEM, "code": type_code}]}
    return identifier


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def mailbox_telecom(box: Mailbox) -> dict[str, Any]:
    """An MSSanté mailbox as an ``email`` ContactPoint carrying its type (PER, ORG, APP, CAB)."""
    return {
        "system": "email",
        "value": box.address,
        "use": "work",
        "extension": [{
            "url": MAILBOX_EXTENSION,
            "extension": [
                {"url": "type", "valueCodeableConcept": _coding(MAILBOX_TYPE_SYSTEM, box.kind, "")},
                {"url": "digitization", "valueBoolean": box.dematerialised},
            ],
        }],
    }


def practitioner(person: Person, mailboxes: list[Mailbox]) -> dict[str, Any]:
    identifiers = [_identifier(IDNAT_PS_SYSTEM, person.id_nat, "IDNPS")]
    if person.id_pp:
        rpps = person.id_type == "8"
        system, code = (RPPS_SYSTEM, "RPPS") if rpps else (ADELI_SYSTEM, "ADELI")
        identifiers.append(_identifier(system, person.id_pp, code))
    name: dict[str, Any] = {"use": "official", "family": person.family}
    if person.given:
        name["given"] = [person.given]
    if person.title or person.civility:
        name["prefix"] = [person.title or person.civility]
    qualifications = [{"code": _coding(PROFESSION_SYSTEM, person.profession_code, person.profession_label)}] if (
        person.profession_code) else []
    for item in person.specialties.split(";"):
        code, _, label = item.partition("=")
        if code:
            qualifications.append({"code": _coding(SPECIALTY_SYSTEM, code, label)})
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": person.id_nat,
        "meta": _meta(person.updated_at),
        "identifier": identifiers,
        "active": person.active,
        "name": [name],
    }
    if mailboxes:
        resource["telecom"] = [mailbox_telecom(box) for box in mailboxes]
    if qualifications:
        resource["qualification"] = qualifications
    return resource


def _address(line: str, complement: str, postal_code: str, city: str) -> dict[str, Any]:
    address: dict[str, Any] = {"use": "work", "country": "FR"}
    lines = [part for part in (line, complement) if part]
    if lines:
        address["line"] = lines
    if postal_code:
        address["postalCode"] = postal_code
    if city:
        address["city"] = city
    return address


def _phone(value: str) -> list[dict[str, Any]]:
    return [{"system": "phone", "value": value, "use": "work"}] if value else []


def practitioner_role(activity: Activity, person: Person | None, structure_id: int | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(activity.id),
        "meta": _meta(activity.updated_at),
        "active": activity.active,
        "practitioner": {"reference": f"Practitioner/{activity.id_nat}"},
    }
    if structure_id is not None:
        resource["organization"] = {"reference": f"Organization/{structure_id}", "display": activity.structure_name}
    if person is not None and person.profession_code:
        resource["code"] = [_coding(PROFESSION_SYSTEM, person.profession_code, person.profession_label)]
    if activity.specialty_code:
        resource["specialty"] = [_coding(SPECIALTY_SYSTEM, activity.specialty_code, activity.specialty_label)]
    telecom = _phone(activity.phone)
    if activity.email:
        telecom.append({"system": "email", "value": activity.email, "use": "work"})
    if telecom:
        resource["telecom"] = telecom
    return resource


def organization(structure: Structure, mailboxes: list[Mailbox]) -> dict[str, Any]:
    identifiers = []
    if structure.finess_site:
        identifiers.append(_identifier(IDNAT_STRUCTURE_SYSTEM, "1" + structure.finess_site, "IDNST"))
        identifiers.append(_identifier(FINESS_SYSTEM, structure.finess_site, "FINEG"))
    if structure.siret:
        if not structure.finess_site:
            identifiers.append(_identifier(IDNAT_STRUCTURE_SYSTEM, "3" + structure.siret, "IDNST"))
        identifiers.append(_identifier(SIRET_SYSTEM, structure.siret, "SIRET"))
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(structure.id),
        "meta": _meta(structure.updated_at),
        "active": structure.active,
        "name": structure.name or structure.key,
        "address": [_address(structure.address, structure.address_complement, structure.postal_code, structure.city)],
    }
    if identifiers:
        resource["identifier"] = identifiers
    telecom = _phone(structure.phone) + [mailbox_telecom(box) for box in mailboxes]
    if telecom:
        resource["telecom"] = telecom
    return resource


def bundle(resources: list[dict[str, Any]], base: str, self_url: str, next_url: str | None) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/{item['resourceType']}/{item['id']}", "resource": item, "search": {"mode": "match"}}
            for item in resources
        ],
    }
