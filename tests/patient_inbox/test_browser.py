"""End to end in headless Chromium against the real server (``mssante serve`` in a thread).

A professional sends a PDF through SMTP submission; the patient activates, logs in with TOTP, reads, downloads
the PDF (same bytes) and replies; the professional receives the threaded reply over IMAP; the professional closes with
``[FIN]``; the reply form is gone and a forged POST is refused. Every page is checked with axe-core and
photographed at desktop and 375 px width (``test-artifacts/patient_inbox/``).
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from playwright.sync_api import Page

from mail_gateway.passwords import hash_password
from mail_gateway.store.mailboxes import create_mailbox
from patient_inbox.accounts import create_account
from tests.gateway import PASSWORD, RunningGateway, gateway_settings, strip_trace
from tests.patient_inbox.browser import DESKTOP, MOBILE, chromium, screenshot, serious_violations
from tests.patient_inbox.factories import PATIENT_PASSWORD, PDF, new_ins, totp_now
from tests.patient_inbox.relay import RelayHandler, smtp_relay

DOCTOR = "dr.martin@mssante.localhost"
PATIENT_DOMAIN = "patient.mssante.localhost"
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def served(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningGateway, RelayHandler]]:
    with smtp_relay() as (smarthost, relay):
        monkeypatch.setenv("MSSANTE_NOTIFY_SMARTHOST", smarthost)
        running = RunningGateway(gateway_settings(tmp_path / "var", db_url))
        running.start()
        try:
            yield running, relay
        finally:
            running.close()


def add_doctor(gw: RunningGateway) -> None:
    async def action() -> None:
        assert gw.database is not None
        async with gw.database.write() as session:
            await create_mailbox(
                session, address=DOCTOR, kind="PER", owner_id="810001234567",
                display_name="Dr Claire Martin", password_hash=hash_password(PASSWORD),
            )

    gw.run(action())


def add_patient(gw: RunningGateway) -> tuple[str, str, str]:
    ins = new_ins()

    async def action() -> tuple[str, str, str]:
        assert gw.database is not None
        async with gw.database.write() as session:
            row, code = await create_account(
                session, ins=ins, family_name="Dupont", given_names="Élodie", birth_date=date(1985, 7, 14),
                email="elodie@perso.example", patient_domain=PATIENT_DOMAIN, now=datetime.now(UTC),
            )
            return row.ins, row.address, code

    return gw.run(action())


def send(gw: RunningGateway, raw: bytes, to: str) -> None:
    with smtplib.SMTP("127.0.0.1", gw.ports["smtp_submission"], timeout=30) as client:
        client.starttls(context=gw.client_tls())
        client.login(DOCTOR, PASSWORD)
        assert client.sendmail(DOCTOR, [to], raw) == {}


def imap_inbox(gw: RunningGateway) -> list[bytes]:
    """Every message of the professional's INBOX, fetched with imaplib over implicit TLS."""
    client = imaplib.IMAP4_SSL("127.0.0.1", gw.ports["imaps"], ssl_context=gw.client_tls(), timeout=30)
    try:
        client.login(DOCTOR, PASSWORD)
        client.select("INBOX", readonly=True)
        _, data = client.uid("SEARCH", "ALL")
        messages = []
        for uid in data[0].split():
            _, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
            part = fetched[0]
            assert isinstance(part, tuple)
            messages.append(part[1])
        return messages
    finally:
        client.logout()


def doctor_message(to: str, subject: str, *, pdf: bytes | None = None, extra: dict[str, str] | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = f"Dr Claire Martin <{DOCTOR}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="mssante.localhost")
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content("Bonjour,\n\nVoici le compte rendu de votre consultation.\n\nDr Martin\n")
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename="compte-rendu.pdf")
    return message.as_bytes(policy=email.policy.SMTP)


def check_page(page: Page, name: str, checked: dict[str, list[object]]) -> None:
    """axe-core on the page, then screenshots at desktop and 375 px (restoring the desktop size)."""
    assert page.evaluate("document.documentElement.lang") == "fr"
    checked[name] = list(serious_violations(page))
    screenshot(page, f"{name}-desktop")
    page.set_viewport_size(MOBILE)
    checked[f"{name}-375"] = list(serious_violations(page))
    screenshot(page, f"{name}-375")
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"], f"{name} scrolls sideways"
    page.set_viewport_size(DESKTOP)


