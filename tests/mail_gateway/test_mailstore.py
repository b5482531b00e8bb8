from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mail_gateway.errors import FolderNotFound, InvalidMailbox, MailboxExists
from mail_gateway.store.mailboxes import create_mailbox, find_mailbox
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.models import Folder, FolderMessage, Mailbox, MessageContent
from mail_gateway.store.notify import InProcessNotifier
from storage.blobs import BlobStore
from storage.engine import Database
from storage.errors import BlobNotFound
from tests.mail_gateway.factories import make_mailbox, make_message


@pytest.fixture
async def store(database: Database, tmp_path: Path) -> AsyncIterator[MailStore]:
    mail_store = MailStore(database, BlobStore(tmp_path / "blobs"), InProcessNotifier())
    yield mail_store
    await mail_store.close()


async def test_new_mailbox_has_special_use_folders(database: Database) -> None:
    box = await make_mailbox(database, "Alice.Martin@MSSante.localhost")
    assert box.address == "alice.martin@mssante.localhost"
    async with database.read() as session:
        rows = await session.scalars(select(Folder).where(Folder.mailbox_id == box.id))
        folders = {f.name: f.special_use for f in rows}
    assert folders == {"INBOX": None, "Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash"}


async def test_mailbox_validation_and_uniqueness(database: Database) -> None:
    await make_mailbox(database, "a@mssante.localhost")
    with pytest.raises(MailboxExists):
        await make_mailbox(database, "A@mssante.localhost")
    async with database.write() as session:
        with pytest.raises(InvalidMailbox, match="idNat_PS"):
            await create_mailbox(session, address="b@mssante.localhost", kind="PER", owner_id="123",
                                 display_name="B", password_hash=None)
        with pytest.raises(InvalidMailbox, match="domain"):
            await create_mailbox(session, address="b@localhost", kind="PER", owner_id="810001234567",
                                 display_name="B", password_hash=None)
        with pytest.raises(InvalidMailbox, match="type"):
            await create_mailbox(session, address="b@mssante.localhost", kind="XXX", owner_id="810001234567",
                                 display_name="B", password_hash=None)


async def test_message_to_several_recipients_is_stored_once(database: Database, store: MailStore) -> None:
    a = await make_mailbox(database)
    b = await make_mailbox(database)
    raw = make_message()
    copies = await store.deliver(raw, [a.id, b.id])
    assert [c.uid for c in copies] == [1, 1]
    assert await store.read(copies[0].sha256) == raw
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(MessageContent)) == 1
        assert await session.scalar(select(func.count()).select_from(FolderMessage)) == 2
        content = await session.scalar(select(MessageContent))
        assert content is not None and content.structure["envelope"]["subject"] == "Compte rendu"
        used = await session.scalar(select(Mailbox.used_bytes).where(Mailbox.id == a.id))
        assert used == len(raw)


def blob_files(store: MailStore) -> list[Path]:
    return [p for p in store.blobs.root.glob("*/*") if not p.name.startswith(".tmp-")]


async def test_small_messages_live_in_their_row_and_large_ones_in_the_blob_store(
    database: Database, store: MailStore
) -> None:
    box = await make_mailbox(database)
    small = make_message(body="court\r\n")
    large = make_message(body="ligne de compte rendu de consultation\r\n" * (store.inline_max // 30))
    assert len(small) <= store.inline_max < len(large)
    copies = await asyncio.gather(store.deliver(small, [box.id]), store.deliver(large, [box.id]))  # one batch
    small_copy, large_copy = copies[0][0], copies[1][0]
    assert [p.name for p in blob_files(store)] == [large_copy.sha256]
    assert store.blobs.get(large_copy.sha256, verify=True) == large
    async with database.read() as session:
        rows = dict((await session.execute(select(MessageContent.sha256, MessageContent.inline_data))).all())
    assert rows == {small_copy.sha256: small, large_copy.sha256: None}
    assert await store.read(small_copy.sha256) == small
    assert await store.read(large_copy.sha256) == large
    # the same bytes again: one content row, no file for the small one
    again = await store.deliver(small, [box.id])
    assert again[0].sha256 == small_copy.sha256 and again[0].uid == 3
    assert len(blob_files(store)) == 1


async def test_reading_an_unknown_content_is_a_clear_error(store: MailStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.read("0" * 64)


async def test_concurrent_deliveries_get_distinct_increasing_uids(database: Database, store: MailStore) -> None:
    box = await make_mailbox(database)
    results = await asyncio.gather(*(store.deliver(make_message(body=f"n{i}\r\n"), [box.id]) for i in range(40)))
    uids = sorted(copies[0].uid for copies in results)
    assert uids == list(range(1, 41))
    modseqs = {copies[0].modseq for copies in results}
    assert len(modseqs) == 40
    async with database.read() as session:
        folder = await session.scalar(select(Folder).where(Folder.mailbox_id == box.id, Folder.name == "INBOX"))
        assert folder is not None and folder.uidnext == 41


async def test_a_bad_target_fails_alone(database: Database, store: MailStore) -> None:
    box = await make_mailbox(database)
    good = store.deliver(make_message(body="good\r\n"), [box.id])
    bad = store.deliver(make_message(body="bad\r\n"), [box.id], folder="Nope")
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], FolderNotFound)


async def test_append_with_flags_and_notification(database: Database, store: MailStore) -> None:
    box = await make_mailbox(database)
    async with database.read() as session:
        sent = await session.scalar(select(Folder).where(Folder.mailbox_id == box.id, Folder.name == "Sent"))
    assert sent is not None
    subscription = store.notifier.subscribe(sent.id)  # type: ignore[attr-defined]
    copy = await store.append(box.id, sent.id, make_message(), flags=["\\Seen", "$Label1", "\\Seen"])
    event = await subscription.wait(timeout=5)
    assert event is not None and event.folder_id == sent.id and event.modseq == copy.modseq
    async with database.read() as session:
        row = await session.scalar(select(FolderMessage).where(FolderMessage.folder_id == sent.id))
        assert row is not None and row.flags == "$Label1 \\Seen"
    assert (await find_mailbox_safe(database, box.address)) is not None


async def find_mailbox_safe(database: Database, address: str) -> object:
    async with database.read() as session:
        return await find_mailbox(session, address)
