"""Secrets of a patient account: activation code, password (argon2id), TOTP second factor (RFC 6238).

argon2 work is slow by design; async callers run :func:`verify_secret` in a worker thread.
"""

from __future__ import annotations

import base64
import secrets

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mail_gateway.passwords import MAX_PASSWORD_LENGTH, hash_password, verify_password

# Crockford base32 without the letters people confuse (I, L, O, U): 12 characters give 60 bits.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
MIN_PASSWORD_LENGTH = 12
TOTP_ISSUER = "Messagerie santé"
TOTP_STEP = 30  # RFC 6238 §5.2: the recommended time step


def new_activation_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    """What people type: any case, with or without dashes and spaces; O read as 0, I and L as 1."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans("OIL", "011"))[: CODE_LENGTH * 2]


def hash_secret(value: str) -> str:
    return hash_password(value)


def verify_secret(secret_hash: str | None, value: str) -> bool:
    """Constant-work check: an absent hash still costs one argon2 verification (no timing oracle)."""
    if secret_hash is None:
        verify_password(_DUMMY, value)
        return False
    return verify_password(secret_hash, value)


_DUMMY = hash_password(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in French, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Le mot de passe doit comporter au plus {MAX_PASSWORD_LENGTH} caractères."
    if password.strip() != password:
        return "Le mot de passe ne doit pas commencer ni finir par un espace."
    if len(set(password)) < 5:
        return "Le mot de passe doit comporter au moins 5 caractères différents."
    return None


def new_totp_secret() -> str:
    return pyotp.random_base32(length=32)  # 160 bits (RFC 4226 §4 R6: at least 128); sealed, 64 characters


def provisioning_uri(secret: str, account_label: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_STEP).provisioning_uri(name=account_label, issuer_name=TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (no external request, no script)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", border=4)
    return svg


def seal_totp(key: bytes, account_id: int, secret: str) -> str:
    """The TOTP secret encrypted for storage (AES-256-GCM, bound to the account): 64 URL-safe characters."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, base64.b32decode(secret), _aad(account_id))
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_totp(key: bytes, account_id: int, sealed: str) -> str | None:
    """The TOTP secret, or None when the stored value was not sealed for this account with this key."""
    try:
        data = base64.urlsafe_b64decode(sealed.encode("ascii"))
        raw = AESGCM(key).decrypt(data[:12], data[12:], _aad(account_id))
    except (InvalidTag, ValueError):
        return None
    return base64.b32encode(raw).decode("ascii")


def _aad(account_id: int) -> bytes:
    return f"patient-totp:{account_id}".encode()


def totp_step(secret: str, code: str, at: float, *, last_step: int | None) -> int | None:
    """The time step the code belongs to (now, or one step either side for clock drift), or None.

    A code of a step already used is refused (RFC 6238 §5.2: a verifier must not accept the same OTP twice).
    """
    code = "".join(ch for ch in code if not ch.isspace())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_STEP)
    current = int(at // TOTP_STEP)
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None
