"""PKCS#12 export of an issued certificate with its key and chain, for Thunderbird and Outlook.

Default protection is PBES2 (PBKDF2-SHA256, AES-256-CBC) with an HMAC-SHA256 MAC, which Thunderbird, OpenSSL 3
and Windows 10 1709+ import. ``legacy=True`` gives 3DES/SHA-1 for older Windows and macOS keychains.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from certs.errors import ProfileError
from certs.keys import PrivateKey
from certs.names import dn_string


def export_pkcs12(
    certificate: x509.Certificate,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    password: bytes,
    *,
    friendly_name: str | None = None,
    legacy: bool = False,
) -> bytes:
    if not password:
        raise ProfileError("a PKCS#12 file must be protected by a password")
    builder = PrivateFormat.PKCS12.encryption_builder()
    if legacy:
        # Compatibility with importers that predate PBES2; asked for explicitly by the operator.
        legacy_mac = hashes.SHA1()  # noqa: S303
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(legacy_mac)
    else:
        builder = builder.kdf_rounds(100_000).key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        builder = builder.hmac_hash(hashes.SHA256())
    name = (friendly_name or dn_string(certificate.subject)).encode()
    return pkcs12.serialize_key_and_certificates(name, key, certificate, list(chain), builder.build(password))


def load_pkcs12(data: bytes, password: bytes) -> tuple[x509.Certificate, PrivateKey, list[x509.Certificate]]:
    """Certificate, key and additional certificates of a PKCS#12 file (``--pkcs12`` in ``mssante smime``)."""
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError as error:
        raise ProfileError(f"the PKCS#12 file cannot be opened: {error}") from error
    if certificate is None or key is None:
        raise ProfileError("the PKCS#12 file holds no certificate with its key")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ProfileError("the PKCS#12 key is neither RSA nor ECDSA")
    return certificate, key, list(extra)
