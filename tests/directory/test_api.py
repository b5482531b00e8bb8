from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from directory.importer import import_file
from mssante.settings import Settings
from mssante.web import create_app
from storage.engine import Database
from tests.directory.helpers import FILLERS, known_directory

BASE = "/api/directory"


@pytest.fixture
async def client(database: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    activity, mailboxes = known_directory(tmp_path)
    await import_file(database, activity)
    await import_file(database, mailboxes)
    app = create_app(Settings(data_dir=tmp_path), database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver") as client:
        yield client


def _problem(response: httpx.Response, status: int, parameter: str | None = None) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    assert "Traceback" not in response.text
    if parameter is not None:
        assert body["parameter"] == parameter
    return body


async def test_search_and_follow_the_cursor(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/practitioners", params={"q": "veran cardio"})
    assert response.status_code == 200
    body = response.json()
    assert [item["family"] for item in body["items"]] == ["VÉRAN"]
    item = body["items"][0]
    assert item["specialties"] == [["SM04", "Cardiologie et maladies vasculaires"]]
    assert item["places"][0]["city"] == "Lyon" and body["next_cursor"] is None
    names: list[str] = []
    params: dict[str, str | int] = {"profession": "10", "postal_code": "69003", "limit": 10}
    while True:
        page = (await client.get(f"{BASE}/practitioners", params=params)).json()
        names += [f"{item['family']} {item['given']}" for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(names) == len(set(names)) == FILLERS + 2


async def test_huge_limit_is_capped(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{BASE}/practitioners", params={"limit": 10**9})).json()
    assert body["limit"] == 100 and len(body["items"]) <= 100


async def test_bad_parameters_are_problems(client: httpx.AsyncClient) -> None:
    _problem(await client.get(f"{BASE}/practitioners", params={"limit": "abc"}), 400, "limit")
    _problem(await client.get(f"{BASE}/practitioners", params={"limit": "-1"}), 400, "limit")
    _problem(await client.get(f"{BASE}/practitioners", params={"profession": "1' OR '1'='1"}), 400, "profession")
    _problem(await client.get(f"{BASE}/practitioners", params={"postal_code": "69%"}), 400, "postal_code")
    _problem(await client.get(f"{BASE}/practitioners", params={"cursor": "eyJ4Ijoi"}), 400, "cursor")
    _problem(await client.get(f"{BASE}/practitioners", params={"has_mailbox": "maybe"}), 400, "has_mailbox")
    _problem(await client.get(f"{BASE}/practitioners", params={"q": "x" * 201}), 400, "q")
    hostile = await client.get(f"{BASE}/practitioners", params={"q": "'); DROP TABLE directory_persons;--"})
    assert hostile.status_code == 200 and hostile.json()["items"] == []
    assert (await client.get(f"{BASE}/practitioners", params={"q": "veran"})).json()["items"]


async def test_lookups(client: httpx.AsyncClient) -> None:
    found = await client.get(f"{BASE}/practitioners/810000000002")
    assert found.status_code == 200
    assert found.json()["mailboxes"] == ["jean-pierre.martin@medecin.mssante.fr"]
    assert (await client.get(f"{BASE}/practitioners/10000000002")).json()["id_nat"] == "810000000002"
    by_address = await client.get(f"{BASE}/practitioners/Jean-Pierre.Martin@medecin.mssante.fr")
    assert by_address.json()["id_nat"] == "810000000002"
    _problem(await client.get(f"{BASE}/practitioners/12345"), 400, "identifier")
    _problem(await client.get(f"{BASE}/practitioners/899999999999"), 404)


async def test_mailbox_resolution(client: httpx.AsyncClient) -> None:
    person = (await client.get(f"{BASE}/mailboxes/jean-pierre.martin@medecin.mssante.fr")).json()
    assert (person["kind"], person["mailbox_type"], person["display_name"]) == ("person", "PER", "Jean-Pierre MARTIN")
    service = (await client.get(f"{BASE}/mailboxes/cardiologie@chu-lyon.mssante.fr")).json()
    assert (service["kind"], service["display_name"]) == ("structure", "Cardiologie – Hôpital Édouard Herriot")
    _problem(await client.get(f"{BASE}/mailboxes/nobody@nowhere.example"), 404)


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/openapi.json")).json()
    operation = schema["paths"][f"{BASE}/practitioners"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"q", "profession", "specialty", "city", "postal_code", "department", "mailbox", "cursor", "limit"} <= names
    assert "400" in operation["responses"]
    assert f"{BASE}/mailboxes/{{address}}" in schema["paths"]


async def test_find_mailboxes_by_fragment(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{BASE}/mailboxes", params={"q": "CHU-LYON"})).json()
    assert [(item["address"], item["display_name"]) for item in body["items"]] == [
        ("cardiologie@chu-lyon.mssante.fr", "Cardiologie – Hôpital Édouard Herriot")]
    both = (await client.get(f"{BASE}/mailboxes", params={"q": "mssante.fr", "limit": 1})).json()
    assert len(both["items"]) == 1 and both["next_cursor"]
    rest = (await client.get(f"{BASE}/mailboxes", params={"q": "mssante.fr", "cursor": both["next_cursor"]})).json()
    assert {both["items"][0]["address"], rest["items"][0]["address"]} == {
        "cardiologie@chu-lyon.mssante.fr", "jean-pierre.martin@medecin.mssante.fr"}
    assert (await client.get(f"{BASE}/mailboxes", params={"q": "%%%"})).json()["items"] == []  # not wildcards
    assert (await client.get(f"{BASE}/mailboxes", params={"q": "___"})).json()["items"] == []
    _problem(await client.get(f"{BASE}/mailboxes", params={"q": "ab"}), 400, "q")
    _problem(await client.get(f"{BASE}/mailboxes", params={"q": "mssante", "cursor": rest["next_cursor"] or "x"}),
             400, "cursor")
