"""Interoperability with the ``openssl cms`` command in both directions: sign/verify and encrypt/decrypt."""

from __future__ import annotations

from pathlib import Path

import pytest

from certs.issue import Issued
from certs.smime_crypt import CBC, GCM, decrypt_message, encrypt_message
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.verdict import Status
from tests.certs.conftest import ALICE, MESSAGE, PKI, TEXT, body_text, chain_files, openssl, pem, write


@pytest.mark.parametrize("detached", [True, False], ids=["multipart-signed", "opaque"])
@pytest.mark.parametrize("signer", ["alice_sign", "cardio_sign"], ids=["rsa-person", "ecdsa-org"])
def test_we_sign_openssl_verifies(pki: PKI, tmp_path: Path, detached: bool, signer: str) -> None:
    issued: Issued = getattr(pki, signer)
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain, detached=detached)
    if detached:
        assert b"micalg=sha-256" in signed and b'protocol="application/pkcs7-signature"' in signed
    else:
        assert b"smime-type=signed-data" in signed
    assert signed.startswith(b"From: Dr Alice MARTIN")
    message = write(tmp_path / "signed.eml", signed)
    ca = write(tmp_path / "ca.pem", pem(pki.hierarchy.root.certificate))
    result = openssl("cms", "-verify", "-in", message, "-CAfile", ca, "-purpose", "smimesign")
    assert b"Verification successful" in result.stderr
    assert TEXT in body_text(result.stdout)


@pytest.mark.parametrize("detached", [True, False], ids=["multipart-signed", "opaque"])
def test_openssl_signs_we_verify(pki: PKI, tmp_path: Path, detached: bool) -> None:
    cert, key = chain_files(tmp_path, pki.alice_sign)
    body = write(tmp_path / "body.txt", b"Content-Type: text/plain; charset=utf-8\r\n\r\nSigned by OpenSSL\r\n")
    args = ["-nodetach"] if not detached else []
    signed = openssl(
        "cms",
        "-sign",
        "-in",
        body,
        "-signer",
        cert,
        "-inkey",
        key,
        "-md",
        "sha256",
        "-from",
        ALICE,
        "-to",
        "bob@mssante.localhost",
        "-subject",
        "interop",
        *args,
    ).stdout
    verdict = verify_message(signed, pki.trust())
    assert verdict.status is Status.VALID, verdict.reason
    assert verdict.opaque is not detached
    assert verdict.signer is not None and verdict.signer.owner_id == "810001234567"
    assert verdict.signer.name == "Alice MARTIN" and verdict.signer.emails == (ALICE,)
    assert verdict.content is not None and b"Signed by OpenSSL" in verdict.content


def test_openssl_rsassa_pss_signature_verifies(pki: PKI, tmp_path: Path) -> None:
    cert, key = chain_files(tmp_path, pki.alice_sign)
    body = write(tmp_path / "body.txt", b"Content-Type: text/plain\r\n\r\nPSS\r\n")
    signed = openssl(
        "cms",
        "-sign",
        "-in",
        body,
        "-signer",
        cert,
        "-inkey",
        key,
        "-keyopt",
        "rsa_padding_mode:pss",
        "-from",
        ALICE,
        "-subject",
        "pss",
    ).stdout
    verdict = verify_message(signed, pki.trust())
    assert verdict.status is Status.VALID, verdict.reason


@pytest.mark.parametrize("algorithm", [CBC, GCM])
def test_we_encrypt_openssl_decrypts(pki: PKI, tmp_path: Path, algorithm: str) -> None:
    encrypted = encrypt_message(MESSAGE, [pki.alice_encrypt.certificate], algorithm=algorithm)
    assert b"compte rendu" not in encrypted and b"Bonjour" not in encrypted
    expected = b"authEnveloped-data" if algorithm == GCM else b"smime-type=enveloped-data"
    assert expected in encrypted
    cert, key = chain_files(tmp_path, pki.alice_encrypt)
    message = write(tmp_path / "encrypted.eml", encrypted)
    opened = openssl("cms", "-decrypt", "-in", message, "-recip", cert, "-inkey", key).stdout
    assert TEXT in body_text(opened)
    asn1 = openssl("cms", "-cmsout", "-print", "-in", message).stdout
    assert (b"aes-256-gcm" if algorithm == GCM else b"aes-256-cbc") in asn1


@pytest.mark.parametrize("cipher", ["-aes-256-cbc", "-aes-256-gcm", "-aes-128-cbc"])
def test_openssl_encrypts_we_decrypt(pki: PKI, tmp_path: Path, cipher: str) -> None:
    cert, _key = chain_files(tmp_path, pki.alice_encrypt)
    recipient = write(tmp_path / "recipient.pem", pem(pki.alice_encrypt.certificate))
    body = write(tmp_path / "body.txt", b"Content-Type: text/plain\r\n\r\nFor Alice only\r\n")
    encrypted = openssl("cms", "-encrypt", "-in", body, cipher, "-from", "x@y", "-subject", "s", recipient).stdout
    opened = decrypt_message(encrypted, pki.alice_encrypt.certificate, pki.alice_encrypt.key)
    assert opened.startswith(b"From: x@y\r\n") and opened.endswith(b"For Alice only\r\n")
    assert cert.exists()


def test_encrypt_to_several_recipients_and_round_trip(pki: PKI) -> None:
    other = pki.server  # any RSA certificate can be a key-transport recipient
    for algorithm in (CBC, GCM):
        encrypted = encrypt_message(MESSAGE, [pki.alice_encrypt.certificate, other.certificate], algorithm=algorithm)
        for issued in (pki.alice_encrypt, other):
            opened = decrypt_message(encrypted, issued.certificate, issued.key)
            assert opened.startswith(b"From: Dr Alice MARTIN")
            assert b"Content-Transfer-Encoding: base64" in opened  # the 8-bit body was protected as base64
            assert TEXT in body_text(opened)


def test_sign_then_encrypt_then_decrypt_then_verify(pki: PKI) -> None:
    signed = sign_message(MESSAGE, pki.alice_sign.certificate, pki.alice_sign.key, pki.alice_sign.chain)
    encrypted = encrypt_message(signed, [pki.alice_encrypt.certificate], algorithm=GCM)
    assert verify_message(encrypted, pki.trust()).status is Status.UNSIGNED
    no_smime_type = encrypted.replace(b"; smime-type=authEnveloped-data", b"")
    verdict = verify_message(no_smime_type, pki.trust())
    assert verdict.status is Status.UNSIGNED and "encrypted" in verdict.reason
    opened = decrypt_message(encrypted, pki.alice_encrypt.certificate, pki.alice_encrypt.key)
    assert verify_message(opened, pki.trust()).status is Status.VALID
