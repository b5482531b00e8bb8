"""Address resolution for the rest of the system: who is behind this mailbox address?

The gateway calls this for every recipient and the patient inbox for every professional it shows, so it is
one indexed lookup (the mailbox row joined to its owner), behind an in-process LRU cache with a time to live.
Unknown addresses are cached too, for a shorter time, so a flood of mail to a bad address costs one query.
Concurrent lookups of the same address share one query. After an import in the same process call
:meth:`Resolver.invalidate`; other processes see the change within ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from directory.models import Mailbox, Person
from policies.addresses import MAX_ADDRESS
from storage.engine import Database
from storage.ttl_cache import Missing, TtlCache


@dataclass(frozen=True, slots=True)
class Owner:
    """The owner of a mailbox as the directory knows it (``active`` is False once it left the extractions)."""

    address: str
    mailbox_type: str  # PER, ORG, APP or CAB
    kind: Literal["person", "structure"]
    id_nat: str  # the person's idNat; empty for a structure's mailbox
    structure_id: str  # 1+FINESS, 3+SIRET or 4+SIREN, when known
    civility: str
    family: str
    given: str
    profession_code: str
    profession_label: str
    specialty_code: str
    specialty_label: str
    structure_name: str
    service: str
    dematerialised: bool
    active: bool

    @property
    def display_name(self) -> str:
        """What a patient sees instead of the address: the person's name, or the service and structure."""
        if self.kind == "person":
            return " ".join(part for part in (self.given, self.family) if part) or self.address
        return " – ".join(part for part in (self.service, self.structure_name) if part) or self.address


async def lookup_owner(database: Database, address: str) -> Owner | None:
    """One uncached lookup; None when the address is not in the directory."""
    normalised = address.strip().lower()
    if not normalised or len(normalised) > MAX_ADDRESS or "@" not in normalised:
        return None
    statement = (
        select(Mailbox, Person)
        .outerjoin(Person, (Person.id_nat == Mailbox.id_nat) & (Mailbox.id_nat != ""))
        .where(Mailbox.address == normalised)
    )
    async with database.read() as session:
        row = (await session.execute(statement)).first()
    if row is None:
        return None
    box: Mailbox = row[0]
    person: Person | None = row[1]
    is_person = box.kind == "PER" or (bool(box.id_nat) and not box.structure_id)
    return Owner(
        address=box.address, mailbox_type=box.kind, kind="person" if is_person else "structure",
        id_nat=box.id_nat, structure_id=box.structure_id,
        civility=person.title or person.civility if person else box.civility,
        family=person.family if person else box.family, given=person.given if person else box.given,
        profession_code=person.profession_code if person else box.profession_code,
        profession_label=person.profession_label if person else box.profession_label,
        specialty_code=box.specialty_code, specialty_label=box.specialty_label,
        structure_name=box.structure_name, service=box.service, dematerialised=box.dematerialised,
        active=box.active and (person.active if person is not None else True),
    )


class Resolver:
    """``await resolver.resolve(address) -> Owner | None``, cached; one per process is enough."""

    def __init__(
        self,
        database: Database,
        *,
        ttl: float = 300.0,
        negative_ttl: float = 30.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._cache: TtlCache[str, Owner | None] = TtlCache(ttl=ttl, negative_ttl=negative_ttl, max_entries=max_entries)
        self._pending: dict[str, asyncio.Future[Owner | None]] = {}

    async def resolve(self, address: str) -> Owner | None:
        key = address.strip().lower()
        now = self.clock()
        cached = self._cache.get(key, now)
        if not isinstance(cached, Missing):
            self.hits += 1
            return cached
        pending = self._pending.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending)
        self.misses += 1
        future: asyncio.Future[Owner | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            owner = await lookup_owner(self.database, key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # marks it retrieved when nobody else waits
            raise
        finally:
            del self._pending[key]
        future.set_result(owner)
        self._cache.put(key, owner, now)
        return owner

    def invalidate(self, address: str | None = None) -> None:
        """Forget one address, or everything (after an import)."""
        if address is None:
            self._cache.clear()
        else:
            self._cache.forget(address.strip().lower())
