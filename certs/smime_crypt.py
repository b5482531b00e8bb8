"""S/MIME encryption and decryption (RFC 8551 §3.3).

Two content encryptions:

* ``aes256-cbc`` (default): CMS EnvelopedData (RFC 5652 §6) built by cryptography, readable by every client;
* ``aes256-gcm``: CMS AuthEnvelopedData (RFC 5083, RFC 5084) built here with asn1crypto, because cryptography
  only offers CBC. RFC 8551 §2.7 makes AES-GCM the algorithm receiving agents MUST support.

Keys are transported to RSA recipients (RFC 8551 §2.3): PKCS#1 v1.5 for CBC (what cryptography emits), RSAES-OAEP
with SHA-256 for GCM.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar

from asn1crypto import algos, cms, core, parser
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs7

from certs.errors import DecryptionError, MessageFormatError
from certs.keys import PrivateKey
from certs.mime import canonical, decode_body, parse_headers, partition_headers, split_entity, wrap_base64
from certs.smime_sign import inner_entity

CBC = "aes256-cbc"
GCM = "aes256-gcm"
_GCM_NONCE = 12  # RFC 5084 §3.2: 12 octets RECOMMENDED
_GCM_TAG = 16  # RFC 5084 §3.2: aes-ICVlen 16
# RFC 8017 §A.2.1: OAEP's default hash is SHA-1, still what some senders use for key transport (not signatures).
_OAEP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_OAEP_SHA256 = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)


class GCMParameters(core.Sequence):  # type: ignore[misc]
    """RFC 5084 §3.2 ``GCMParameters`` (asn1crypto does not define it)."""

    _fields: ClassVar = [("aes_nonce", core.OctetString), ("aes_icvlen", core.Integer, {"default": 12})]


def _rsa_key(certificate: x509.Certificate) -> rsa.RSAPublicKey:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise MessageFormatError(f"{certificate.subject.rfc4514_string()} has no RSA key to encrypt to")
    return key


@lru_cache(maxsize=1024)
def _issuer_and_serial_der(certificate: x509.Certificate) -> bytes:
    """RFC 5652 §10.2.4 IssuerAndSerialNumber, encoded from the certificate's own DER issuer name."""
    contents = certificate.issuer.public_bytes() + core.Integer(certificate.serial_number).dump()
    return bytes(parser.emit(0, 1, 16, contents))  # universal, constructed, SEQUENCE


def _issuer_and_serial(certificate: x509.Certificate) -> cms.RecipientIdentifier:
    value = cms.IssuerAndSerialNumber.load(_issuer_and_serial_der(certificate))
    return cms.RecipientIdentifier(name="issuer_and_serial_number", value=value)


@lru_cache(maxsize=1024)
def _ktri_head(certificate: x509.Certificate) -> bytes:
    """DER of ``version``, ``rid`` and ``keyEncryptionAlgorithm`` of a KeyTransRecipientInfo (RFC 5652 §6.2.1).

    Built once per recipient: asn1crypto re-encodes names slowly, and only the encrypted key changes.
    """
    oaep = algos.RSAESOAEPParams(
        {
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
        }
    )
    algorithm = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_oaep", "parameters": oaep})
    return bytes(core.Integer(0).dump() + _issuer_and_serial_der(certificate) + algorithm.dump())


def _recipient_info(certificate: x509.Certificate, key: bytes) -> cms.RecipientInfo:
    encrypted = core.OctetString(_rsa_key(certificate).encrypt(key, _OAEP_SHA256)).dump()
    return cms.RecipientInfo.load(bytes(parser.emit(0, 1, 16, _ktri_head(certificate) + encrypted)))


def _auth_enveloped(content: bytes, recipients: Sequence[x509.Certificate]) -> bytes:
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_GCM_NONCE)
    sealed = AESGCM(key).encrypt(nonce, content, None)  # no authAttrs: the AAD is empty (RFC 5083 §2.2)
    infos = [_recipient_info(certificate, key) for certificate in recipients]
    enveloped = cms.AuthEnvelopedData(
        {
            "version": "v0",
            "recipient_infos": infos,
            "auth_encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": "aes256_gcm",
                    "parameters": GCMParameters({"aes_nonce": nonce, "aes_icvlen": _GCM_TAG}),
                },
                "encrypted_content": sealed[:-_GCM_TAG],
            },
            "mac": sealed[-_GCM_TAG:],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "authenticated_enveloped_data", "content": enveloped}).dump())


