"""Password login: the verification cache, suspension, and throttling, with a controlled clock."""

from __future__ import annotations

from mail_gateway.auth import Authenticator
from mail_gateway.store.mailboxes import set_state
from storage.engine import Database
from tests.mail_gateway.factories import PASSWORD, make_mailbox


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cached_login_still_sees_a_suspension_and_a_wrong_password(database: Database) -> None:
    clock = Clock()
    auth = Authenticator(database, clock=clock, cache_ttl=60.0)
    box = await make_mailbox(database)
    assert (await auth.verify_password(box.address, PASSWORD, "192.0.2.1")).ok
    assert (await auth.verify_password(box.address, PASSWORD, "192.0.2.1")).ok  # from the cache
    assert not (await auth.verify_password(box.address, "wrong password", "192.0.2.1")).ok
    async with database.write() as session:
        await set_state(session, box.address, "suspended")
    clock.now += 6  # past the mailbox cache's 5 s, within the verification cache's 60 s
    outcome = await auth.verify_password(box.address, PASSWORD, "192.0.2.1")
    assert outcome.reason == "suspended"


async def test_unknown_address_and_throttling(database: Database) -> None:
    clock = Clock()
    auth = Authenticator(database, clock=clock, max_failures=2, failure_window=60.0)
    box = await make_mailbox(database)
    for _ in range(2):
        assert (await auth.verify_password("nobody@mssante.localhost", "x", "198.51.100.7")).reason == "invalid"
    assert (await auth.verify_password(box.address, PASSWORD, "198.51.100.7")).reason == "throttled"
    clock.now += 61
    assert (await auth.verify_password(box.address, PASSWORD, "198.51.100.7")).ok
