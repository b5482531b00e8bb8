"""The ``mssante`` command: ``init``, ``serve``, ``mailbox`` and the command groups of each package."""

from __future__ import annotations

import asyncio

import click
from pydantic import ValidationError

from mssante.cli_directory import directory
from mssante.cli_mailbox import mailbox, run_db
from mssante.cli_patient import patient
from mssante.cli_pki import pki, smime
from mssante.demo import DemoDirectory, create_demo_data, create_demo_patient, ensure_demo_directory
from mssante.logs import configure
from mssante.pki_store import ensure_demo_pki
from mssante.runtime import tls_context
from mssante.serve import NotInitialised, settle_heap
from mssante.serve import serve as run
from mssante.settings import Settings
from mssante.welcome import print_welcome
from storage.engine import Database
from storage.errors import MigrationError
from storage.migrate import upgrade


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise click.ClickException(f"invalid settings: {error}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mssante-gateway")
def main() -> None:
    """Operate an MSSanté-style health secure-messaging gateway."""


@main.command()
@click.option("--demo", is_flag=True, help="Also create demo mailboxes and a development health PKI.")
def init(demo: bool) -> None:
    """Create the data directory and bring the database schema up to date (idempotent)."""

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tls_context(settings)  # makes the development certificate when none is configured

    async def action(database: Database) -> tuple[dict[str, str], DemoDirectory | None]:
        await upgrade(database)
        if not demo:
            return {}, None
        credentials = await create_demo_data(settings, database)
        await create_demo_patient(settings, database)
        await ensure_demo_pki(settings, database)  # the health PKI and the demo mailboxes' certificates
        return credentials, await ensure_demo_directory(settings, database)

    try:
        credentials, imported = run_db(action)
    except MigrationError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"data directory {settings.data_dir} ready; database schema is current")
    if imported is not None:
        click.echo(f"demo directory: {imported.persons:,} practitioners ({imported.activity_lines:,} activity lines, "
                   f"{imported.mailboxes:,} mailboxes) generated in {imported.folder} and imported")
    if credentials:
        click.echo("demo mailboxes (address: password):")
        for address, password in credentials.items():
            click.echo(f"  {address}: {password}")
        click.echo(f"demo certificates (PKCS#12) in {settings.data_dir / 'pki' / 'demo'}")


@main.command()
def serve() -> None:
    """Run every listener (SMTP MX, submission, SMTPS, IMAP, HTTP) until SIGTERM."""

    settings = load_settings()
    configure(settings.log_format)

    def ready(ports: dict[str, int]) -> None:
        print_welcome(settings, ports)
        settle_heap()

    try:
        asyncio.run(run(settings, on_ready=ready))
    except NotInitialised as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot start: {error}") from None


main.add_command(mailbox)
# command groups: one import and one add_command per package CLI (keep this block)
main.add_command(directory)
main.add_command(pki)
main.add_command(smime)
main.add_command(patient)
