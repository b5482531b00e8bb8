"""One test per verdict: valid, invalid signature, untrusted chain, expired, revoked, wrong key usage,
address mismatch, unsigned."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from certs.issue import build_certificate
from certs.profiles import Profile
from certs.revocation import Revoked, build_crl
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.trust import TrustStore
from certs.verdict import Status
from tests.certs.conftest import ALICE, MESSAGE, PKI, person


def _signed(pki: PKI, *, detached: bool = True) -> bytes:
    issued = pki.alice_sign
    return sign_message(MESSAGE, issued.certificate, issued.key, issued.chain, detached=detached)


def test_valid_names_the_signer(pki: PKI) -> None:
    verdict = verify_message(_signed(pki), pki.trust())
    assert verdict.status is Status.VALID and verdict.valid
    assert verdict.signer is not None
    assert (verdict.signer.kind, verdict.signer.owner_id, verdict.signer.name) == (
        "PER",
        "810001234567",
        "Alice MARTIN",
    )
    header = verdict.authentication_results("mx.mssante.localhost")
    assert header.startswith("mx.mssante.localhost; smime=pass body.smime-identifier=" + ALICE)


def test_lf_only_message_verifies(pki: PKI) -> None:
    assert verify_message(_signed(pki).replace(b"\r\n", b"\n"), pki.trust()).status is Status.VALID


def test_altered_content_is_an_invalid_signature(pki: PKI) -> None:
    for detached in (True, False):
        signed = _signed(pki, detached=detached)
        if detached:  # the 8-bit body travels as base64 inside the signed part: change its first character
            head, _, rest = signed.partition(b"Content-Transfer-Encoding: base64\r\n\r\n")
            tampered = head + b"Content-Transfer-Encoding: base64\r\n\r\n" + bytes([rest[0] ^ 1]) + rest[1:]
        else:  # flip one bit of the encapsulated content inside the DER
            head, _, body = signed.partition(b"\r\n\r\n")
            der = bytearray(base64.b64decode(body))
            index = der.find(b"Content-Type: text/plain")
            assert index > 0
            der[index + 14] ^= 1
            tampered = head + b"\r\n\r\n" + base64.encodebytes(bytes(der)).replace(b"\n", b"\r\n")
        verdict = verify_message(tampered, pki.trust())
        assert verdict.status is Status.INVALID_SIGNATURE, (detached, verdict)
        assert "altered" in verdict.reason


def test_foreign_root_is_an_untrusted_chain(pki: PKI, foreign_pki: PKI) -> None:
    issued = foreign_pki.alice_sign
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    verdict = verify_message(signed, pki.trust())
    assert verdict.status is Status.UNTRUSTED_CHAIN
    assert verify_message(signed, foreign_pki.trust()).status is Status.VALID


def test_expired_certificate(pki: PKI) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = person(pki.hierarchy, "sign", now=now, days=30)
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    assert verify_message(signed, pki.trust(), now=now + dt.timedelta(days=29)).status is Status.VALID
    verdict = verify_message(signed, pki.trust(), now=now + dt.timedelta(days=31))
    assert verdict.status is Status.EXPIRED and "expired on" in verdict.reason


def test_certificate_expired_before_it_was_seen(pki: PKI) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    issued = person(pki.hierarchy, "sign", now=long_ago, days=30)
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    assert verify_message(signed, pki.trust()).status is Status.EXPIRED


def test_revoked_certificate_via_a_signed_crl(pki: PKI) -> None:
    issued = person(pki.hierarchy, "sign")
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    trust = pki.trust()
    assert verify_message(signed, trust).status is Status.VALID  # warms the chain cache
    now = dt.datetime.now(dt.UTC)
    entry = Revoked(issued.certificate.serial_number, now.replace(microsecond=0), x509.ReasonFlags.key_compromise)
    trust.add_crl(build_crl(pki.hierarchy.authority("persons"), [entry], now=now), now=now)
    verdict = verify_message(signed, trust)
    assert verdict.status is Status.REVOKED and "keyCompromise" in verdict.reason


def test_crl_signed_by_a_stranger_is_refused(pki: PKI, foreign_pki: PKI) -> None:
    now = dt.datetime.now(dt.UTC)
    forged = build_crl(foreign_pki.hierarchy.authority("persons"), [], now=now)
    with pytest.raises(InvalidSignature):
        pki.trust().add_crl(forged, now=now)


def test_wrong_key_usage(pki: PKI) -> None:
    # an authentication certificate (clientAuth only) that names the mailbox, used to sign mail
    key = pki.alice_sign.key
    certificate = build_certificate(
        pki.hierarchy,
        Profile.PERSON_AUTH,
        pki.alice_sign.certificate.subject,
        key.public_key(),
        emails=(ALICE,),
        now=dt.datetime.now(dt.UTC),
    )
    signed = sign_message(MESSAGE, certificate, key, pki.alice_sign.chain)
    verdict = verify_message(signed, pki.trust())
    assert verdict.status is Status.WRONG_KEY_USAGE and "emailProtection" in verdict.reason


def test_address_mismatch(pki: PKI) -> None:
    forged = MESSAGE.replace(ALICE.encode(), b"mallory@mssante.localhost")
    issued = pki.alice_sign
    verdict = verify_message(sign_message(forged, issued.certificate, issued.key, issued.chain), pki.trust())
    assert verdict.status is Status.ADDRESS_MISMATCH
    assert "mallory@mssante.localhost" in verdict.reason and ALICE in verdict.reason


def test_sender_field_may_carry_the_signing_address(pki: PKI) -> None:
    """RFC 8550 §3: From or Sender; a secretary signs for a service mailbox."""
    shared = MESSAGE.replace(ALICE.encode(), b"secretariat@mssante.localhost").replace(
        b"To:", b"Sender: " + ALICE.encode() + b"\r\nTo:", 1
    )
    issued = pki.alice_sign
    verdict = verify_message(sign_message(shared, issued.certificate, issued.key, issued.chain), pki.trust())
    assert verdict.status is Status.VALID and "on behalf of secretariat@mssante.localhost" in verdict.reason
    no_sender = shared.replace(b"Sender: " + ALICE.encode() + b"\r\n", b"")
    signed = sign_message(no_sender, issued.certificate, issued.key, issued.chain)
    assert verify_message(signed, pki.trust()).status is Status.ADDRESS_MISMATCH


def test_unsigned(pki: PKI) -> None:
    verdict = verify_message(MESSAGE, pki.trust())
    assert verdict.status is Status.UNSIGNED and verdict.signer is None
    assert "smime=none" in verdict.authentication_results("mx")


def test_chain_cache_is_used_and_bounded(pki: PKI) -> None:
    trust = TrustStore([pki.hierarchy.root.certificate], pki.hierarchy.intermediates, cache_size=1)
    signed = _signed(pki)
    assert verify_message(signed, trust).valid
    assert len(trust._cache) == 1
    other = pki.cardio_sign
    cardio = sign_message(
        MESSAGE.replace(ALICE.encode(), b"cardiologie@mssante.localhost"), other.certificate, other.key, other.chain
    )
    assert verify_message(cardio, trust).valid
    assert len(trust._cache) == 1
