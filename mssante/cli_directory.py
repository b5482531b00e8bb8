"""``mssante directory``: import the national extractions, generate realistic ones, search the directory."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from directory import checkpoint
from directory.errors import DirectoryError
from directory.generator import generate as generate_files
from directory.importer import ImportReport, import_file
from directory.resolve import lookup_owner
from directory.search import search
from directory.search_query import SearchQuery
from mssante.settings import Settings
from storage.engine import Database
from storage.errors import StorageError
from storage.migrate import upgrade

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise click.ClickException(f"invalid settings: {error}") from None


def _run(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    async def runner() -> T:
        database = Database(settings.effective_database_url)
        try:
            await upgrade(database)
            return await action(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except (DirectoryError, StorageError) as error:
        raise click.ClickException(str(error)) from None


@click.group("directory")
def directory() -> None:
    """Professional directory: import the national extractions, generate test ones, search."""


class _Bar:
    """A progress bar with rows/s and ETA on a terminal; silent otherwise (logs, pipes, CI)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.started = time.monotonic()
        self.rate = ""
        self.staged = False  # the reading is over: no bar again

    def __call__(self, done: int, total: int, lines: int) -> None:
        if not self.enabled or self.staged:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), show_eta=True, show_percent=True, width=30,
                                         item_show_func=lambda _: self.rate, file=sys.stderr)
            self.bar.__enter__()
        self.rate = f"{lines:,} lines, {lines / max(time.monotonic() - self.started, 1e-6):,.0f} lines/s"
        self.bar.update(max(0, min(done, total) - self.bar.pos))

    def stage(self, name: str) -> None:
        """A stage after the reading begins (the merges, the commit): the bar ends, a line says what runs, and
        since when (a first load of the national file merges for about as long as it reads)."""
        if not self.enabled:
            return
        self.staged = True
        self.close()
        click.echo(f"{name}… (at {time.monotonic() - self.started:,.0f} s)", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@directory.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--rejects-dir", type=click.Path(path_type=Path), default=None,
              help="Where to write the rejected lines (default: <data dir>/directory-rejects).")
@click.option("--force", is_flag=True, help="Import even an extraction older than the last one imported.")
def import_command(paths: tuple[Path, ...], rejects_dir: Path | None, force: bool) -> None:
    """Import activity and mailbox extractions (.txt or .zip); the kind is read from each file's header."""
    settings = _settings()
    target = rejects_dir or settings.data_dir / "directory-rejects"
    target.mkdir(parents=True, exist_ok=True)

    async def action(database: Database) -> list[ImportReport]:
        reports = []
        for path in paths:
            bar = _Bar(sys.stderr.isatty())
            try:
                rejects = target / f"{path.name}.rejects.txt"
                reports.append(await import_file(database, path, rejects_path=rejects, progress=bar, force=force,
                                                 stage=bar.stage))
            finally:
                bar.close()
            click.echo("\n".join(reports[-1].lines()))
        # a large SQLite import's log is copied into the database file after its commit (directory.checkpoint)
        if any(report.checkpoint is not None for report in reports):
            if sys.stderr.isatty():
                click.echo("copying the import's log into the database file…", err=True)
            for done in await asyncio.to_thread(checkpoint.wait):
                click.echo(f"log copied into the database file in {done.seconds:.1f} s" if done.error is None else
                           f"the log could not be copied into the database file yet ({done.error}); SQLite copies "
                           "it at its next checkpoint, nothing is lost")
        return reports

    _run(settings, action)


@directory.command("generate")
@click.option("--persons", type=click.IntRange(1, 5_000_000), required=True, help="How many practitioners.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same files.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option("--generation", type=click.Choice(["52", "56"]), default="56", show_default=True,
              help="Column generation of the activity file.")
@click.option("--encoding", type=click.Choice(["utf-8", "latin-1"]), default="utf-8", show_default=True)
@click.option("--stamp", default="202611230000", show_default=True, help="Extraction stamp in the file names.")
def generate_command(persons: int, seed: int, out_dir: Path, generation: str, encoding: str, stamp: str) -> None:
    """Write realistic activity and mailbox extractions in the national formats (for tests, demo, bench)."""
    generated = generate_files(out_dir, persons=persons, seed=seed, generation=int(generation), encoding=encoding,
                               stamp=stamp)
    click.echo(f"{generated.activity_path} ({generated.activity_lines} activity lines, {generated.persons} persons)")
    click.echo(f"{generated.mailbox_path} ({generated.mailbox_lines} mailboxes)")


@directory.command("search")
@click.argument("text", default="")
@click.option("--profession", default=None, help="Profession code, e.g. 10 (doctor).")
@click.option("--specialty", default=None, help="Specialty code, e.g. SM04.")
@click.option("--city", default=None)
@click.option("--postal-code", default=None)
@click.option("--department", default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON of each practitioner.")
def search_command(text: str, profession: str | None, specialty: str | None, city: str | None,
                   postal_code: str | None, department: str | None, limit: int, as_json: bool) -> None:
    """Search practitioners: `mssante directory search "martin cardio lyon"`."""
    query = SearchQuery(q=text, profession=profession, specialty=specialty, city=city, postal_code=postal_code,
                        department=department, limit=limit)

    async def action(database: Database) -> None:
        async with database.read() as session:
            page = await search(session, query)
        for item in page.items:
            if as_json:
                click.echo(json.dumps(asdict(item), ensure_ascii=False))
                continue
            places = "; ".join(f"{place.structure}, {place.postal_code} {place.city}" for place in item.places)
            specialties = ", ".join(label for _, label in item.specialties)
            click.echo(f"{item.id_nat}  {item.given} {item.family} — {item.profession_label}"
                       f"{' (' + specialties + ')' if specialties else ''} — {places}"
                       f"{' — ' + ', '.join(item.mailboxes) if item.mailboxes else ''}")
        if not page.items:
            click.echo("no practitioner found")

    _run(_settings(), action)


@directory.command("resolve")
@click.argument("address")
def resolve_command(address: str) -> None:
    """Who is behind a mailbox address: `mssante directory resolve alice.martin@mssante.localhost`."""

    async def action(database: Database) -> bool:
        owner = await lookup_owner(database, address)
        if owner is None:
            return False
        who = f"{owner.given} {owner.family}".strip() if owner.kind == "person" else owner.display_name
        profession = f" — {owner.profession_label}" if owner.profession_label else ""
        specialty = f" ({owner.specialty_label})" if owner.specialty_label else ""
        structure = f" — {owner.structure_name}" if owner.kind == "person" and owner.structure_name else ""
        click.echo(f"{owner.address}  {owner.mailbox_type}  {owner.kind} {owner.id_nat or owner.structure_id}  "
                   f"{who}{profession}{specialty}{structure}{'' if owner.active else '  (inactive)'}")
        return True

    if not _run(_settings(), action):
        raise click.ClickException(f"{address} is not in the directory")
