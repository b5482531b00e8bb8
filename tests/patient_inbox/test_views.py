"""The cached body views: sanitised HTML or plain text, bounded cache, same answer cached or not."""

from __future__ import annotations

from pathlib import Path

from patient_inbox.views import BodyViews, body_view
from storage.blobs import BlobStore


def message(body: str, subtype: str = "html") -> bytes:
    return (
        f"From: a@b.example\r\nSubject: s\r\nContent-Type: text/{subtype}; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def test_html_is_sanitised_and_text_kept() -> None:
    view = body_view(message("<p onclick=x>Bonjour<script>alert(1)</script></p>"))
    assert view.html is not None and view.html.strip() == "<p>Bonjour</p>"
    assert view.text is None
    plain = body_view(message("<b>pas du HTML</b>", "plain"))
    assert plain.html is None and plain.text is not None and "<b>pas du HTML</b>" in plain.text


async def test_the_cache_is_bounded_and_consistent(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    names = blobs.put_many([message(f"<p>message {n}</p>") for n in range(10)])
    views = BodyViews(blobs, max_entries=4)
    first = await views.get_many(names)
    again = await views.get_many(list(reversed(names)))
    assert [v.html for v in first] == [v.html for v in reversed(again)]
    assert len(views._cache) == 4
    assert [v.html for v in await views.get_many([names[3], names[3]])] == [first[3].html] * 2
