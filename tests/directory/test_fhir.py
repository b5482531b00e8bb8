from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from sqlalchemy import select

from directory.importer import import_file
from directory.models import Person
from mssante.settings import Settings
from mssante.web import create_app
from storage.engine import Database
from tests.directory.helpers import FILLERS, PEOPLE, known_directory, veran_vanished

MODELS: dict[str, Any] = {"Practitioner": Practitioner, "PractitionerRole": PractitionerRole,
                          "Organization": Organization}


@pytest.fixture
async def client(database: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    activity, mailboxes = known_directory(tmp_path)
    await import_file(database, activity)
    await import_file(database, mailboxes)
    app = create_app(Settings(data_dir=tmp_path), database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver") as client:
        yield client


def _bundle(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    for entry in body["entry"]:
        MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    return body


def _outcome(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["diagnostics"]


async def test_practitioner_search_by_name(client: httpx.AsyncClient) -> None:
    body = _bundle(await client.get("/fhir/Practitioner", params={"family": "veran"}))
    [entry] = body["entry"]
    resource = entry["resource"]
    assert resource["id"] == "810000000001" and resource["name"][0]["family"] == "VÉRAN"
    identifier = resource["identifier"][0]
    assert (identifier["system"], identifier["value"]) == ("urn:oid:1.2.250.1.71.4.2.1", "810000000001")
    codes = [q["code"]["coding"][0]["code"] for q in resource["qualification"]]
    assert codes == ["10", "SM04"]
    assert [e["resource"]["id"] for e in _bundle(await client.get("/fhir/Practitioner", params={"given": "jean"}))[
        "entry"]] == ["810000000006", "810000000002", "810000000007"]
    names = _bundle(await client.get("/fhir/Practitioner", params={"name": "pierre"}))
    assert {e["resource"]["id"] for e in names["entry"]} == {"810000000002", "810000000007"}
    particle = _bundle(await client.get("/fhir/Practitioner", params={"family": "fontaine"}))
    assert [e["resource"]["id"] for e in particle["entry"]] == ["810000000005"]
    assert _bundle(await client.get("/fhir/Practitioner", params={"family": "ontaine"}))["entry"] == []


async def test_mailbox_is_a_typed_telecom(client: httpx.AsyncClient) -> None:
    body = _bundle(await client.get("/fhir/Practitioner",
                                    params={"mailbox-mss": "jean-pierre.martin@medecin.mssante.fr"}))
    [entry] = body["entry"]
    [telecom] = entry["resource"]["telecom"]
    assert telecom["system"] == "email" and telecom["value"] == "jean-pierre.martin@medecin.mssante.fr"
    kind = telecom["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
    assert kind == "PER"
    identified = _bundle(await client.get("/fhir/Practitioner",
                                          params={"identifier": "urn:oid:1.2.250.1.71.4.2.1|810000000002"}))
    assert [e["resource"]["id"] for e in identified["entry"]] == ["810000000002"]


async def test_paging_links(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    url: str | None = "/fhir/Practitioner?family=dupont&_count=10"
    while url is not None:
        body = _bundle(await client.get(url))
        seen += [entry["resource"]["id"] for entry in body["entry"]]
        links = {link["relation"]: link["url"] for link in body["link"]}
        url = links.get("next")
    assert len(seen) == len(set(seen)) == FILLERS
    big = _bundle(await client.get("/fhir/Practitioner", params={"_count": "100000"}))
    assert len(big["entry"]) == len(PEOPLE) + FILLERS  # _count is capped at 100, more than there are


async def test_read_and_errors(client: httpx.AsyncClient) -> None:
    read = await client.get("/fhir/Practitioner/810000000001")
    assert read.status_code == 200
    Practitioner.model_validate(read.json())
    _outcome(await client.get("/fhir/Practitioner/899999999999"), 404)
    _outcome(await client.get("/fhir/Practitioner/" + "x" * 70), 400)
    _outcome(await client.get("/fhir/Practitioner/a%20b"), 400)
    _outcome(await client.get("/fhir/Practitioner", params={"nickname": "x"}), 400)
    _outcome(await client.get("/fhir/Practitioner", params={"_count": "abc"}), 400)
    _outcome(await client.get("/fhir/Practitioner", params={"active": "yes"}), 400)
    _outcome(await client.get("/fhir/Practitioner", params={"_cursor": "nope"}), 400)
    _outcome(await client.get("/fhir/Practitioner", params={"family": "'--"}), 400)
    _outcome(await client.get("/fhir/Organization/abc"), 400)


async def test_roles_and_organizations(client: httpx.AsyncClient) -> None:
    roles = _bundle(await client.get("/fhir/PractitionerRole", params={"practitioner": "Practitioner/810000000006"}))
    assert len(roles["entry"]) == 2
    organizations = {entry["resource"].get("organization", {}).get("reference") for entry in roles["entry"]}
    hospital = next(ref for ref in organizations if ref is not None and
                    any(e["resource"]["organization"]["display"].startswith("Hôpital") for e in roles["entry"]
                        if e["resource"]["organization"]["reference"] == ref))
    organization = await client.get(f"/fhir/{hospital}")
    assert organization.status_code == 200
    Organization.model_validate(organization.json())
    assert organization.json()["name"] == "Hôpital Édouard Herriot"
    role_id = roles["entry"][0]["resource"]["id"]
    PractitionerRole.model_validate((await client.get(f"/fhir/PractitionerRole/{role_id}")).json())
    _outcome(await client.get("/fhir/PractitionerRole/999999"), 404)
    named = _bundle(await client.get("/fhir/Organization", params={"name": "hopital edouard"}))
    assert [entry["resource"]["name"] for entry in named["entry"]] == ["Hôpital Édouard Herriot"]
    paged = _bundle(await client.get("/fhir/PractitionerRole", params={"_count": "3", "active": "true"}))
    assert len(paged["entry"]) == 3 and any(link["relation"] == "next" for link in paged["link"])


async def test_practitioner_search_covers_inactive_persons(database: Database, tmp_path: Path) -> None:
    """A person who vanished from a newer extraction stays readable and searchable through FHIR, as inactive:
    found by name and identifier without ``active``, with ``active=false``, not with ``active=true``; paging over
    every person keeps display order."""
    await veran_vanished(database, tmp_path)
    app = create_app(Settings(data_dir=tmp_path), database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver") as client:
        async def ids(**params: str) -> list[str]:
            body = _bundle(await client.get("/fhir/Practitioner", params=params))
            return [entry["resource"]["id"] for entry in body["entry"]]

        assert await ids(family="veran") == ["810000000001"]
        assert await ids(family="veran", active="false") == ["810000000001"]
        assert await ids(family="veran", active="true") == []
        assert await ids(identifier="810000000001") == ["810000000001"]
        assert await ids(name="v", active="false") == ["810000000001"]
        inactive = _bundle(await client.get("/fhir/Practitioner", params={"family": "veran"}))["entry"][0]
        assert inactive["resource"]["active"] is False
        async def paged(url: str | None) -> list[str]:
            seen: list[str] = []
            while url is not None:
                body = _bundle(await client.get(url))
                seen += [entry["resource"]["id"] for entry in body["entry"]]
                url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
            return seen

        async with database.read() as session:
            persons = list(await session.scalars(select(Person.id_nat).order_by(Person.sort_key)))
            fillers = list(await session.scalars(select(Person.id_nat).where(Person.given_norm.like("prenom%"))
                                                 .order_by(Person.sort_key)))
        assert "810000000001" in persons and len(persons) > FILLERS and len(fillers) == FILLERS
        assert await paged("/fhir/Practitioner?_count=4") == persons
        # through the word index (SQLite: FTS5 rowids from the cursor's position on; PostgreSQL: sorted postings)
        assert await paged("/fhir/Practitioner?given=prenom&_count=5") == fillers
        assert await paged("/fhir/Practitioner?family=DUPONT&given=pr&_count=7") == fillers
