"""The readable body of a stored message, computed once per blob and kept in a bounded LRU cache.

A blob never changes (it is named by its SHA-256), so a cached view can never be stale; parsing MIME headers
with the stdlib is the most expensive part of showing a conversation, hence the cache. The cache holds at most
``MAX_ENTRIES`` views and skips bodies larger than ``MAX_CACHED_CHARS``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from patient_inbox.mime import parse_message
from patient_inbox.sanitise import sanitise_html
from storage.blobs import BlobStore

MAX_ENTRIES = 4096
MAX_CACHED_CHARS = 256 * 1024


@dataclass(frozen=True)
class BodyView:
    html: str | None  # sanitised HTML, when the message has an HTML body
    text: str | None  # plain text otherwise


def body_view(raw: bytes) -> BodyView:
    parsed = parse_message(raw)
    if parsed.html:
        return BodyView(sanitise_html(parsed.html), None)
    return BodyView(None, parsed.text or "")


class BodyViews:
    def __init__(self, blobs: BlobStore, max_entries: int = MAX_ENTRIES) -> None:
        self.blobs = blobs
        self.max_entries = max_entries
        self._cache: OrderedDict[str, BodyView] = OrderedDict()

    def _compute(self, sha256: str) -> BodyView:
        return body_view(self.blobs.get(sha256))

    async def get_many(self, names: list[str]) -> list[BodyView]:
        missing = [name for name in dict.fromkeys(names) if name not in self._cache]
        if missing:
            computed = await asyncio.to_thread(lambda: [self._compute(name) for name in missing])
            for name, view in zip(missing, computed, strict=True):
                size = len(view.html or "") + len(view.text or "")
                if size <= MAX_CACHED_CHARS:
                    self._cache[name] = view
            found = dict(zip(missing, computed, strict=True))
        else:
            found = {}
        result = []
        for name in names:
            view = self._cache.get(name) or found[name]
            if name in self._cache:
                self._cache.move_to_end(name)
            result.append(view)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return result
