"""Signing RFC 5322 messages with S/MIME (RFC 8551 §3.5): detached ``multipart/signed`` or opaque.

The message headers (From, To, Subject, …) stay outside; the MIME content headers and the body become the
signed entity. The signature is SHA-256 with signed attributes, made by cryptography's PKCS#7 builder.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from certs.errors import MessageFormatError
from certs.keys import PrivateKey
from certs.mime import canonical, header_fields, parse_headers, partition_headers, split_entity, wrap_base64

_MULTIPART_PREAMBLE = b"This is an S/MIME signed message (RFC 8551).\r\n"
_SAFE_ENCODINGS = {b"7bit", b"base64", b"quoted-printable"}


def inner_entity(raw: bytes) -> tuple[bytes, bytes]:
    """(outer message headers, the MIME entity to protect) of a canonical message.

    RFC 8551 §3.1.2: the signed entity should be 7-bit; a single 8-bit part is re-encoded as base64.
    """
    header, body = split_entity(canonical(raw))
    if not header:
        raise MessageFormatError("the input has no header block: it is not an RFC 5322 message")
    outer, content_headers = partition_headers(header)
    if not content_headers:
        content_headers = b"Content-Type: text/plain; charset=us-ascii\r\n"
    parsed = parse_headers(content_headers)
    encoding = str(parsed.get("Content-Transfer-Encoding", "7bit")).strip().lower().encode()
    eight_bit = encoding not in _SAFE_ENCODINGS and any(b > 127 for b in body)
    if eight_bit and parsed.get_content_maintype() != "multipart":
        fields = header_fields(content_headers)
        kept = b"".join(f for f in fields if not f.lower().startswith(b"content-transfer-encoding"))
        content_headers = kept + b"Content-Transfer-Encoding: base64\r\n"
        body = wrap_base64(body)
    return outer, content_headers + b"\r\n" + body


def _signature(
    entity: bytes, certificate: x509.Certificate, key: PrivateKey, chain: Sequence[x509.Certificate], detached: bool
) -> bytes:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(entity).add_signer(certificate, key, hashes.SHA256())
    for extra in chain:
        if extra.subject != extra.issuer:  # intermediates only: the receiver has the anchor
            builder = builder.add_certificate(extra)
    options = [pkcs7.PKCS7Options.Binary]  # the entity is canonical already (RFC 8551 §3.1.1)
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    return builder.sign(serialization.Encoding.DER, options)


def sign_message(
    raw: bytes,
    certificate: x509.Certificate,
    key: PrivateKey,
    chain: Sequence[x509.Certificate] = (),
    *,
    detached: bool = True,
) -> bytes:
    """Sign an RFC 5322 message; the result is a complete message with CRLF line ends."""
    outer, entity = inner_entity(raw)
    signature = _signature(entity, certificate, key, chain, detached)
    if not detached:
        return (
            outer
            + b"MIME-Version: 1.0\r\n"
            + b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
            + b"Content-Transfer-Encoding: base64\r\n"
            + b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
            + wrap_base64(signature)
        )
    boundary = f"----=_smime_{secrets.token_hex(16)}".encode()
    return (
        outer
        + b"MIME-Version: 1.0\r\n"
        # RFC 8551 §3.5.3.2: micalg names the digest of the signature, sha-256 here.
        + b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;\r\n'
        + b' boundary="' + boundary + b'"\r\n\r\n'
        + _MULTIPART_PREAMBLE
        + b"--" + boundary + b"\r\n"
        + entity
        + b"\r\n--" + boundary + b"\r\n"
        + b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
        + wrap_base64(signature)
        + b"\r\n--" + boundary + b"--\r\n"
    )
