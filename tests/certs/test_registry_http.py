"""The registry of issued certificates on SQLite and PostgreSQL, and the /pki HTTP endpoints over it."""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from fastapi import FastAPI

from certs.http import PKIBackend, build_router
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.tls import server_context
from certs.verdict import Status
from mssante import pki_store
from mssante.settings import Settings
from mssante.web import create_app
from storage.engine import Database
from tests.certs.conftest import MESSAGE, PKI, openssl, pem, person, write


async def test_record_revoke_and_list(pki: PKI, database: Database) -> None:
    issued = person(pki.hierarchy, "sign")
    async with database.write() as session:
        row = await pki_store.record_issued(session, issued)
    assert (row.serial, row.ca, row.profile, row.owner_id, row.status) == (
        issued.serial_hex,
        "persons",
        "person-sign",
        "810001234567",
        "valid",
    )
    async with database.write() as session:
        revoked = await pki_store.revoke(session, issued.serial_hex.lower(), "keyCompromise")
    assert revoked.status == "revoked" and revoked.revocation_reason == "keyCompromise"
    async with database.write() as session:
        with pytest.raises(pki_store.AlreadyRevoked):
            await pki_store.revoke(session, issued.serial_hex, "superseded")
        with pytest.raises(pki_store.UnknownCertificate):
            await pki_store.revoke(session, "ABCDEF", "superseded")
    async with database.read() as session:
        rows = await pki_store.list_certificates(session)
    assert [r.serial for r in rows] == [issued.serial_hex]
    assert "revoked" in pki_store.describe(rows[0]) and "GN=Alice+SN=MARTIN" in pki_store.describe(rows[0])
    registry = pki_store.DatabaseRegistry(database)
    entries = await registry.revoked("persons")
    assert [e.serial for e in entries] == [issued.certificate.serial_number]
    assert entries[0].reason is x509.ReasonFlags.key_compromise
    status = await registry.status("persons", issued.certificate.serial_number)
    assert status is not None and status.revoked is not None
    assert await registry.status("servers", issued.certificate.serial_number) is None


async def test_load_trust_applies_database_revocations(pki: PKI, database: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database.url)
    (tmp_path / "pki").symlink_to(pki.hierarchy.directory)
    issued = person(pki.hierarchy, "sign")
    async with database.write() as session:
        await pki_store.record_issued(session, issued)
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    assert verify_message(signed, await pki_store.load_trust(settings, database)).status is Status.VALID
    async with database.write() as session:
        await pki_store.revoke(session, issued.serial_hex, "affiliationChanged")
    verdict = verify_message(signed, await pki_store.load_trust(settings, database))
    assert verdict.status is Status.REVOKED and "affiliationChanged" in verdict.reason


async def test_refresh_trust_keeps_the_store_and_follows_the_registry(
    pki: PKI, database: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database.url)
    (tmp_path / "pki").symlink_to(pki.hierarchy.directory)
    issued = person(pki.hierarchy, "sign")
    async with database.write() as session:
        await pki_store.record_issued(session, issued)
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    trust = await pki_store.load_trust(settings, database)
    assert verify_message(signed, trust).valid
    async with database.write() as session:
        row = await pki_store.revoke(session, issued.serial_hex, "certificateHold")
    await pki_store.refresh_trust(trust, settings, database)
    assert verify_message(signed, trust).status is Status.REVOKED
    async with database.write() as session:  # a hold released: the registry row goes back to valid
        held = await pki_store.get_certificate(session, row.serial)
        held.status, held.revoked_at, held.revocation_reason = "valid", None, None
    await pki_store.refresh_trust(trust, settings, database)
    assert verify_message(signed, trust).valid
    bundle = pki_store.ca_bundle_file(settings)
    assert bundle.read_bytes() == pki.hierarchy.bundle_pem() and pki_store.ca_bundle_file(settings) == bundle


