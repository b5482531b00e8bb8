"""verify_message with its fast paths and caches gives the verdict of the reference paths, message for message.

The reference run swaps the fast readers for the ones they replace (asn1crypto, the email package, plain base64,
the count rule for line ends) and uses a fresh trust store; the fast run reuses one store, so its second
verification of a message comes from the caches.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs import cms, mime, smime_verify
from certs.issue import build_certificate
from certs.mime import parse_headers
from certs.profiles import Profile
from certs.revocation import Revoked
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.trust import ChainStatus, Purpose, TrustStore
from certs.verdict import Status, Verdict
from tests.certs.conftest import ALICE, CARDIO, MESSAGE, PKI, person


class _PlainBase64:
    def decode(self, text: bytes) -> bytes:
        return base64.b64decode(text)

    def missed(self, _decoded: bytes) -> bool:
        return False


def _count_rule(raw: bytes) -> bytes:
    if raw.count(b"\n") == raw.count(b"\r\n"):
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _reference(
    monkeypatch: pytest.MonkeyPatch, pki: PKI, raw: bytes, now: dt.datetime, **extra: tuple[object, ...]
) -> Verdict:
    trust = pki.trust()
    for name, value in extra.items():
        getattr(trust, name)(*value)
    with monkeypatch.context() as patch:
        patch.setattr(cms, "read_signed_data", lambda _der: None)
        patch.setattr(smime_verify, "read_signed_data", lambda _der: None)
        patch.setattr(smime_verify, "read_simple_signed", lambda _raw: None)
        patch.setattr(smime_verify, "read_headers", parse_headers)
        patch.setattr(mime, "_read_part_headers", parse_headers)
        patch.setattr(mime, "BASE64", _PlainBase64())
        patch.setattr(smime_verify, "BASE64", _PlainBase64())
        patch.setattr(smime_verify, "canonical", _count_rule)
        patch.setattr(smime_verify, "_signer", smime_verify.signer_of)
        patch.setattr(smime_verify, "_addresses", smime_verify._parse_addresses)
        patch.setattr(smime_verify, "_cached_address_check", smime_verify._address_check)
        return verify_message(raw, trust, now=now)


def _same_verdicts(
    monkeypatch: pytest.MonkeyPatch,
    pki: PKI,
    trust: TrustStore,
    raw: bytes,
    now: dt.datetime,
    **extra: tuple[object, ...],
) -> Verdict:
    expected = _reference(monkeypatch, pki, raw, now, **extra)
    assert verify_message(raw, trust, now=now) == expected
    assert verify_message(raw, trust, now=now) == expected  # from the caches
    return expected


def _corpus(pki: PKI) -> list[bytes]:
    alice, cardio = pki.alice_sign, pki.cardio_sign
    to_cardio = MESSAGE.replace(ALICE.encode(), CARDIO.encode())
    auth = build_certificate(
        pki.hierarchy,
        Profile.PERSON_AUTH,
        alice.certificate.subject,
        alice.key.public_key(),
        emails=(ALICE,),
        now=dt.datetime.now(dt.UTC),
    )
    signed = [
        sign_message(MESSAGE, alice.certificate, alice.key, alice.chain),
        sign_message(MESSAGE, alice.certificate, alice.key, alice.chain, detached=False),
        sign_message(to_cardio, cardio.certificate, cardio.key, cardio.chain),
        sign_message(to_cardio, cardio.certificate, cardio.key, cardio.chain, detached=False),
        sign_message(MESSAGE, cardio.certificate, cardio.key, cardio.chain),  # address mismatch
        sign_message(MESSAGE, auth, alice.key, alice.chain),  # wrong key usage
        sign_message(MESSAGE, alice.certificate, alice.key, ()),  # intermediate from the trust store
        MESSAGE,
    ]
    tampered = [m.replace(b"charset=utf-8", b"charset=utf-7") for m in signed]
    tampered += [m.replace(b"\r\n", b"\n") for m in signed]
    return signed + tampered


@pytest.fixture(scope="module")
def corpus(pki: PKI) -> list[bytes]:
    return _corpus(pki)


def test_corpus_verdicts_are_the_reference_verdicts(
    monkeypatch: pytest.MonkeyPatch, pki: PKI, corpus: list[bytes]
) -> None:
    trust = pki.trust()
    now = dt.datetime.now(dt.UTC)
    statuses = {_same_verdicts(monkeypatch, pki, trust, raw, now).status for raw in corpus}
    assert {Status.VALID, Status.INVALID_SIGNATURE, Status.WRONG_KEY_USAGE, Status.ADDRESS_MISMATCH} <= statuses
    later = now + dt.timedelta(days=5000)
    assert _same_verdicts(monkeypatch, pki, trust, corpus[0], later).status is Status.EXPIRED


def test_foreign_and_revoked_verdicts_are_the_reference_verdicts(
    monkeypatch: pytest.MonkeyPatch, pki: PKI, foreign_pki: PKI, corpus: list[bytes]
) -> None:
    now = dt.datetime.now(dt.UTC)
    foreign = foreign_pki.alice_sign
    signed = sign_message(MESSAGE, foreign.certificate, foreign.key, foreign.chain)
    assert _same_verdicts(monkeypatch, pki, pki.trust(), signed, now).status is Status.UNTRUSTED_CHAIN
    trust = pki.trust()
    assert verify_message(corpus[0], trust, now=now).valid  # cached before the revocation
    entry = Revoked(pki.alice_sign.certificate.serial_number, now.replace(microsecond=0), x509.ReasonFlags.superseded)
    issuer = pki.alice_sign.certificate.issuer
    trust.add_revocations(issuer, [entry])
    revoked = _same_verdicts(monkeypatch, pki, trust, corpus[0], now, add_revocations=(issuer, [entry]))
    assert revoked.status is Status.REVOKED
    trust.replace_revocations(issuer, [])
    assert verify_message(corpus[0], trust, now=now).valid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_messages_get_the_reference_verdicts(
    monkeypatch: pytest.MonkeyPatch, pki: PKI, corpus: list[bytes], data: st.DataObject
) -> None:
    message = bytearray(data.draw(st.sampled_from(corpus[:4])))
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(message) - 1))
        message[index] = data.draw(st.sampled_from([*b"\r\n :;=\"-AZaz+/", data.draw(st.integers(0, 255))]))
    now = dt.datetime.now(dt.UTC)
    _same_verdicts(monkeypatch, pki, pki.trust(), bytes(message), now)


def test_the_identity_cache_follows_the_chain_window(pki: PKI) -> None:
    issued = person(pki.hierarchy, "sign", days=30)
    trust = pki.trust()
    now = dt.datetime.now(dt.UTC)
    assert trust.validate(issued.certificate, issued.chain, now=now).ok
    assert len(trust._recent) == 1
    again = trust.validate(issued.certificate, issued.chain, now=now)
    assert again.ok and again.chain[0] is issued.certificate
    expired = trust.validate(issued.certificate, issued.chain, now=now + dt.timedelta(days=31))
    assert expired.status is ChainStatus.EXPIRED
    usage = trust.validate(issued.certificate, issued.chain, now=now, purpose=Purpose.CLIENT_AUTH)
    assert usage.status is ChainStatus.WRONG_KEY_USAGE  # the cache is per purpose
    bounded = TrustStore([pki.hierarchy.root.certificate], pki.hierarchy.intermediates, cache_size=1)
    for other in (issued, pki.alice_sign, pki.cardio_sign):
        assert bounded.validate(other.certificate, other.chain, now=now).ok
    assert len(bounded._recent) == 1


def test_signature_parts_with_odd_base64_are_worded_as_before(monkeypatch: pytest.MonkeyPatch, pki: PKI) -> None:
    issued = pki.alice_sign
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    trust = pki.trust()
    now = dt.datetime.now(dt.UTC)
    assert verify_message(signed, trust, now=now).valid  # the signer's base64 prefix is learnt
    head, _, tail = signed.rpartition(b"\r\n\r\n--")
    broken = head[:-1] + b"\r\n\r\n--" + tail  # one base64 character fewer
    with pytest.raises(binascii.Error):
        binascii.a2b_base64(broken.rpartition(b"\r\n\r\n")[0].rpartition(b"\r\n\r\n")[2])
    verdict = _same_verdicts(monkeypatch, pki, trust, broken, now)
    assert verdict.status is Status.MALFORMED and "base64" in verdict.reason


def test_verification_from_many_threads_with_tiny_caches(monkeypatch: pytest.MonkeyPatch, pki: PKI) -> None:
    """The gateway verifies in worker threads: caches evicting under each other never change a verdict."""
    prefixes = mime.Base64Prefixes(size=1)
    monkeypatch.setattr(cms, "_LAYOUTS", cms._Layouts(1, per_key=1))
    monkeypatch.setattr(cms, "_CERTIFICATE_SETS", cms._CertificateSets(1))
    monkeypatch.setattr(mime, "BASE64", prefixes)
    monkeypatch.setattr(smime_verify, "BASE64", prefixes)
    alice, cardio = pki.alice_sign, pki.cardio_sign
    messages = [
        sign_message(MESSAGE, alice.certificate, alice.key, alice.chain),
        sign_message(MESSAGE.replace(ALICE.encode(), CARDIO.encode()), cardio.certificate, cardio.key, cardio.chain),
        sign_message(MESSAGE, alice.certificate, alice.key, alice.chain, detached=False),
    ]
    trust = TrustStore([pki.hierarchy.root.certificate], pki.hierarchy.intermediates, cache_size=1)
    with ThreadPoolExecutor(max_workers=6) as pool:
        verdicts = list(pool.map(lambda i: verify_message(messages[i % 3], trust), range(600)))
    assert all(verdict.status is Status.VALID for verdict in verdicts), {v.reason for v in verdicts}
