"""``mssante mailbox``: add, list, passwd, suspend, resume and quota for local professional mailboxes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from mail_gateway.errors import StoreError
from mail_gateway.passwords import hash_password, password_problem
from mail_gateway.store import mailboxes
from mssante.settings import Settings
from storage.engine import Database

T = TypeVar("T")


def run_db(action: Callable[[Database], Awaitable[T]]) -> T:
    """Run one database action with a fresh engine, turning store errors into a clean CLI error."""

    async def runner() -> T:
        database = Database(Settings().effective_database_url)
        try:
            return await action(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except StoreError as error:
        raise click.ClickException(str(error)) from None


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(problem)
    return password


@click.group("mailbox")
def mailbox() -> None:
    """Manage local professional mailboxes (PER, ORG, APP)."""


@mailbox.command("add")
@click.argument("address")
@click.option("--type", "kind", type=click.Choice(["PER", "ORG", "APP"]), required=True, help="Mailbox type.")
@click.option("--name", required=True, help="Display name.")
@click.option("--owner", required=True, help="idNat_PS for PER; structure id for ORG and APP.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--quota", type=click.IntRange(min=1), default=None, help="Quota in MiB (default: the setting).")
def add(address: str, kind: str, name: str, owner: str, password_stdin: bool, quota: int | None) -> None:
    """Create ADDRESS with INBOX, Sent, Drafts and Trash."""
    password = read_password(password_stdin)

    async def action(database: Database) -> str:
        async with database.write() as session:
            row = await mailboxes.create_mailbox(
                session, address=address, kind=kind, owner_id=owner, display_name=name,
                password_hash=hash_password(password), quota_bytes=quota * 1024 * 1024 if quota else None,
            )
            return row.address

    click.echo(f"created {run_db(action)}")


@mailbox.command("list")
def list_() -> None:
    """One line per mailbox: address, type, owner, state, usage, name."""

    async def action(database: Database) -> list[str]:
        async with database.read() as session:
            return [
                f"{m.address}\t{m.kind}\t{m.owner_id}\t{m.state}\t{m.used_bytes}\t{m.display_name}"
                for m in await mailboxes.list_mailboxes(session)
            ]

    for line in run_db(action):
        click.echo(line)


@mailbox.command("passwd")
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def passwd(address: str, password_stdin: bool) -> None:
    """Set a new password for ADDRESS."""
    password = read_password(password_stdin)

    async def action(database: Database) -> None:
        async with database.write() as session:
            await mailboxes.set_password(session, address, hash_password(password))

    run_db(action)
    click.echo(f"password changed for {address.lower()}")


def _set_state(address: str, state: str) -> None:
    async def action(database: Database) -> None:
        async with database.write() as session:
            await mailboxes.set_state(session, address, state)

    run_db(action)
    click.echo(f"{address.lower()} is {state}")


@mailbox.command("suspend")
@click.argument("address")
def suspend(address: str) -> None:
    """Suspend ADDRESS: logins are refused and incoming mail is refused with 5.2.1."""
    _set_state(address, "suspended")


@mailbox.command("resume")
@click.argument("address")
def resume(address: str) -> None:
    """Make a suspended ADDRESS active again."""
    _set_state(address, "active")


@mailbox.command("quota")
@click.argument("address")
@click.argument("mebibytes", type=click.IntRange(min=0))
def quota(address: str, mebibytes: int) -> None:
    """Set the quota of ADDRESS in MiB (0: back to the configured default)."""

    async def action(database: Database) -> None:
        async with database.write() as session:
            await mailboxes.set_quota(session, address, mebibytes * 1024 * 1024 if mebibytes else None)

    run_db(action)
    click.echo(f"quota of {address.lower()} set")
