"""``mssante patient``: add (prints the activation code for the letter), list, close and reopen patient spaces."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import click

from mssante.settings import Settings
from patient_inbox import accounts
from patient_inbox.errors import PatientInboxError
from policies.patient_lifecycle import OPPOSITION_WINDOW, Event
from storage.base import utcnow
from storage.engine import Database

T = TypeVar("T")


def _run(action: Callable[[Database, Settings], Awaitable[T]]) -> T:
    settings = Settings()

    async def runner() -> T:
        database = Database(settings.effective_database_url)
        try:
            return await action(database, settings)
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except PatientInboxError as error:
        raise click.ClickException(str(error)) from None


@click.group("patient")
def patient() -> None:
    """Manage patient spaces (address <INS>@<patient domain>)."""


@patient.command("add")
@click.option("--ins", required=True, help="INS matricule (15 characters, key included; 2A/2B for Corsica).")
@click.option("--family", required=True, help="Family name.")
@click.option("--given", required=True, help="Given name(s).")
@click.option("--birth-date", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD.")
@click.option("--email", required=True, help="Personal email address for content-free notifications.")
def add(ins: str, family: str, given: str, birth_date: datetime, email: str) -> None:
    """Create a space; print its address and the activation code for the notification letter."""

    async def action(database: Database, settings: Settings) -> tuple[str, str, datetime]:
        now = utcnow()
        async with database.write() as session:
            row, code = await accounts.create_account(
                session,
                ins=ins,
                family_name=family,
                given_names=given,
                birth_date=birth_date.date(),
                email=email,
                patient_domain=settings.patient_domain,
                now=now,
            )
            return row.address, code, now + OPPOSITION_WINDOW

    address, code, window_end = _run(action)
    click.echo(f"created {address}")
    click.echo(f"activation code: {code}")
    click.echo(f"opposition window ends {window_end:%Y-%m-%d %H:%M} UTC")


@patient.command("list")
def list_() -> None:
    """One line per space: INS, address, state (as of now), credentials set, family and given names."""

    async def action(database: Database, settings: Settings) -> list[str]:
        now = utcnow()
        async with database.read() as session:
            views = [accounts.AccountView.of(row, now) for row in await accounts.list_accounts(session)]
        return [
            f"{v.ins}\t{v.address}\t{v.state.value}\t{'enrolled' if v.has_credentials else 'not-enrolled'}"
            f"\t{v.family_name}\t{v.given_names}"
            for v in views
        ]

    for line in _run(action):
        click.echo(line)


def _change(ins: str, event: Event) -> str:
    async def action(database: Database, settings: Settings) -> str:
        now = utcnow()
        async with database.write() as session:
            row = await accounts.change_state(session, ins, event, now)
            return f"{row.address} is {row.state}"

    return _run(action)


@patient.command("close")
@click.option("--ins", required=True)
def close(ins: str) -> None:
    """Close an active space at the patient's request: mail is refused, the data is kept."""
    click.echo(_change(ins, Event.CLOSE))


@patient.command("reopen")
@click.option("--ins", required=True)
def reopen(ins: str) -> None:
    """Reopen a closed (or opposed) space: everything kept is there again."""
    click.echo(_change(ins, Event.REOPEN))


__all__ = ["patient"]
