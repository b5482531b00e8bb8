"""The ImapStore contract, run against the in-memory store and the SQL store (SQLite and PostgreSQL).

The transcript tests rely on the in-memory store behaving like the SQL one; this is where that is checked.
"""

from __future__ import annotations

import asyncio

import pytest

from mail_gateway.imap.errors import FolderExists, NoSuchFolder
from tests.imap import messages
from tests.imap.backends import Backend, backend, backend_url

__all__ = ["backend", "backend_url"]


async def test_folders_create_rename_delete(backend: Backend) -> None:
    store = backend.store
    box = await backend.mailbox()
    names = [f.name for f in await store.folders(box)]
    assert sorted(names) == ["Drafts", "INBOX", "Sent", "Trash"]
    work = await store.create_folder(box, "Work/Été", "\\Archive")
    assert work.special_use == "\\Archive" and work.uidnext == 1
    with pytest.raises(FolderExists):
        await store.create_folder(box, "Work/Été")
    await store.create_folder(box, "Work")
    await store.rename_folder(box, "Work", "Old")
    assert {f.name for f in await store.folders(box)} >= {"Old", "Old/Été"}
    await store.set_subscribed(box, "Old", False)
    assert not (await store.folder(box, "Old")).subscribed  # type: ignore[union-attr]
    await store.delete_folder(box, "Old/Été")
    assert await store.folder(box, "Old/Été") is None
    with pytest.raises(NoSuchFolder):
        await store.delete_folder(box, "Old/Été")
    again = await store.create_folder(box, "Work/Été")
    assert again.uidvalidity > work.uidvalidity  # RFC 3501 §2.3.1.1


async def test_uids_modseqs_flags_expunge_and_changes(backend: Backend) -> None:
    store = backend.store
    box = await backend.mailbox()
    uids = [await backend.deliver(box, messages.numbered(n)) for n in range(1, 5)]
    assert uids == [1, 2, 3, 4]
    inbox = await store.folder(box, "INBOX")
    assert inbox is not None and inbox.uidnext == 5
    snap = await store.snapshot(inbox.id)
    assert list(snap.uids) == uids and snap.first_unseen_uid == 1
    base = snap.folder.highestmodseq
    states, refused = await store.store_flags(inbox.id, [1, 2], "+", ["\\Seen", "\\Deleted"], None)
    assert [s.uid for s in states] == [1, 2] and refused == []
    assert states[0].flags == ("\\Deleted", "\\Seen") and states[0].modseq > base
    again, _ = await store.store_flags(inbox.id, [1], "+", ["\\Seen"], None)
    assert again[0].modseq == states[0].modseq  # no change, no new MODSEQ
    _, refused = await store.store_flags(inbox.id, [1, 3], "+", ["$X"], base)
    assert refused == [1]
    assert (await store.snapshot(inbox.id)).first_unseen_uid == 3
    counts = await store.counts(inbox.id)
    assert (counts.messages, counts.unseen, counts.deleted) == (4, 2, 2)
    assert counts.size == sum(len(messages.numbered(n)) for n in range(1, 5))
    assert await store.expunge(inbox.id, [2, 3]) == [2]
    assert await store.expunge(inbox.id, None) == [1]
    changes = await store.changes(inbox.id, base)
    assert list(changes.expunged) == [1, 2]
    assert [s.uid for s in changes.changed] == [3]
    assert changes.highestmodseq > base
    assert [s.uid for s in await store.states(inbox.id, [1, 3, 4])] == [3, 4]


async def test_messages_read_copy_move_append_quota(backend: Backend) -> None:
    store = backend.store
    box = await backend.mailbox(quota=1_000_000)
    await backend.deliver(box, messages.MULTIPART, flags=["\\Flagged"])
    await backend.deliver(box, messages.SIMPLE)
    inbox = await store.folder(box, "INBOX")
    trash = await store.folder(box, "Trash")
    assert inbox is not None and trash is not None
    found = await store.messages(inbox.id, [2, 1, 99], structure=True)
    assert [m.uid for m in found] == [1, 2]
    assert found[0].flags == ("\\Flagged",) and found[0].size == len(messages.MULTIPART)
    assert found[0].structure is not None and found[0].structure["part"]["subtype"] == "mixed"
    assert await store.read(found[1].sha256, 4) == b"From"
    used, limit = await store.quota(box)
    assert (used, limit) == (len(messages.MULTIPART) + len(messages.SIMPLE), 1_000_000)
    validity, pairs = await store.copy(inbox.id, [1, 2], trash.id, move=False)
    assert validity == trash.uidvalidity and pairs == [(1, 1), (2, 2)]
    validity, pairs = await store.copy(inbox.id, [2], trash.id, move=True)
    assert pairs == [(2, 3)]
    assert list((await store.snapshot(inbox.id)).uids) == [1]
    assert list((await store.snapshot(trash.id)).uids) == [1, 2, 3]
    assert (await store.quota(box))[0] == 2 * len(messages.MULTIPART) + 2 * len(messages.SIMPLE)
    validity, uid = await store.append(box, trash.id, messages.numbered(7), ["\\Seen"], None)
    assert (validity, uid) == (trash.uidvalidity, 4)
    assert (await store.messages(trash.id, [4], structure=False))[0].flags == ("\\Seen",)


