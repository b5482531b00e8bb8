"""An OCSP responder built on cryptography's OCSP builders (RFC 6960).

Responses are signed directly by the CA that issued the certificate (RFC 6960 §2.6 allows the CA itself as
responder), so no delegated responder certificate has to be managed. The flow is split so that the database
lookup stays outside ``certs``: :func:`parse_request` → registry lookup → :func:`build_response`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certs.errors import OCSPRequestError
from certs.hierarchy import Authority, Hierarchy
from certs.revocation import CertificateStatus

RESPONSE_LIFETIME = dt.timedelta(hours=1)  # nextUpdate of each SingleResponse (RFC 6960 §2.4)


@dataclass(frozen=True)
class OCSPQuery:
    request: ocsp.OCSPRequest
    authority: Authority | None  # None when the request names an issuer we do not run

    @property
    def serial(self) -> int:
        return self.request.serial_number


def _key_hash(authority: Authority, algorithm: hashes.HashAlgorithm) -> bytes:
    # RFC 6960 §4.1.1: issuerKeyHash is the hash of the issuer's subjectPublicKey BIT STRING contents.
    spki = authority.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(algorithm)
    digest.update(_subject_public_key_bits(spki))
    return digest.finalize()


def _subject_public_key_bits(spki: bytes) -> bytes:
    info = keys.PublicKeyInfo.load(spki)
    return bytes(info["public_key"].contents[1:])  # drop the BIT STRING's unused-bits octet


def parse_request(data: bytes, hierarchy: Hierarchy) -> OCSPQuery:
    """Parse a DER OCSP request and find which of our CAs it asks about."""
    try:
        request = ocsp.load_der_ocsp_request(data)
        algorithm = request.hash_algorithm
        issuer_key_hash = request.issuer_key_hash
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType) as error:
        raise OCSPRequestError(f"malformed OCSP request: {error}") from error
    except Exception as error:  # cryptography raises UnsupportedAlgorithm for unusual hashes
        raise OCSPRequestError(f"unsupported OCSP request: {error}") from error
    for authority in hierarchy.authorities.values():
        if _key_hash(authority, algorithm) == issuer_key_hash:
            return OCSPQuery(request, authority)
    return OCSPQuery(request, None)


def error_response(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def build_response(query: OCSPQuery, status: CertificateStatus | None, *, now: dt.datetime) -> bytes:
    """A signed response: good, revoked (with time and reason) or unknown (a serial we never issued)."""
    authority = query.authority
    if authority is None:
        return error_response(ocsp.OCSPResponseStatus.UNAUTHORIZED)  # RFC 6960 §2.3: not our issuer
    if status is None:
        cert_status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
    elif status.revoked is None:
        cert_status, revoked_at, reason = ocsp.OCSPCertStatus.GOOD, None, None
    else:
        cert_status, revoked_at, reason = (
            ocsp.OCSPCertStatus.REVOKED, status.revoked.revoked_at, status.revoked.reason,
        )
    builder = ocsp.OCSPResponseBuilder().responder_id(ocsp.OCSPResponderEncoding.HASH, authority.certificate)
    builder = builder.add_response_by_hash(
        query.request.issuer_name_hash, query.request.issuer_key_hash, query.serial, query.request.hash_algorithm,
        cert_status, now, now + RESPONSE_LIFETIME, revoked_at, reason,
    ).certificates([authority.certificate])
    for extension in query.request.extensions:
        if isinstance(extension.value, x509.OCSPNonce):  # RFC 8954: echo the nonce
            builder = builder.add_extension(extension.value, critical=False)
    response = builder.sign(authority.signing_key(), hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)
