"""Reading CMS SignedData (RFC 5652 §5) with asn1crypto and checking its signature with cryptography.

cryptography can sign CMS but not verify it; this module fills that gap for S/MIME. Any structure it cannot
read raises :class:`certs.errors.CMSFormatError`; :mod:`certs.smime_verify` turns that into a verdict.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certs.errors import CMSFormatError

# RFC 8551 §2.1: SHA-256 MUST be supported; SHA-1 is refused here (weak, and never produced by our clients).
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
MICALG = {"sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}  # RFC 8551 §3.5.3.2


class BadSignature(Exception):
    """The signature or a signed attribute does not match; the message says which."""


@dataclass(frozen=True)
class SignerInfo:
    digest_algorithm: str
    signature_algorithm: str
    pss: algos.RSASSAPSSParams | None
    signature: bytes
    signed_attributes: bytes | None  # DER re-tagged as SET OF (RFC 5652 §5.4)
    message_digest: bytes | None
    content_type: str | None
    signer_certificate: x509.Certificate | None


@dataclass(frozen=True)
class SignedData:
    content_type: str
    content: bytes | None  # the encapsulated content (opaque signing), None when detached
    certificates: tuple[x509.Certificate, ...]
    signers: tuple[SignerInfo, ...]


@lru_cache(maxsize=4096)
def _load_certificate(der: bytes) -> x509.Certificate:
    """Certificates repeat from message to message: parse each DER once."""
    return x509.load_der_x509_certificate(der)


def _attribute(attributes: cms.CMSAttributes, name: str) -> Any:
    for attribute in attributes:
        if attribute["type"].native == name:
            values = attribute["values"]
            if len(values) != 1:  # RFC 5652 §11.1-2: exactly one value
                raise CMSFormatError(f"the {name} attribute must have one value")
            return values[0]
    return None


def _matches(certificate: x509.Certificate, sid: cms.SignerIdentifier) -> bool:
    """RFC 5652 §5.3 SignerIdentifier: issuer and serial number, or subject key identifier."""
    if sid.name == "issuer_and_serial_number":
        if certificate.serial_number != sid.chosen["serial_number"].native:
            return False
        wanted = sid.chosen["issuer"]
        issuer = certificate.issuer.public_bytes()
        # Same DER is the usual case; RFC 5280 §7.1 name matching (asn1crypto's __eq__) is the slow fallback.
        return bool(issuer == wanted.dump() or asn1_x509.Name.load(issuer) == wanted)
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return False
    return bool(ski == sid.chosen.native)


def _signer(info: cms.SignerInfo, certificates: tuple[x509.Certificate, ...]) -> SignerInfo:
    signature_algorithm = info["signature_algorithm"]
    attributes = info["signed_attrs"]
    signed = None
    digest = content_type = None
    if not isinstance(attributes, core.Void):  # cheaper than .native, which decodes every attribute
        raw = attributes.dump()
        signed = b"\x31" + raw[1:]  # [0] IMPLICIT → universal SET OF for the signature input
        digest_value = _attribute(attributes, "message_digest")
        type_value = _attribute(attributes, "content_type")
        if digest_value is None or type_value is None:
            raise CMSFormatError("signed attributes lack the message-digest or content-type (RFC 5652 §5.3)")
        digest, content_type = bytes(digest_value.native), str(type_value.dotted)
    match = next((c for c in certificates if _matches(c, info["sid"])), None)
    return SignerInfo(
        digest_algorithm=info["digest_algorithm"]["algorithm"].native,
        signature_algorithm=signature_algorithm["algorithm"].native,
        pss=signature_algorithm["parameters"] if signature_algorithm["algorithm"].native == "rsassa_pss" else None,
        signature=info["signature"].native,
        signed_attributes=signed,
        message_digest=digest,
        content_type=content_type,
        signer_certificate=match,
    )


def content_type_of(der: bytes) -> str | None:
    """The content type name of a ContentInfo (``signed_data``, ``enveloped_data``, …), None if unreadable."""
    try:
        return str(cms.ContentInfo.load(der)["content_type"].native)
    except Exception:  # any parse failure means "not a ContentInfo"
        return None


def parse_signed_data(der: bytes) -> SignedData:
    """Parse a ContentInfo holding SignedData; anything else raises CMSFormatError."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise CMSFormatError(f"the CMS content is {info['content_type'].native}, not signed-data")
        signed = info["content"]
        choices = signed["certificates"]
        loaded = tuple(
            _load_certificate(c.chosen.dump()) for c in ([] if isinstance(choices, core.Void) else choices)
            if c.name == "certificate"
        )
        encapsulated = signed["encap_content_info"]
        content = encapsulated["content"]
        signers = tuple(_signer(s, loaded) for s in signed["signer_infos"])
        return SignedData(
            content_type=encapsulated["content_type"].dotted,
            content=None if isinstance(content, core.Void) else bytes(content.native),
            certificates=loaded,
            signers=signers,
        )
    except CMSFormatError:
        raise
    except Exception as error:  # asn1crypto parses lazily and raises many types; all mean "malformed"
        raise CMSFormatError(f"the CMS structure cannot be read: {type(error).__name__}: {error}") from error


def check_signature(signer: SignerInfo, content: bytes, content_type: str) -> None:
    """RFC 5652 §5.6: digest of the content against message-digest, then the signature. Raises BadSignature."""
    certificate = signer.signer_certificate
    if certificate is None:
        raise BadSignature("the signer's certificate is not in the message")
    algorithm_class = DIGESTS.get(signer.digest_algorithm)
    if algorithm_class is None:
        raise BadSignature(f"digest algorithm {signer.digest_algorithm} is not accepted (RFC 8551 §2.1)")
    algorithm = algorithm_class()
    if signer.signed_attributes is not None:
        digest = hashes.Hash(algorithm)
        digest.update(content)
        if signer.content_type != content_type:
            raise BadSignature("the content-type attribute does not match the content (RFC 5652 §11.1)")
        if signer.message_digest is None or not hmac.compare_digest(digest.finalize(), signer.message_digest):
            raise BadSignature("the content was altered: its digest differs from the signed message-digest")
        data = signer.signed_attributes
    else:
        data = content
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if signer.signature_algorithm == "rsassa_pss":
                params = signer.pss
                salt = int(params["salt_length"].native) if params is not None else 20
                mgf = params["mask_gen_algorithm"]["parameters"]["algorithm"].native if params is not None else "sha1"
                mgf_hash = DIGESTS.get(mgf)
                if mgf_hash is None:
                    raise BadSignature("unsupported RSASSA-PSS parameters")
                key.verify(signer.signature, data, padding.PSS(padding.MGF1(mgf_hash()), salt), algorithm)
            else:
                key.verify(signer.signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signer.signature, data, ec.ECDSA(algorithm))
        else:
            raise BadSignature(f"unsupported signer key type {type(key).__name__}")
    except InvalidSignature:
        raise BadSignature("the signature does not match the signer's public key") from None
    except (UnsupportedAlgorithm, ValueError, TypeError) as error:
        raise BadSignature(f"the signature cannot be checked: {error}") from error
