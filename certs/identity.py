"""Certificate login: who a TLS client certificate belongs to (SASL EXTERNAL, RFC 4422 Appendix A).

An establishment's relay or application presents an organisation or person authentication certificate; the
gateway maps it to the mailbox whose owner matches (idNat for ``PER``, structure id for ``ORG``). The result
says plainly why a certificate is refused (revoked, expired, foreign CA, not an authentication certificate).
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass

from cryptography import x509

from certs.issue import serial_hex
from certs.names import identity_of, mailbox_addresses
from certs.trust import ChainStatus, Purpose, TrustStore


@dataclass(frozen=True)
class CertificateLogin:
    accepted: bool
    reason: str
    kind: str | None  # PER or ORG
    owner_id: str | None  # idNat_PS or structure id
    name: str | None
    emails: tuple[str, ...]
    serial: str
    revoked: bool


def certificate_login(
    certificate: x509.Certificate | bytes,
    trust: TrustStore,
    *,
    now: dt.datetime | None = None,
    intermediates: list[x509.Certificate] | None = None,
) -> CertificateLogin:
    """Map a client certificate (object or DER, e.g. ``ssl_object.getpeercert(binary_form=True)``) to its owner.

    ``accepted`` is True only for a valid, unrevoked client-authentication certificate of our health PKI
    whose subject follows the person or organisation pattern.
    """
    if isinstance(certificate, bytes):
        try:
            certificate = x509.load_der_x509_certificate(certificate)
        except ValueError as error:
            reason = f"the client certificate cannot be read: {error}"
            return CertificateLogin(False, reason, None, None, None, (), "", False)
    identity = identity_of(certificate)
    serial = serial_hex(certificate.serial_number)
    when = now or dt.datetime.now(dt.UTC)
    result = trust.validate(certificate, intermediates or [], now=when, purpose=Purpose.CLIENT_AUTH)
    kind = identity.kind if identity else None
    owner = identity.owner_id if identity else None
    name = identity.name if identity else None
    emails = mailbox_addresses(certificate)
    revoked = result.status is ChainStatus.REVOKED
    if not result.ok:
        return CertificateLogin(False, result.reason, kind, owner, name, emails, serial, revoked)
    if identity is None:
        reason = "the certificate subject names neither a professional (idNat) nor a structure (structure id)"
        return CertificateLogin(False, reason, None, None, None, emails, serial, False)
    reason = f"certificate of {identity.kind} {identity.owner_id}"
    return CertificateLogin(True, reason, kind, owner, name, emails, serial, False)


def tls_login(
    ssl_object: ssl.SSLObject | ssl.SSLSocket | None, trust: TrustStore, *, now: dt.datetime | None = None
) -> CertificateLogin | None:
    """The login of the client certificate on a TLS connection, or None when the client presented none.

    For aiosmtpd and asyncio servers: ``transport.get_extra_info("ssl_object")``. The handshake has already
    checked the chain against the CA file; this adds key usage, revocation and the owner mapping.
    """
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return None if not der else certificate_login(der, trust, now=now)
