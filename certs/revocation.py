"""Revocation: reasons, revoked entries and signed CRLs (RFC 5280 §5).

The registry of issued certificates lives in the database (outside ``certs``); it hands revoked entries to
:func:`build_crl` and to the OCSP responder through the :class:`CertificateRegistry` protocol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from certs.errors import ProfileError
from certs.hierarchy import Authority

CRL_LIFETIME = dt.timedelta(days=7)  # nextUpdate (RFC 5280 §5.1.2.5); regenerated on each request
# RFC 5280 §5.3.1 reason codes, by the names the CLI accepts (``--reason keyCompromise``).
REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}


def parse_reason(name: str) -> x509.ReasonFlags:
    try:
        return REASONS[name]
    except KeyError:
        raise ProfileError(f"unknown revocation reason {name!r}; use one of {', '.join(REASONS)}") from None


def reason_name(reason: x509.ReasonFlags) -> str:
    return next(name for name, flag in REASONS.items() if flag is reason)


@dataclass(frozen=True)
class Revoked:
    serial: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags


@dataclass(frozen=True)
class CertificateStatus:
    """What the registry knows of one issued certificate (the OCSP responder's answer)."""

    serial: int
    ca: str
    revoked: Revoked | None


class CertificateRegistry(Protocol):
    """Where issued certificates and their revocations are recorded (``mssante.pki_store`` implements it)."""

    async def revoked(self, ca: str) -> Sequence[Revoked]: ...

    async def status(self, ca: str, serial: int) -> CertificateStatus | None: ...


def build_crl(authority: Authority, revoked: Iterable[Revoked], *, now: dt.datetime) -> x509.CertificateRevocationList:
    """A CRL signed by ``authority`` with thisUpdate ``now`` and nextUpdate a week later.

    The CRL number (RFC 5280 §5.2.3, monotonically increasing) is the time in seconds: two CRLs made in
    the same second hold the same revocations.
    """
    key = authority.signing_key()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now)
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    for entry in revoked:
        item = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
            .add_extension(x509.CRLReason(entry.reason), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(item)
    return builder.sign(key, hashes.SHA256())
