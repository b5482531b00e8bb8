"""Round trips (render then parse) over arbitrary messages: sign then verify, encrypt then decrypt."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs.mime import canonical, split_entity
from certs.smime_crypt import CBC, GCM, decrypt_message, encrypt_message
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.verdict import Status
from tests.certs.conftest import ALICE, PKI

_TEXT = st.text(st.characters(codec="utf-8"), max_size=300)
_SUBJECT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
_BODY_TYPES = st.sampled_from(
    [
        b"",
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
    ]
)
_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _message(subject: str, content_headers: bytes, body: str, lf: bool) -> bytes:
    header = f"From: Dr Alice MARTIN <{ALICE}>\r\nTo: bob@mssante.localhost\r\nSubject: {subject}\r\n".encode()
    raw = header + content_headers + b"\r\n" + body.encode()
    return raw.replace(b"\r\n", b"\n") if lf else raw


@_SETTINGS
@given(_SUBJECT, _BODY_TYPES, _TEXT, st.booleans(), st.booleans())
def test_sign_then_verify(pki: PKI, subject: str, content_headers: bytes, body: str, lf: bool, detached: bool) -> None:
    issued = pki.alice_sign
    raw = _message(subject, content_headers, body, lf)
    signed = sign_message(raw, issued.certificate, issued.key, issued.chain, detached=detached)
    verdict = verify_message(signed, pki.trust())
    assert verdict.status is Status.VALID, verdict.reason
    assert verdict.content is not None
    entity_header, entity_body = split_entity(verdict.content)
    if content_headers and b"8bit" not in content_headers:
        assert entity_body == canonical(body.encode())  # 7-bit-safe encodings travel untouched
    assert entity_header.startswith(b"Content-Type: text/")


@_SETTINGS
@given(_SUBJECT, _TEXT, st.sampled_from([CBC, GCM]))
def test_encrypt_then_decrypt(pki: PKI, subject: str, body: str, algorithm: str) -> None:
    raw = (
        _message(
            subject, b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n", "", lf=False
        )
        + body.encode().hex().encode()
    )
    encrypted = encrypt_message(raw, [pki.alice_encrypt.certificate], algorithm=algorithm)
    opened = decrypt_message(encrypted, pki.alice_encrypt.certificate, pki.alice_encrypt.key)
    assert split_entity(opened)[1] == split_entity(canonical(raw))[1]
    assert opened.startswith(f"From: Dr Alice MARTIN <{ALICE}>\r\n".encode())