async def test_http_crl_and_ocsp(pki: PKI, database: Database, tmp_path: Path) -> None:
    issued = person(pki.hierarchy, "sign")
    async with database.write() as session:
        await pki_store.record_issued(session, issued)
        await pki_store.revoke(session, issued.serial_hex, "keyCompromise")

    async def backend(_request: object) -> PKIBackend:
        return PKIBackend(pki.hierarchy, pki_store.DatabaseRegistry(database))

    app = FastAPI()
    app.include_router(build_router(backend))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pki.test") as client:
        response = await client.get("/pki/persons.crl")
        assert response.status_code == 200 and response.headers["content-type"] == "application/pkix-crl"
        crl = x509.load_der_x509_crl(response.content)
        assert crl.get_revoked_certificate_by_serial_number(issued.certificate.serial_number) is not None
        assert crl.next_update_utc is not None and crl.next_update_utc > dt.datetime.now(dt.UTC)
        assert (await client.get("/pki/nope.crl")).status_code == 404
        cer = await client.get("/pki/root.cer")
        assert x509.load_der_x509_certificate(cer.content) == pki.hierarchy.root.certificate

        issuer = write(tmp_path / "issuer.pem", pem(pki.hierarchy.authority("persons").certificate))
        cert = write(tmp_path / "cert.pem", pem(issued.certificate))
        request = tmp_path / "request.der"
        openssl("ocsp", "-issuer", issuer, "-cert", cert, "-reqout", request)
        posted = await client.post(
            "/pki/ocsp", content=request.read_bytes(), headers={"content-type": "application/ocsp-request"}
        )
        answer = ocsp.load_der_ocsp_response(posted.content)
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason is x509.ReasonFlags.key_compromise
        encoded = base64.b64encode(request.read_bytes()).decode()
        fetched = ocsp.load_der_ocsp_response((await client.get(f"/pki/ocsp/{encoded}")).content)
        assert fetched.certificate_status is ocsp.OCSPCertStatus.REVOKED
        root = write(tmp_path / "root.pem", pem(pki.hierarchy.root.certificate))
        about_ca = tmp_path / "about-ca.der"
        openssl("ocsp", "-issuer", root, "-cert", issuer, "-reqout", about_ca)
        ca_answer = await client.post("/pki/ocsp", content=about_ca.read_bytes())
        assert ocsp.load_der_ocsp_response(ca_answer.content).certificate_status is ocsp.OCSPCertStatus.GOOD
        junk = ocsp.load_der_ocsp_response((await client.post("/pki/ocsp", content=b"junk")).content)
        assert junk.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    response_file = write(tmp_path / "response.der", posted.content)
    chain = write(
        tmp_path / "chain.pem", pem(pki.hierarchy.root.certificate, pki.hierarchy.authority("persons").certificate)
    )
    checked = openssl("ocsp", "-respin", response_file, "-issuer", issuer, "-cert", cert, "-CAfile", chain, "-no_nonce")
    assert b"Response verify OK" in checked.stderr and b": revoked" in checked.stdout


async def test_the_app_serves_the_pki_once_initialised(pki: PKI, database: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database.url)
    app = create_app(settings, database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pki.test") as client:
        missing = await client.get("/pki/persons.crl")
        assert missing.status_code == 503 and "pki init" in missing.json()["detail"]
        (tmp_path / "pki").symlink_to(pki.hierarchy.directory)
        write(tmp_path / "pki-passphrase", b"test passphrase\n")
        os.environ[pki_store.PASSPHRASE_ENV] = str(tmp_path / "pki-passphrase")
        try:
            served = await client.get("/pki/persons.crl")
        finally:
            del os.environ[pki_store.PASSPHRASE_ENV]
        assert served.status_code == 200
        crl = x509.load_der_x509_crl(served.content)
        assert crl.is_signature_valid(pki.hierarchy.authority("persons").certificate.public_key())  # type: ignore[arg-type]


async def test_server_identity_is_issued_once_and_loads_into_tls(
    pki: PKI, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "pki").symlink_to(pki.hierarchy.directory)
    monkeypatch.setenv(pki_store.PASSPHRASE_ENV, str(write(tmp_path / "passphrase", b"test passphrase\n")))
    settings = Settings(data_dir=data, database_url=database.url, hostname="mx.example.test")
    pki_store.write_operator(settings, "1750000001", "CH Exemple", "Paris (75)")
    first = await pki_store.ensure_server_identity(settings, database)
    again = await pki_store.ensure_server_identity(settings, database)
    assert again == first
    certificate = x509.load_pem_x509_certificates(first.cert.read_bytes())[0]
    assert certificate.subject.rfc4514_string() == "CN=mx.example.test,OU=1750000001,O=CH Exemple,ST=Paris (75),C=FR"
    context = server_context(first.cert, first.key, client_ca=first.ca_bundle, key_password=first.key_password)
    assert context.minimum_version.name == "TLSv1_2"