async def test_rename_inbox_moves_its_messages(backend: Backend) -> None:
    store = backend.store
    box = await backend.mailbox()
    await backend.deliver(box, messages.SIMPLE)
    await store.rename_folder(box, "INBOX", "Archive 2026")
    inbox = await store.folder(box, "INBOX")
    archive = await store.folder(box, "Archive 2026")
    assert inbox is not None and archive is not None
    assert list((await store.snapshot(inbox.id)).uids) == []
    assert list((await store.snapshot(archive.id)).uids) == [1]
    assert list((await store.changes(inbox.id, 0)).expunged) == [1]


async def test_changes_are_published_after_commit(backend: Backend) -> None:
    store = backend.store
    box = await backend.mailbox()
    inbox = await store.folder(box, "INBOX")
    assert inbox is not None
    watch = store.watch(inbox.id)
    try:
        await backend.deliver(box, messages.SIMPLE)
        assert await watch.wait(5) is not None
        await store.store_flags(inbox.id, [1], "+", ["\\Seen"], None)
        assert await watch.wait(5) is not None
        assert await watch.wait(0.05) is None
    finally:
        watch.close()


async def test_concurrent_stores_get_distinct_increasing_modseqs(backend: Backend) -> None:
    store = backend.store
    box = await backend.mailbox()
    for n in range(10):
        await backend.deliver(box, messages.numbered(n))
    inbox = await store.folder(box, "INBOX")
    assert inbox is not None
    results = await asyncio.gather(*(store.store_flags(inbox.id, [uid], "+", ["\\Seen"], None) for uid in range(1, 11)))
    modseqs = [states[0].modseq for states, _ in results]
    assert len(set(modseqs)) == 10
    assert (await store.changes(inbox.id, 0)).highestmodseq == max(modseqs)


@pytest.mark.parametrize("backend_url", ["sqlite", "postgresql"], indirect=True)  # group commit is SQL-only
async def test_a_failing_flag_change_does_not_fail_its_batch(backend: Backend) -> None:
    assert backend.memory is None
    store = backend.store
    box = await backend.mailbox()
    await backend.deliver(box, messages.SIMPLE)
    inbox = await store.folder(box, "INBOX")
    assert inbox is not None
    good, bad = await asyncio.gather(
        store.store_flags(inbox.id, [1], "+", ["\\Seen"], None),
        store.store_flags(inbox.id, [2**70], "+", ["\\Seen"], None),  # out of range for the column: it fails
        return_exceptions=True,
    )
    assert isinstance(bad, Exception)
    assert not isinstance(good, BaseException) and good[0][0].flags == ("\\Seen",)
    assert (await store.states(inbox.id, [1]))[0].flags == ("\\Seen",)


async def test_small_and_large_messages_read_back(backend: Backend) -> None:
    """Small messages live in their row, large ones in the blob store: both read back the same way."""
    store = backend.store
    box = await backend.mailbox(quota=10_000_000)
    large = messages.SIMPLE.replace(b"\r\n\r\n", b"\r\n\r\n" + b"ligne de compte rendu\r\n" * 4000, 1)
    assert len(large) > 64 * 1024
    await backend.deliver(box, messages.SIMPLE)
    await backend.deliver(box, large)
    inbox = await store.folder(box, "INBOX")
    assert inbox is not None
    small_row, large_row = await store.messages(inbox.id, [1, 2], structure=False)
    assert await store.read_many([(small_row.sha256, small_row.size), (large_row.sha256, large_row.size)]) == [
        messages.SIMPLE,
        large,
    ]
    assert await store.read(large_row.sha256, 10) == large[:10]
    assert await store.read_many([(large_row.sha256, 4), (small_row.sha256, 4), (large_row.sha256, 6)]) == [
        large[:4], messages.SIMPLE[:4], large[:6],
    ]


async def test_snapshot_first_unseen_is_told_by_the_seen_flag_only(backend: Backend) -> None:
    """UNSEEN is the first UID without \\Seen among its other flags; keywords that look alike do not count; an
    empty folder has no UIDs and no first unseen."""
    store = backend.store
    box = await backend.mailbox()
    inbox = await store.folder(box, "INBOX")
    assert inbox is not None
    empty = await store.snapshot(inbox.id)
    assert list(empty.uids) == [] and empty.first_unseen_uid is None
    flag_sets = [["\\Seen", "$Label1"], ["\\Answered", "\\Seen"], ["$Seen", "Seen"], ["\\Seen"]]
    uids = [await backend.deliver(box, messages.numbered(n), flags=flags) for n, flags in enumerate(flag_sets, 1)]
    snap = await store.snapshot(inbox.id)
    assert list(snap.uids) == uids and snap.first_unseen_uid == uids[2]
    await store.store_flags(inbox.id, [uids[2]], "+", ["\\Seen"], None)
    assert (await store.snapshot(inbox.id)).first_unseen_uid is None
