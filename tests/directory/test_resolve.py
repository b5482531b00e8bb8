from __future__ import annotations

import asyncio
from pathlib import Path

from directory.importer import import_file
from directory.resolve import Resolver
from storage.engine import Database
from tests.directory.helpers import known_directory, read_lines, write_lines


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_resolve_owners_and_cache(database: Database, tmp_path: Path) -> None:
    activity, mailboxes = known_directory(tmp_path)
    await import_file(database, activity)
    await import_file(database, mailboxes)
    clock = Clock()
    resolver = Resolver(database, ttl=60, negative_ttl=5, clock=clock)
    owner = await resolver.resolve(" Jean-Pierre.MARTIN@medecin.mssante.fr ")
    assert owner is not None
    assert (owner.kind, owner.mailbox_type, owner.id_nat, owner.family, owner.given) == (
        "person", "PER", "810000000002", "MARTIN", "Jean-Pierre")
    assert (owner.profession_code, owner.profession_label, owner.active) == ("10", "Médecin", True)
    service = await resolver.resolve("cardiologie@chu-lyon.mssante.fr")
    assert service is not None and (service.kind, service.structure_id, service.service) == (
        "structure", "1690000001", "Cardiologie")
    assert await resolver.resolve("nobody@nowhere.example") is None
    assert await resolver.resolve("not an address") is None
    assert (resolver.hits, resolver.misses) == (0, 4)
    await resolver.resolve("jean-pierre.martin@medecin.mssante.fr")
    await resolver.resolve("nobody@nowhere.example")
    assert (resolver.hits, resolver.misses) == (2, 4)
    clock.now += 10  # the unknown answer expired, the known one not
    await resolver.resolve("nobody@nowhere.example")
    await resolver.resolve("jean-pierre.martin@medecin.mssante.fr")
    assert (resolver.hits, resolver.misses) == (3, 5)
    # a newer mailbox extraction without the PER mailbox: inactive once the cache is invalidated
    header, *lines = read_lines(mailboxes)
    await import_file(database, write_lines(tmp_path / "v2" / "Extraction_Correspondance_MSSante_202611050000.txt",
                                            [header, *lines[1:]]))
    cached = await resolver.resolve("jean-pierre.martin@medecin.mssante.fr")
    assert cached is not None and cached.active
    resolver.invalidate()
    gone = await resolver.resolve("jean-pierre.martin@medecin.mssante.fr")
    assert gone is not None and not gone.active


async def test_concurrent_lookups_share_one_query(database: Database, tmp_path: Path) -> None:
    _, mailboxes = known_directory(tmp_path)
    await import_file(database, mailboxes)
    resolver = Resolver(database, max_entries=1)
    owners = await asyncio.gather(*(resolver.resolve("cardiologie@chu-lyon.mssante.fr") for _ in range(20)))
    assert {owner.display_name for owner in owners if owner is not None} == {"Cardiologie – Hôpital Édouard Herriot"}
    assert resolver.misses == 1
    await resolver.resolve("other@chu-lyon.mssante.fr")
    assert len(resolver._cache) == 1  # bounded


async def test_a_failed_lookup_is_not_cached(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")  # no schema: every lookup fails
    try:
        resolver = Resolver(database)
        results = await asyncio.gather(*(resolver.resolve("a@b.fr") for _ in range(3)), return_exceptions=True)
        assert all(isinstance(result, Exception) for result in results)
        assert resolver.misses == 1 and not resolver._cache and not resolver._pending
    finally:
        await database.dispose()
