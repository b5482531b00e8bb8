"""Secrets of an account: activation codes, passwords, TOTP steps and sealed TOTP secrets."""

from __future__ import annotations

import secrets

import pyotp
from hypothesis import given, settings
from hypothesis import strategies as st

from patient_inbox.credentials import (
    new_activation_code,
    new_totp_secret,
    normalise_code,
    open_totp,
    password_problem,
    seal_totp,
    totp_step,
)


def test_activation_codes_are_typed_forgivingly() -> None:
    code = new_activation_code()
    assert len(code) == 14 and code.count("-") == 2
    assert normalise_code(code.lower().replace("-", " ")) == normalise_code(code)
    assert normalise_code("o1l-i") == "0111"


def test_password_rules_in_french() -> None:
    assert password_problem("Une phrase de passe solide 42") is None
    assert "12 caractères" in (password_problem("court") or "")
    assert "espace" in (password_problem(" une phrase de passe ") or "")
    assert "différents" in (password_problem("aaaaaaaaaaaaaaaa") or "")


def test_totp_steps_allow_one_step_of_drift_and_no_replay() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    at = 1_800_000_000.0
    step = int(at // 30)
    assert totp_step(secret, totp.at(at), at, last_step=None) == step
    assert totp_step(secret, totp.at(at - 30), at, last_step=None) == step - 1
    assert totp_step(secret, totp.at(at + 30), at, last_step=step) == step + 1
    assert totp_step(secret, totp.at(at), at, last_step=step) is None  # replay
    assert totp_step(secret, totp.at(at - 90), at, last_step=None) is None  # too old
    assert totp_step(secret, "12345", at, last_step=None) is None
    assert totp_step(secret, "abcdef", at, last_step=None) is None


@settings(max_examples=30)
@given(st.integers(1, 2**31))
def test_sealed_secrets_open_only_for_their_account_and_key(account_id: int) -> None:
    key = secrets.token_bytes(32)
    secret = new_totp_secret()
    sealed = seal_totp(key, account_id, secret)
    assert len(sealed) == 64  # fits the column
    assert secret not in sealed
    assert open_totp(key, account_id, sealed) == secret
    assert open_totp(key, account_id + 1, sealed) is None
    assert open_totp(secrets.token_bytes(32), account_id, sealed) is None
    assert open_totp(key, account_id, "not sealed at all") is None
