"""Hostile input never raises out of verify_message: truncated CMS, wrong content types, random bytes."""

from __future__ import annotations

import base64

import pytest
from asn1crypto import cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs.errors import DecryptionError, MessageFormatError, SMIMEError
from certs.smime_crypt import CBC, GCM, decrypt_message, encrypt_message
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.verdict import Status
from tests.certs.conftest import MESSAGE, PKI

SIGNED_HEADER = (
    b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="B"\r\n\r\n'
)
OPAQUE_HEADER = (
    b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\nContent-Transfer-Encoding: base64\r\n\r\n"
)


def _multipart(signature: bytes) -> bytes:
    return (
        SIGNED_HEADER + b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B\r\n"
        b"Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(signature).replace(b"\n", b"\r\n")
        + b"\r\n--B--\r\n"
    )


def _opaque(der: bytes) -> bytes:
    return OPAQUE_HEADER + base64.encodebytes(der).replace(b"\n", b"\r\n")


def _signature_der(pki: PKI) -> bytes:
    issued = pki.alice_sign
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain, detached=False)
    return base64.b64decode(signed.partition(b"\r\n\r\n")[2])


def test_truncated_cms_is_malformed(pki: PKI) -> None:
    der = _signature_der(pki)
    for cut in (1, 10, len(der) // 2, len(der) - 1):
        for message in (_opaque(der[:cut]), _multipart(der[:cut])):
            verdict = verify_message(message, pki.trust())
            assert verdict.status is Status.MALFORMED, (cut, verdict)
            assert "CMS" in verdict.reason or "cannot" in verdict.reason


def test_wrong_cms_content_type_is_malformed(pki: PKI) -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"not a signature"}).dump()
    verdict = verify_message(_multipart(data), pki.trust())
    assert verdict.status is Status.MALFORMED and "not signed-data" in verdict.reason


def test_random_bytes_in_the_signature_part(pki: PKI) -> None:
    verdict = verify_message(_multipart(b"\x30\x82\xff\xff random"), pki.trust())
    assert verdict.status is Status.MALFORMED


def test_structural_mime_errors(pki: PKI) -> None:
    no_boundary = SIGNED_HEADER.replace(b'; boundary="B"', b"") + b"body"
    assert verify_message(no_boundary, pki.trust()).status is Status.MALFORMED
    one_part = SIGNED_HEADER + b"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n"
    assert verify_message(one_part, pki.trust()).status is Status.MALFORMED
    bad_base64 = OPAQUE_HEADER + b"!!!!"
    assert verify_message(bad_base64, pki.trust()).status is Status.MALFORMED
    pgp = SIGNED_HEADER.replace(b"application/pkcs7-signature", b"application/pgp-signature")
    assert verify_message(pgp + b"--B\r\n\r\nx\r\n--B--\r\n", pki.trust()).status is Status.UNSIGNED


def test_a_signature_part_that_is_not_pkcs7_is_malformed(pki: PKI) -> None:
    message = _multipart(_signature_der(pki)).replace(
        b"Content-Type: application/pkcs7-signature\r\nContent-Transfer",
        b"Content-Type: text/plain\r\nContent-Transfer",
    )
    assert verify_message(message, pki.trust()).status is Status.MALFORMED


def _never_raises(pki: PKI, message: bytes) -> None:
    verdict = verify_message(message, pki.trust())
    assert isinstance(verdict.status, Status) and verdict.reason
    assert not verdict.valid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(pki: PKI, data: bytes) -> None:
    _never_raises(pki, data)
    _never_raises(pki, _opaque(data))
    _never_raises(pki, _multipart(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_signatures_never_raise_and_never_vouch_for_other_content(pki: PKI, data: st.DataObject) -> None:
    original = _signature_der(pki)
    signed_content = verify_message(_opaque(original), pki.trust()).content
    der = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    verdict = verify_message(_opaque(bytes(der)), pki.trust())
    assert isinstance(verdict.status, Status) and verdict.reason
    if verdict.status is Status.VALID:  # only bytes outside the signed data changed (e.g. an unsigned field)
        assert verdict.content == signed_content


ENVELOPED_HEADER = (
    b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: application/pkcs7-mime; smime-type=%s\r\nContent-Transfer-Encoding: base64\r\n\r\n"
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=1500), st.sampled_from([b"enveloped-data", b"authEnveloped-data"]))
def test_decrypting_garbage_raises_only_our_errors(pki: PKI, data: bytes, smime_type: bytes) -> None:
    message = ENVELOPED_HEADER % smime_type + base64.encodebytes(data).replace(b"\n", b"\r\n")
    with pytest.raises(SMIMEError):
        decrypt_message(message, pki.alice_encrypt.certificate, pki.alice_encrypt.key)


def test_decrypting_a_message_for_someone_else(pki: PKI) -> None:
    for algorithm in (CBC, GCM):
        encrypted = encrypt_message(MESSAGE, [pki.server.certificate], algorithm=algorithm)
        with pytest.raises(DecryptionError):
            decrypt_message(encrypted, pki.alice_encrypt.certificate, pki.alice_encrypt.key)
    with pytest.raises(MessageFormatError):
        decrypt_message(MESSAGE, pki.alice_encrypt.certificate, pki.alice_encrypt.key)
