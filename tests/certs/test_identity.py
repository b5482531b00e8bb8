"""Certificate login (SASL EXTERNAL): mapping client certificates to their owner, and refusals with reasons."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.identity import certificate_login
from certs.revocation import Revoked
from tests.certs.conftest import PKI, org, person


def test_organisation_auth_certificate_maps_to_its_structure(pki: PKI) -> None:
    der = pki.cardio_auth.certificate.public_bytes(serialization.Encoding.DER)
    login = certificate_login(der, pki.trust())
    assert login.accepted, login.reason
    assert (login.kind, login.owner_id, login.revoked) == ("ORG", "1750000001", False)
    assert login.serial == pki.cardio_auth.serial_hex


def test_person_auth_certificate_maps_to_the_idnat(pki: PKI) -> None:
    login = certificate_login(pki.alice_auth.certificate, pki.trust())
    assert login.accepted and (login.kind, login.owner_id, login.name) == ("PER", "810001234567", "Alice MARTIN")


def test_revoked_certificate_is_refused_with_the_reason(pki: PKI) -> None:
    issued = org(pki.hierarchy, "auth", email=None)
    trust = pki.trust()
    assert certificate_login(issued.certificate, trust).accepted
    now = dt.datetime.now(dt.UTC)
    issuer = pki.hierarchy.authority("organisations").certificate.subject
    trust.add_revocations(issuer, [Revoked(issued.certificate.serial_number, now, x509.ReasonFlags.key_compromise)])
    login = certificate_login(issued.certificate, trust)
    assert not login.accepted and login.revoked and "revoked" in login.reason and login.owner_id == "1750000001"


def test_signature_certificate_cannot_log_in(pki: PKI) -> None:
    login = certificate_login(pki.alice_sign.certificate, pki.trust())
    assert not login.accepted and "clientAuth" in login.reason


def test_foreign_and_expired_certificates_are_refused(pki: PKI, foreign_pki: PKI) -> None:
    assert "trusted" in certificate_login(foreign_pki.cardio_auth.certificate, pki.trust()).reason
    issued = person(pki.hierarchy, "auth", email=None, days=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    login = certificate_login(issued.certificate, pki.trust(), now=later)
    assert not login.accepted and "expired" in login.reason


def test_server_certificate_reads_as_its_operator_and_garbage_is_refused(pki: PKI) -> None:
    login = certificate_login(pki.server.certificate, pki.trust())
    assert login.accepted and login.kind == "ORG" and login.owner_id == "4000000000"
    garbage = certificate_login(b"\x30\x00", pki.trust())
    assert not garbage.accepted and "cannot be read" in garbage.reason
