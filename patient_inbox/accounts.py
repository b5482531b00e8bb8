"""Patient accounts: creation with an activation code, lifecycle transitions, enrolment, login.

Rules come from :mod:`policies.patient_lifecycle` and :mod:`policies.patient_access`; this module loads the
facts, applies the decision and stores the result. Every function takes ``now`` from its caller so tests and
the CLI can speak about any moment. Checks that need argon2 run in a worker thread, outside any write
transaction, so a slow hash never holds SQLite's single writer.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from patient_inbox.credentials import (
    hash_secret,
    new_activation_code,
    normalise_code,
    open_totp,
    password_problem,
    seal_totp,
    totp_step,
    verify_secret,
)
from patient_inbox.errors import (
    AccountExists,
    AccountLocked,
    AccountNotFound,
    AuthenticationFailed,
    InvalidIdentity,
    LifecycleRefused,
)
from patient_inbox.models import PatientAccount
from policies.ins import ins_problem, normalise_ins, patient_address
from policies.patient_access import LoginCounters, after_failure, after_success, locked_refusal
from policies.patient_lifecycle import (
    Event,
    Refusal,
    State,
    effective_state,
    enrolment_refusal,
    login_refusal,
    transition,
)
from storage.engine import Database

_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
WRONG_CREDENTIALS = "Les informations saisies ne correspondent pas. Vérifiez-les et réessayez."


@dataclass(frozen=True)
class AccountView:
    """An account as the CLI and the web show it (no secrets)."""

    id: int
    ins: str
    address: str
    family_name: str
    given_names: str
    birth_date: date
    email: str
    state: State  # effective state at the time it was read
    has_credentials: bool

    @classmethod
    def of(cls, row: PatientAccount, now: datetime) -> AccountView:
        return cls(
            row.id,
            row.ins,
            row.address,
            row.family_name,
            row.given_names,
            row.birth_date,
            row.email,
            effective_state(State(row.state), row.created_at, now),
            row.password_hash is not None and row.totp_secret is not None,
        )


def identity_problem(ins: str, family: str, given: str, birth_date: date, email: str, now: datetime) -> str | None:
    problem = ins_problem(ins)
    if problem:
        return problem
    if not family.strip() or len(family) > 100:
        return "Le nom de famille doit comporter de 1 à 100 caractères."
    if not given.strip() or len(given) > 200:
        return "Le ou les prénoms doivent comporter de 1 à 200 caractères."
    if birth_date > now.date() or birth_date.year < 1880:
        return "La date de naissance n'est pas plausible."
    if not _EMAIL.fullmatch(email.strip()):
        return "L'adresse e-mail personnelle n'est pas valide."
    return None


async def create_account(
    session: AsyncSession,
    *,
    ins: str,
    family_name: str,
    given_names: str,
    birth_date: date,
    email: str,
    patient_domain: str,
    now: datetime,
) -> tuple[PatientAccount, str]:
    """Create a space in the ``created`` state; return it with its activation code (shown once, stored hashed)."""
    ins = normalise_ins(ins)
    problem = identity_problem(ins, family_name, given_names, birth_date, email, now)
    if problem:
        raise InvalidIdentity(problem)
    if await session.scalar(select(PatientAccount.id).where(PatientAccount.ins == ins)) is not None:
        raise AccountExists(f"Un espace existe déjà pour le matricule INS {ins}.")
    code = new_activation_code()
    code_hash = await asyncio.to_thread(hash_secret, normalise_code(code))
    row = PatientAccount(
        ins=ins,
        address=patient_address(ins, patient_domain),
        family_name=family_name.strip(),
        given_names=given_names.strip(),
        birth_date=birth_date,
        email=email.strip(),
        state=State.CREATED.value,
        created_at=now,
        state_changed_at=now,
        activation_code_hash=code_hash,
        failed_logins=0,
    )
    session.add(row)
    await session.flush()
    return row, code


async def find_by_ins(session: AsyncSession, ins: str) -> PatientAccount | None:
    return await session.scalar(select(PatientAccount).where(PatientAccount.ins == normalise_ins(ins).upper()))


async def get_by_ins(session: AsyncSession, ins: str) -> PatientAccount:
    row = await find_by_ins(session, ins)
    if row is None:
        raise AccountNotFound(f"Aucun espace n'existe pour le matricule INS {normalise_ins(ins)}.")
    return row


async def find_by_address(session: AsyncSession, address: str) -> PatientAccount | None:
    return await session.scalar(select(PatientAccount).where(PatientAccount.address == address.strip().lower()))


async def list_accounts(session: AsyncSession) -> list[PatientAccount]:
    return list((await session.scalars(select(PatientAccount).order_by(PatientAccount.id))).all())


def _apply(row: PatientAccount, event: Event, now: datetime) -> None:
    result = transition(State(row.state), event, row.created_at, now)
    if isinstance(result, Refusal):
        raise LifecycleRefused(result.code, result.sentence)
    row.state = result.state.value
    row.state_changed_at = now


async def change_state(session: AsyncSession, ins: str, event: Event, now: datetime) -> PatientAccount:
    """Close or reopen (operator actions through the CLI), or any other lifecycle event."""
    row = await get_by_ins(session, ins)
    _apply(row, event, now)
    return row


# Checks of what the person typed ----------------------------------------------------------------------------


def _counters(row: PatientAccount) -> LoginCounters:
    return LoginCounters(row.failed_logins, row.locked_until)


async def _record_failure(database: Database, account_id: int, now: datetime) -> None:
    async with database.write() as session:
        row = await session.get(PatientAccount, account_id, with_for_update=True)
        if row is not None:
            counters = after_failure(_counters(row), now)
            row.failed_logins, row.locked_until = counters.failures, counters.locked_until


async def verify_activation(
    database: Database, *, ins: str, birth_date: date, code: str, now: datetime
) -> PatientAccount:
    """The account whose activation code, INS and birth date match, or :class:`AuthenticationFailed`.

    Failures count towards the same lockout as logins: the code is a secret worth guessing.
    """
    async with database.read() as session:
        row = await find_by_ins(session, ins)
    if row is not None:
        locked = locked_refusal(_counters(row), now)
        if locked:
            raise AccountLocked(locked)
    code_hash = row.activation_code_hash if row is not None else None
    matches = await asyncio.to_thread(verify_secret, code_hash, normalise_code(code))
    if row is None or not matches or row.birth_date != birth_date:
        if row is not None:
            await _record_failure(database, row.id, now)
        raise AuthenticationFailed(WRONG_CREDENTIALS)
    return row


async def oppose(database: Database, *, ins: str, birth_date: date, code: str, now: datetime) -> AccountView:
    row = await verify_activation(database, ins=ins, birth_date=birth_date, code=code, now=now)
    async with database.write() as session:
        current = await session.get(PatientAccount, row.id, with_for_update=True)
        assert current is not None
        _apply(current, Event.OPPOSE, now)
        current.failed_logins, current.locked_until = 0, None
        return AccountView.of(current, now)


def check_enrolment(row: PatientAccount, now: datetime) -> None:
    refusal = enrolment_refusal(State(row.state), row.created_at, now, has_credentials=row.totp_secret is not None)
    if refusal:
        raise LifecycleRefused(refusal.code, refusal.sentence)


async def set_password(database: Database, *, account_id: int, password: str, now: datetime) -> None:
    """Second step of activation: the password (the space stays as it is until the second factor is confirmed)."""
    problem = password_problem(password)
    if problem:
        raise InvalidIdentity(problem)
    password_hash = await asyncio.to_thread(hash_secret, password)
    async with database.write() as session:
        row = await session.get(PatientAccount, account_id, with_for_update=True)
        if row is None:
            raise AccountNotFound("Cet espace n'existe plus.")
        check_enrolment(row, now)
        row.password_hash = password_hash


async def confirm_totp(
    database: Database, *, account_id: int, totp_secret: str, totp_code: str, now: datetime, sealing_key: bytes
) -> AccountView:
    """Last step of activation: the first code proves the phone has the secret; the space becomes active and
    the activation code is spent."""
    step = totp_step(totp_secret, totp_code, now.timestamp(), last_step=None)
    if step is None:
        raise AuthenticationFailed(
            "Le code à usage unique ne correspond pas : vérifiez l'heure de votre téléphone et saisissez le code "
            "affiché maintenant."
        )
    async with database.write() as session:
        row = await session.get(PatientAccount, account_id, with_for_update=True)
        if row is None:
            raise AccountNotFound("Cet espace n'existe plus.")
        check_enrolment(row, now)
        if row.password_hash is None:
            raise LifecycleRefused("no-password", "Choisissez d'abord votre mot de passe.")
        if effective_state(State(row.state), row.created_at, now) is State.CREATED:
            _apply(row, Event.ACTIVATE, now)
        else:
            row.state = State.ACTIVE.value
            row.state_changed_at = now
        row.totp_secret = seal_totp(sealing_key, row.id, totp_secret)
        row.totp_last_step = step
        row.activation_code_hash = None
        row.failed_logins, row.locked_until = 0, None
        return AccountView.of(row, now)


async def verify_login(
    database: Database, *, ins: str, password: str, totp_code: str, now: datetime, sealing_key: bytes
) -> AccountView:
    """Password and one-time code, with lockout; every failure gives the same generic sentence."""
    async with database.read() as session:
        row = await find_by_ins(session, ins)
    if row is not None:
        locked = locked_refusal(_counters(row), now)
        if locked:
            raise AccountLocked(locked)
    ok = await asyncio.to_thread(verify_secret, row.password_hash if row is not None else None, password)
    step: int | None = None
    secret = open_totp(sealing_key, row.id, row.totp_secret) if row is not None and row.totp_secret else None
    if ok and secret is not None:
        step = totp_step(secret, totp_code, now.timestamp(), last_step=row.totp_last_step if row else None)
    if row is None or step is None:
        if row is not None:
            await _record_failure(database, row.id, now)
        raise AuthenticationFailed(WRONG_CREDENTIALS)
    async with database.write() as session:
        current = await session.get(PatientAccount, row.id, with_for_update=True)
        if current is None:
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        if current.totp_last_step is not None and step <= current.totp_last_step:
            raise AuthenticationFailed(WRONG_CREDENTIALS)  # the same code raced in twice
        refusal = login_refusal(State(current.state), current.created_at, now)
        if refusal:
            raise LifecycleRefused(refusal.code, refusal.sentence)
        counters = after_success()
        current.failed_logins, current.locked_until = counters.failures, counters.locked_until
        current.totp_last_step = step
        return AccountView.of(current, now)
