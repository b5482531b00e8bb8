"""Key generation and private-key files encrypted at rest.

CA keys never touch the disk in clear: they are PKCS#8 encrypted with the best scheme cryptography offers
(AES-256-CBC under PBKDF2 or scrypt), written atomically with mode 0600.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs.errors import PassphraseError, ProfileError

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class KeyAlgorithm(enum.StrEnum):
    RSA2048 = "rsa2048"
    RSA3072 = "rsa3072"
    P256 = "p256"


def generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm is KeyAlgorithm.P256:
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048 if algorithm is KeyAlgorithm.RSA2048 else 3072)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only, atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def encrypted_pem(key: PrivateKey, passphrase: bytes) -> bytes:
    if not passphrase:
        raise PassphraseError("an empty passphrase would leave the key in clear")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def load_private_key(data: bytes, passphrase: bytes | None) -> PrivateKey:
    """Load a PEM key; a wrong or missing passphrase is a :class:`PassphraseError`."""
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except (ValueError, TypeError) as error:
        raise PassphraseError(f"the private key cannot be decrypted: {error}") from error
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ProfileError(f"unsupported key type {type(key).__name__}: RSA or ECDSA P-256 only")
    return key


def read_passphrase(path: Path) -> bytes:
    """A passphrase file holds the passphrase on its first line (a trailing newline is not part of it)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PassphraseError(f"cannot read the passphrase file {path}: {error.strerror}") from error
    passphrase = data.splitlines()[0] if data.strip() else b""
    if not passphrase:
        raise PassphraseError(f"the passphrase file {path} is empty")
    return passphrase
