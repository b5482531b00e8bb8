"""With the health PKI: S/MIME verdicts on delivery (Authentication-Results) and certificate login (EXTERNAL)."""

from __future__ import annotations

import asyncio
import base64
import json
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certs import sign_message
from certs.tls import client_context
from mssante.demo import create_demo_data
from mssante.pki_store import ensure_demo_pki
from storage.engine import Database
from tests.gateway import RunningGateway, gateway_settings, strip_trace
from tests.mail_gateway.factories import make_message

ALICE = "alice.martin@mssante.localhost"
JP = "jean-pierre.durand@mssante.localhost"
CARDIO = "cardiologie.ch-exemple@mssante.localhost"


@pytest.fixture
def pki_gateway(db_url: str, tmp_path: Path) -> Iterator[RunningGateway]:
    settings = gateway_settings(tmp_path / "var", db_url)

    async def prepare() -> None:
        database = Database(db_url)
        try:
            await create_demo_data(settings, database)
            await ensure_demo_pki(settings, database)
        finally:
            await database.dispose()

    asyncio.run(prepare())
    running = RunningGateway(settings)
    running.start()
    try:
        yield running
    finally:
        running.close()


def demo_p12(gateway: RunningGateway, address: str, usage: str) -> pkcs12.PKCS12KeyAndCertificates:
    directory = gateway.settings.data_dir / "pki"
    passwords = json.loads((directory / "demo-pkcs12-passwords.json").read_text())
    name = f"{address}-{usage}.p12"
    return pkcs12.load_pkcs12((directory / "demo" / name).read_bytes(), passwords[name].encode())


def send_mx(gateway: RunningGateway, sender: str, recipient: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", gateway.ports["smtp_mx"], timeout=30) as client:
        client.sendmail(sender, [recipient], raw)


def test_smime_verdicts(pki_gateway: RunningGateway) -> None:
    """One gateway for the three cases (PKI set-up is the expensive part)."""
    check_signed_message_gets_a_pass_verdict(pki_gateway)
    check_tampered_signed_message_fails_and_forged_results_are_removed(pki_gateway)
    check_forged_results_on_an_unsigned_message_are_removed_others_kept(pki_gateway)


def test_certificate_login(pki_gateway: RunningGateway, tmp_path: Path) -> None:
    check_certificate_login_with_external(pki_gateway, tmp_path)
    check_external_authzid_must_be_the_owners_mailbox(pki_gateway, tmp_path)
    check_external_without_a_certificate_is_refused(pki_gateway)


def check_signed_message_gets_a_pass_verdict(pki_gateway: RunningGateway) -> None:
    bundle = demo_p12(pki_gateway, ALICE, "sign")
    assert bundle.cert is not None and bundle.key is not None
    chain = [c.certificate for c in bundle.additional_certs]
    signed = sign_message(make_message(ALICE, JP), bundle.cert.certificate, bundle.key, chain)  # type: ignore[arg-type]
    send_mx(pki_gateway, ALICE, JP, signed)
    stored = strip_trace(pki_gateway.inbox(JP)[-1])
    header = stored.split(b"\r\n\r\n", 1)[0]
    assert header.startswith(b"Authentication-Results: mx.mssante.localhost;")
    assert b"smime=pass" in header.replace(b"\r\n\t", b" ")


def check_tampered_signed_message_fails_and_forged_results_are_removed(pki_gateway: RunningGateway) -> None:
    bundle = demo_p12(pki_gateway, ALICE, "sign")
    assert bundle.cert is not None and bundle.key is not None
    signed = sign_message(make_message(ALICE, JP, body="Posologie: 1 comprime\r\n"), bundle.cert.certificate,
                          bundle.key)  # type: ignore[arg-type]
    forged = b"Authentication-Results: mx.mssante.localhost; smime=pass\r\n" + signed.replace(
        b"1 comprime", b"9 comprimes")
    send_mx(pki_gateway, ALICE, JP, forged)
    header = strip_trace(pki_gateway.inbox(JP)[-1]).split(b"\r\n\r\n", 1)[0].replace(b"\r\n\t", b" ")
    assert header.count(b"Authentication-Results:") == 1
    assert b"smime=pass" not in header and b"smime=fail" in header


def check_forged_results_on_an_unsigned_message_are_removed_others_kept(pki_gateway: RunningGateway) -> None:
    raw = (b"Authentication-Results: mx.mssante.localhost; smime=pass\r\n"
           b"Authentication-Results: other.example; dkim=pass\r\n" + make_message(ALICE, JP))
    send_mx(pki_gateway, ALICE, JP, raw)
    header = strip_trace(pki_gateway.inbox(JP)[-1]).split(b"\r\n\r\n", 1)[0]
    assert b"mx.mssante.localhost; smime" not in header
    assert b"Authentication-Results: other.example; dkim=pass" in header


def _client_with_certificate(gateway: RunningGateway, address: str, tmp_path: Path) -> smtplib.SMTP:
    bundle = demo_p12(gateway, address, "auth")
    assert bundle.cert is not None and bundle.key is not None
    cert = tmp_path / "client.pem"
    key = tmp_path / "client.key"
    chain = [bundle.cert.certificate, *(c.certificate for c in bundle.additional_certs)]
    cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    key.write_bytes(bundle.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    client = smtplib.SMTP("127.0.0.1", gateway.ports["smtp_submission"], timeout=30)
    client.ehlo("relay.ch-exemple.example")
    client.starttls(context=client_context(gateway.ca, cert=cert, key=key))
    client.ehlo("relay.ch-exemple.example")
    return client


def check_certificate_login_with_external(pki_gateway: RunningGateway, tmp_path: Path) -> None:
    with _client_with_certificate(pki_gateway, CARDIO, tmp_path) as client:
        assert "EXTERNAL" in client.esmtp_features["auth"]
        code, text = client.docmd("AUTH", "EXTERNAL =")
        assert code == 235, text
        before = len(pki_gateway.inbox(JP))
        client.sendmail(CARDIO, [JP], make_message(CARDIO, JP))
    assert len(pki_gateway.inbox(JP)) == before + 1


def check_external_authzid_must_be_the_owners_mailbox(pki_gateway: RunningGateway, tmp_path: Path) -> None:
    with _client_with_certificate(pki_gateway, CARDIO, tmp_path) as client:
        code, text = client.docmd("AUTH", "EXTERNAL " + base64.b64encode(ALICE.encode()).decode())
        assert code == 535 and b"no mailbox here belongs" in text


def check_external_without_a_certificate_is_refused(pki_gateway: RunningGateway) -> None:
    with smtplib.SMTP("127.0.0.1", pki_gateway.ports["smtp_submission"], timeout=30) as client:
        client.starttls(context=pki_gateway.client_tls())
        client.ehlo("x.example")
        code, text = client.docmd("AUTH", "EXTERNAL =")
        assert code == 535 and b"no client certificate" in text
