"""Reading stored messages back: from the row for small ones (``inline_data``), from the blob store otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select

from mail_gateway.store.models import MessageContent
from storage.blobs import BlobStore
from storage.engine import Database

_CONTENTS = cast(Table, MessageContent.__table__)
_CHUNK = 500  # names per IN (...) list


async def read_contents(database: Database, blobs: BlobStore, wanted: Sequence[tuple[str, int | None]]) -> list[bytes]:
    """The first ``length`` octets (all when ``None``) of each ``(sha256, length)``, in order.

    One query finds the inline ones; the others are read from the blob store in a worker thread. A name that is
    in neither raises ``BlobNotFound``.
    """
    names = list(dict.fromkeys(sha for sha, _ in wanted))
    inline: dict[str, bytes] = {}
    async with database.read() as session:
        for start in range(0, len(names), _CHUNK):
            rows = await session.execute(
                select(_CONTENTS.c.sha256, _CONTENTS.c.inline_data).where(
                    _CONTENTS.c.sha256.in_(names[start : start + _CHUNK]), _CONTENTS.c.inline_data.is_not(None)
                )
            )
            inline.update((sha, bytes(data)) for sha, data in rows)

    def from_files() -> dict[tuple[str, int | None], bytes]:
        return {
            (sha, length): blobs.get(sha) if length is None else blobs.read_range(sha, 0, length)
            for sha, length in wanted
            if sha not in inline
        }

    files = await asyncio.to_thread(from_files) if len(inline) < len(names) else {}
    return [inline[sha][:length] if sha in inline else files[(sha, length)] for sha, length in wanted]
