from __future__ import annotations

import pytest

from tests.imap.harness import Accounts
from tests.imap.memory_store import MemoryStore

BOB = 1
ALICE = 2


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.add_mailbox(BOB)
    memory.add_mailbox(ALICE, quota=10_000)
    return memory


@pytest.fixture
def accounts() -> Accounts:
    return Accounts({"bob@mssante.test": BOB, "alice@mssante.test": ALICE})


@pytest.fixture(params=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    """Each transcript is fed whole and one byte at a time (design: test habits)."""
    return bool(request.param == "bytewise")
