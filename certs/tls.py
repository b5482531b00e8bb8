"""TLS context builders used by every listener and client of the gateway.

TLS 1.2 is the floor (the trust space's client rules); only ECDHE key exchange with AES-GCM or ChaCha20-Poly1305
is offered for TLS 1.2 (TLS 1.3 suites are all AEAD already).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509

# ECDHE-RSA and ECDHE-ECDSA with AEAD ciphers only (OpenSSL cipher-list syntax, applies to TLS 1.2).
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


def _harden(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def server_context(
    cert: Path,
    key: Path,
    *,
    client_ca: Path | None = None,
    require_client_cert: bool = False,
    key_password: bytes | None = None,
) -> ssl.SSLContext:
    """A server context. With ``client_ca`` it asks for a client certificate (required when told so).

    ``key_password`` opens an encrypted key, such as those ``mssante pki issue server`` keeps.
    """
    context = _harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.load_cert_chain(str(cert), str(key), password=key_password)
    if client_ca is not None:
        context.load_verify_locations(cafile=str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    elif require_client_cert:
        raise ValueError("a client certificate can only be required with a client CA bundle")
    return context


def client_context(
    ca: Path | None,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    check_hostname: bool = True,
    key_password: bytes | None = None,
) -> ssl.SSLContext:
    """A client context trusting ``ca`` (the system store when None), optionally presenting a certificate."""
    context = _harden(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    if ca is not None:
        context.load_verify_locations(cafile=str(ca))
    else:
        context.load_default_certs()
    context.check_hostname = check_hostname
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None, password=key_password)
    return context


def peer_subject_matches(peer_certificate_der: bytes | None, allowed: Iterable[str]) -> bool:
    """True when the peer's subject DN equals one of ``allowed`` (RFC 4514 strings, as in the white list's
    ``DNCertificatOperateur``: ``CN=smtp-1.example,OU=<structure id>,O=...,ST=...,C=FR``).

    Chain and validity are checked by the TLS handshake against the health PKI anchors; this adds the trust
    space's rule that the receiving MTA checks the sender's certificate DN (DOMAIN.md, "The trust space").
    Attribute order and value case follow RFC 4517 §4.2.15 distinguishedNameMatch via cryptography's parser.
    """
    if not peer_certificate_der:
        return False
    try:
        subject = x509.load_der_x509_certificate(peer_certificate_der).subject
    except ValueError:
        return False
    for candidate in allowed:
        try:
            if x509.Name.from_rfc4514_string(candidate) == subject:
                return True
        except ValueError:
            continue
    return False
