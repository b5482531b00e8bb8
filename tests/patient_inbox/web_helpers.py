"""Driving the patient web pages with a real HTTP client (httpx over ASGI), as a browser would post forms."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from mssante.settings import Settings
from mssante.web import create_app
from tests.patient_inbox.factories import PATIENT_DOMAIN, PATIENT_PASSWORD, PatientFixture, World, totp_now

BASE = "https://testserver"


def make_app(world: World, data_dir: Path) -> FastAPI:
    settings = Settings(data_dir=data_dir, database_url=world.database.url, patient_domain=PATIENT_DOMAIN)
    app = create_app(settings, world.database)
    app.state.patient_services = world.services
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, follow_redirects=False)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def secret_of(page: str) -> str:
    match = re.search(r'<p class="secret" id="secret">([A-Z2-7 ]+)</p>', page)
    assert match, "the enrolment page shows no secret"
    return match.group(1).replace(" ", "")


async def post_form(http: httpx.AsyncClient, page_url: str, action: str, data: dict[str, str]) -> httpx.Response:
    page = await http.get(page_url)
    assert page.status_code == 200, page.text
    return await http.post(action, data={**data, "csrf": csrf_of(page.text)})


async def activate(http: httpx.AsyncClient, patient: PatientFixture) -> str:
    """Activation code → password → TOTP; returns the TOTP secret. The client ends logged in."""
    response = await post_form(
        http,
        "/patient/activation",
        "/patient/activation",
        {"code": patient.activation_code, "ins": patient.ins, "birth_date": patient.birth_date.isoformat()},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/patient/activation/mot-de-passe"
    response = await post_form(
        http,
        "/patient/activation/mot-de-passe",
        "/patient/activation/mot-de-passe",
        {"password": PATIENT_PASSWORD, "password2": PATIENT_PASSWORD},
    )
    assert response.status_code == 303, response.text
    page = await http.get("/patient/activation/double-authentification")
    assert page.status_code == 200
    assert "<svg" in page.text
    secret = secret_of(page.text)
    response = await http.post(
        "/patient/activation/double-authentification",
        data={"csrf": csrf_of(page.text), "code": totp_now(secret, time.time())},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/patient/messages")
    return secret


async def login(http: httpx.AsyncClient, patient: PatientFixture, secret: str, *, ahead: int = 1) -> httpx.Response:
    """Log in with the code of a later time step (the current one may already be spent)."""
    code = totp_now(secret, time.time() + 30 * ahead)
    return await post_form(
        http, "/patient/connexion", "/patient/connexion",
        {"ins": patient.ins, "password": PATIENT_PASSWORD, "code": code},
    )


async def logout(http: httpx.AsyncClient) -> None:
    page = await http.get("/patient/messages")
    response = await http.post("/patient/deconnexion", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303


def conversation_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/patient/conversations/(\d+)"', page)]


def attachment_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/patient/pieces-jointes/(\d+)"', page)]


def participant_ids(page: str) -> list[str]:
    return re.findall(r'name="to" value="(\d+)"', page)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))