def encrypt_message(raw: bytes, recipients: Sequence[x509.Certificate], *, algorithm: str = CBC) -> bytes:
    """Encrypt an RFC 5322 message to every recipient certificate (include the sender's to read it back)."""
    if not recipients:
        raise MessageFormatError("encryption needs at least one recipient certificate")
    outer, entity = inner_entity(raw)
    if algorithm == GCM:
        der, smime_type = _auth_enveloped(entity, recipients), b"authEnveloped-data"
    elif algorithm == CBC:
        builder = pkcs7.PKCS7EnvelopeBuilder().set_data(entity).set_content_encryption_algorithm(algorithms.AES256)
        for certificate in recipients:
            _rsa_key(certificate)
            builder = builder.add_recipient(certificate)
        der, smime_type = builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]), b"enveloped-data"
    else:
        raise MessageFormatError(f"unknown content encryption {algorithm!r}: use {CBC} or {GCM}")
    return (
        outer
        + b"MIME-Version: 1.0\r\n"
        + b"Content-Type: application/pkcs7-mime; smime-type=" + smime_type + b'; name="smime.p7m"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
        + wrap_base64(der)
    )


def _recipient_key(info: cms.AuthEnvelopedData, certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    wanted = _issuer_and_serial(certificate).chosen
    ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest if any(
        isinstance(e.value, x509.SubjectKeyIdentifier) for e in certificate.extensions
    ) else None
    for recipient in info["recipient_infos"]:
        if recipient.name != "ktri":
            continue
        ktri = recipient.chosen
        rid = ktri["rid"]
        if rid.name == "issuer_and_serial_number":
            same = rid.chosen["serial_number"].native == wanted["serial_number"].native
            matches = same and rid.chosen["issuer"] == wanted["issuer"]
        else:
            matches = rid.chosen.native == ski
        if not matches:
            continue
        algorithm = ktri["key_encryption_algorithm"]
        encrypted = ktri["encrypted_key"].native
        try:
            if algorithm["algorithm"].native == "rsaes_oaep":
                params = algorithm["parameters"]
                hash_name = params["hash_algorithm"]["algorithm"].native
                digest = _OAEP_HASHES[hash_name]()
                mgf = _OAEP_HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
                return key.decrypt(encrypted, padding.OAEP(padding.MGF1(mgf), digest, None))
            return key.decrypt(encrypted, padding.PKCS1v15())
        except (ValueError, KeyError) as error:
            raise DecryptionError(f"the content key does not decrypt with our key: {error}") from error
    raise DecryptionError("the message is not encrypted to this certificate")


def _open_auth_enveloped(der: bytes, certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    try:
        info = cms.ContentInfo.load(der)["content"]
        content = info["auth_encrypted_content_info"]
        algorithm = content["content_encryption_algorithm"]
        if algorithm["algorithm"].native not in ("aes128_gcm", "aes192_gcm", "aes256_gcm"):
            raise DecryptionError(f"unsupported authenticated encryption {algorithm['algorithm'].native}")
        params = GCMParameters.load(algorithm["parameters"].dump())
        nonce = params["aes_nonce"].native
        ciphertext = content["encrypted_content"].native or b""
        tag = info["mac"].native
        aad = b"" if info["auth_attrs"].native is None else b"\x31" + info["auth_attrs"].dump()[1:]
        cek = _recipient_key(info, certificate, key)
        return AESGCM(cek).decrypt(nonce, ciphertext + tag, aad or None)
    except InvalidTag:
        raise DecryptionError("the encrypted content was altered (AES-GCM tag mismatch)") from None
    except DecryptionError:
        raise
    except Exception as error:  # asn1crypto's lazy parsing: anything here means a malformed structure
        raise DecryptionError(f"the AuthEnvelopedData cannot be read: {type(error).__name__}: {error}") from error


def decrypt_message(raw: bytes, certificate: x509.Certificate, key: PrivateKey) -> bytes:
    """Decrypt an ``application/pkcs7-mime`` enveloped message back to a readable RFC 5322 message."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DecryptionError("only RSA keys can decrypt CMS key transport")
    header, body = split_entity(canonical(raw))
    headers = parse_headers(header)
    if headers.get_content_type() not in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        raise MessageFormatError(f"the message is {headers.get_content_type()}, not S/MIME encrypted")
    der = decode_body(headers, body)
    smime_type = str(headers.get_param("smime-type", "") or "").lower()
    if smime_type == "authenveloped-data":
        entity = _open_auth_enveloped(der, certificate, key)
    else:
        try:
            entity = pkcs7.pkcs7_decrypt_der(der, certificate, key, [])
        except ValueError as error:
            raise DecryptionError(f"the message does not decrypt with this certificate: {error}") from error
    outer, _ = partition_headers(header)
    return outer + b"MIME-Version: 1.0\r\n" + canonical(entity)
