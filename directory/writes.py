"""The import process's writes of staged batches: at most one in flight on a connection, each written while the
next batch is parsed (:mod:`directory.importer`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from directory.batch import Staged
from directory.staging import Staging


async def write_batch(staging: Staging, rows: Staged, persons: Staging | None, person_rows: Staged) -> None:
    if not isinstance(rows, list | bytes) or not isinstance(person_rows, list | bytes):
        raise TypeError("a parsing process sent a frame")  # frames stay in their process (its staging file)
    if persons is not None and persons.connection is not staging.connection:  # PostgreSQL's side build
        await asyncio.gather(staging.write(rows), persons.write(person_rows))
        return
    await staging.write(rows)
    if persons is not None:
        await persons.write(person_rows)


class OneWrite:
    """At most one staging write in flight: a batch is written while the next is parsed, and a write waits for
    the previous one (the connection takes one statement at a time)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self, write: Callable[[], Coroutine[Any, Any, None]]) -> None:
        await self.wait()
        self._task = asyncio.create_task(write())

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def cancel(self) -> None:
        """On the way out after a failure: a write still running is cancelled and waited for."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