def test_patient_journey_in_chromium(served: tuple[RunningGateway, RelayHandler]) -> None:
    gw, relay = served
    add_doctor(gw)
    ins, address, code = add_patient(gw)
    first = doctor_message(address, "Compte rendu de consultation", pdf=PDF)
    send(gw, first, address)
    first_id = email.message_from_bytes(first, policy=email.policy.default)["Message-ID"]
    [notice] = relay.wait_for(1)
    assert notice.recipients == ["elodie@perso.example"]
    base = f"http://127.0.0.1:{gw.ports['http']}"
    axe: dict[str, list[object]] = {}

    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, locale="fr-FR", accept_downloads=True)
        page = context.new_page()

        # activation: code, INS, birth date → password → TOTP
        page.goto(f"{base}/patient/connexion")
        check_page(page, "01-connexion", axe)
        page.get_by_role("link", name="Activer mon espace avec mon code d'activation").click()
        check_page(page, "02-activation", axe)
        page.get_by_label("Code d'activation").fill(code)
        page.get_by_label("Matricule INS").fill(ins)
        page.get_by_label("Date de naissance").fill("1985-07-14")
        page.get_by_role("button", name="Continuer").click()
        page.wait_for_url("**/activation/mot-de-passe")
        check_page(page, "03-mot-de-passe", axe)
        page.get_by_label("Nouveau mot de passe").fill(PATIENT_PASSWORD)
        page.get_by_label("Confirmez le mot de passe").fill(PATIENT_PASSWORD)
        page.keyboard.press("Enter")  # the keyboard is enough
        page.wait_for_url("**/activation/double-authentification")
        check_page(page, "04-double-authentification", axe)
        assert page.locator(".qr svg").count() == 1
        secret = page.locator("#secret").inner_text().replace(" ", "")
        page.get_by_label("Code à usage unique").fill(totp_now(secret, time.time()))
        page.get_by_role("button", name="Activer mon espace").click()
        page.wait_for_url("**/patient/messages?bienvenue=1")

        # log out, then log in with password + TOTP (the next time step: the current one is spent)
        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url("**/connexion?motif=deconnecte")
        assert "Vous êtes déconnecté" in page.inner_text("main")
        # keyboard only: the skip link comes first, then the fields in order, typed and submitted with Enter
        focus_order = []
        for _ in range(6):
            page.keyboard.press("Tab")
            focus_order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
        assert focus_order[0] == "skip"
        assert [f for f in focus_order if f in ("ins", "password", "code")] == ["ins", "password", "code"]
        page.focus("#ins")
        page.keyboard.type(ins)
        page.keyboard.press("Tab")
        page.keyboard.type(PATIENT_PASSWORD)
        page.keyboard.press("Tab")
        page.keyboard.type(totp_now(secret, time.time() + 30))
        page.keyboard.press("Enter")
        page.wait_for_url("**/patient/messages")
        check_page(page, "05-messages", axe)
        assert "Dr Claire Martin" in page.inner_text("main")
        assert page.get_by_text("Non lu").count() == 1

        # read, download the PDF (identical bytes)
        page.get_by_role("link", name="Compte rendu de consultation").click()
        page.wait_for_url("**/patient/conversations/*")
        conversation_url = page.url
        check_page(page, "06-conversation", axe)
        assert DOCTOR not in page.content()
        with page.expect_download() as download_info:
            page.get_by_role("link", name="compte-rendu.pdf").click()
        downloaded = Path(download_info.value.path())
        assert downloaded.read_bytes() == PDF

        # reply
        page.get_by_label("Votre message").fill("Merci docteur, tout est clair.")
        page.get_by_role("button", name="Envoyer la réponse").click()
        page.wait_for_url("**?envoye=1")
        assert "Votre réponse a été envoyée." in page.inner_text("main")
        check_page(page, "07-reponse-envoyee", axe)

        received = imap_inbox(gw)[-1]  # the professional's mail client, over IMAP
        assert received == gw.inbox(DOCTOR)[0]
        reply = email.message_from_bytes(strip_trace(received), policy=email.policy.default)
        assert reply["In-Reply-To"] == first_id
        assert reply["References"].split()[0] == first_id
        assert reply["Subject"] == "Re: Compte rendu de consultation"
        assert reply["To"].addresses[0].addr_spec == DOCTOR
        assert b"with HTTPS" in received.split(b"\r\n\r\n")[0]

        # the professional closes the conversation
        send(gw, doctor_message(address, "[FIN]", extra={"In-Reply-To": reply["Message-ID"]}), address)
        page.goto(conversation_url)
        assert page.locator("textarea").count() == 0
        assert page.get_by_role("button", name="Envoyer la réponse").count() == 0
        assert "clôturée" in page.inner_text("main")
        check_page(page, "08-conversation-cloturee", axe)

        # a forged POST (with a valid CSRF token taken from the page) is refused
        token = page.locator('input[name="csrf"]').first.get_attribute("value")
        assert token
        forged = page.request.post(
            f"{conversation_url}/reponse",
            multipart={"csrf": token, "to": "1", "text": "Et encore une question"},
        )
        assert forged.status == 403
        assert "clôturée" in forged.text()
        assert len(imap_inbox(gw)) == 1

        page.goto(f"{base}/patient/opposition")
        check_page(page, "09-opposition", axe)
        page.goto(f"{base}/patient/conversations/999999")
        check_page(page, "10-introuvable", axe)
        context.close()

    assert {name: found for name, found in axe.items() if found} == {}
