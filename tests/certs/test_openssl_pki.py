"""CRL, OCSP and PKCS#12 checked by the openssl command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from certs.errors import OCSPRequestError, ProfileError
from certs.ocsp import build_response, parse_request
from certs.pkcs12 import export_pkcs12, load_pkcs12
from certs.revocation import CertificateStatus, Revoked, build_crl
from tests.certs.conftest import PKI, chain_files, openssl, pem, person, write


def test_crl_verifies_with_openssl_and_lists_the_revocation(pki: PKI, tmp_path: Path) -> None:
    issued = person(pki.hierarchy, "sign")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entry = Revoked(issued.certificate.serial_number, now, x509.ReasonFlags.key_compromise)
    crl = build_crl(pki.hierarchy.authority("persons"), [entry], now=now)
    path = write(tmp_path / "persons.crl", crl.public_bytes(serialization.Encoding.DER))
    ca = write(tmp_path / "persons-ca.pem", pem(pki.hierarchy.authority("persons").certificate))
    result = openssl("crl", "-inform", "DER", "-in", path, "-CAfile", ca, "-noout", "-text")
    assert b"verify OK" in result.stderr
    assert f"Serial Number: {issued.serial_hex}".encode() in result.stdout
    assert b"Key Compromise" in result.stdout and b"Next Update" in result.stdout
    # openssl verify with CRL checking refuses the revoked certificate and accepts a good one
    chain = write(
        tmp_path / "chain.pem", pem(pki.hierarchy.root.certificate, pki.hierarchy.authority("persons").certificate)
    )
    crl_pem = write(tmp_path / "persons.crl.pem", crl.public_bytes(serialization.Encoding.PEM))
    revoked = write(tmp_path / "revoked.pem", pem(issued.certificate))
    good = write(tmp_path / "good.pem", pem(pki.alice_sign.certificate))
    refused = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", crl_pem, revoked, check=False)
    assert refused.returncode != 0 and b"certificate revoked" in refused.stdout + refused.stderr
    assert b": OK" in openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", crl_pem, good).stdout


@pytest.mark.parametrize("revoked", [False, True], ids=["good", "revoked"])
def test_ocsp_response_checked_by_openssl(pki: PKI, tmp_path: Path, revoked: bool) -> None:
    issued = person(pki.hierarchy, "sign")
    authority = pki.hierarchy.authority("persons")
    issuer = write(tmp_path / "issuer.pem", pem(authority.certificate))
    cert = write(tmp_path / "cert.pem", pem(issued.certificate))
    request = tmp_path / "request.der"
    openssl("ocsp", "-issuer", issuer, "-cert", cert, "-reqout", request, "-no_nonce")
    query = parse_request(request.read_bytes(), pki.hierarchy)
    assert query.authority is authority and query.serial == issued.certificate.serial_number
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entry = Revoked(query.serial, now, x509.ReasonFlags.superseded) if revoked else None
    response = write(
        tmp_path / "response.der", build_response(query, CertificateStatus(query.serial, "persons", entry), now=now)
    )
    chain = write(tmp_path / "chain.pem", pem(pki.hierarchy.root.certificate, authority.certificate))
    result = openssl("ocsp", "-respin", response, "-issuer", issuer, "-cert", cert, "-CAfile", chain)
    assert b"Response verify OK" in result.stderr
    assert (b": revoked" in result.stdout and b"superseded" in result.stdout) if revoked else b": good" in result.stdout


def test_ocsp_unknown_serial_and_foreign_issuer(pki: PKI, foreign_pki: PKI, tmp_path: Path) -> None:
    for hierarchy, expected in ((pki, "unknown"), (foreign_pki, "unauthorized")):
        issuer = write(tmp_path / "issuer.pem", pem(hierarchy.hierarchy.authority("persons").certificate))
        cert = write(tmp_path / "cert.pem", pem(hierarchy.alice_sign.certificate))
        request = tmp_path / "request.der"
        openssl("ocsp", "-issuer", issuer, "-cert", cert, "-reqout", request)
        query = parse_request(request.read_bytes(), pki.hierarchy)
        answer = ocsp.load_der_ocsp_response(build_response(query, None, now=dt.datetime.now(dt.UTC)))
        if expected == "unknown":
            assert answer.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
            assert any(isinstance(e.value, x509.OCSPNonce) for e in answer.extensions)  # nonce echoed
        else:
            assert answer.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    with pytest.raises(OCSPRequestError):
        parse_request(b"\x30\x03\x02\x01\x00", pki.hierarchy)


@pytest.mark.parametrize("legacy", [False, True], ids=["aes256", "legacy-3des"])
def test_pkcs12_opens_with_openssl(pki: PKI, tmp_path: Path, legacy: bool) -> None:
    issued = pki.alice_sign
    data = export_pkcs12(issued.certificate, issued.key, issued.chain, b"s3cret pass", legacy=legacy)
    path = write(tmp_path / "alice.p12", data)
    password = write(tmp_path / "password", b"s3cret pass\n")
    args = ["-legacy"] if legacy else []
    result = openssl("pkcs12", "-in", path, "-passin", f"file:{password}", "-nodes", "-info", *args)
    text = result.stdout + result.stderr
    assert (b"MAC: sha1," if legacy else b"MAC: sha256,") in text
    assert (b"pbeWithSHA1And3-KeyTripleDES-CBC" if legacy else b"PBES2, PBKDF2, AES-256-CBC") in text
    assert b"friendlyName: GN=Alice+SN=MARTIN+CN=810001234567" in text
    assert text.count(b"BEGIN CERTIFICATE") == 3 and b"BEGIN PRIVATE KEY" in text
    wrong = write(tmp_path / "wrong", b"nope\n")
    assert openssl("pkcs12", "-in", path, "-passin", f"file:{wrong}", "-noout", *args, check=False).returncode != 0
    certificate, key, chain = load_pkcs12(data, b"s3cret pass")
    assert certificate == issued.certificate and len(chain) == 2
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == (
        issued.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(ProfileError):
        load_pkcs12(data, b"wrong")


def test_pkcs12_from_openssl_loads(pki: PKI, tmp_path: Path) -> None:
    cert, key = chain_files(tmp_path, pki.cardio_sign)
    out = tmp_path / "openssl.p12"
    openssl("pkcs12", "-export", "-in", cert, "-inkey", key, "-out", out, "-passout", "pass:abc")
    certificate, _key, chain = load_pkcs12(out.read_bytes(), b"abc")
    assert certificate == pki.cardio_sign.certificate and chain
