"""Fixtures of the patient inbox tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.engine import Database
from tests.patient_inbox.factories import World, build_world


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[World]:
    built = build_world(database, tmp_path)
    try:
        yield built
    finally:
        await built.close()
