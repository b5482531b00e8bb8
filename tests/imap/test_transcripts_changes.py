"""Transcripts: STORE, EXPUNGE, COPY, MOVE, APPEND, IDLE, CONDSTORE/QRESYNC, and two sessions on one folder."""

from __future__ import annotations

import pytest

from tests.imap import messages
from tests.imap.conftest import BOB
from tests.imap.harness import PASSWORD, Accounts, Client, client
from tests.imap.memory_store import MemoryStore

LOGIN = f"a0 LOGIN bob@mssante.test {PASSWORD}"


@pytest.fixture
async def bob(store: MemoryStore, accounts: Accounts, bytewise: bool) -> Client:
    for n in range(1, 6):
        store.deliver(BOB, messages.numbered(n))
    c = client(store, accounts, bytewise=bytewise)
    await c.send(LOGIN)
    await c.send("s SELECT INBOX")
    return c


async def second(store: MemoryStore, accounts: Accounts, bytewise: bool, select: str = "SELECT INBOX") -> Client:
    c = client(store, accounts, bytewise=bytewise)
    await c.send(LOGIN)
    await c.send(f"s {select}")
    return c


async def test_store_flags_modes(bob: Client) -> None:
    assert await bob.send("t1 STORE 1:2 +FLAGS (\\Flagged $Work)") == [
        "* 1 FETCH (FLAGS ($Work \\Flagged))",
        "* 2 FETCH (FLAGS ($Work \\Flagged))",
        "t1 OK STORE completed",
    ]
    assert await bob.send("t2 STORE 2 -FLAGS.SILENT ($Work)") == ["t2 OK STORE completed"]
    assert await bob.send("t3 UID STORE 1 FLAGS (\\seen)") == [
        "* 1 FETCH (FLAGS (\\Seen) UID 1)",
        "t3 OK STORE completed",
    ]
    assert await bob.send("t4 FETCH 1:2 FLAGS") == [
        "* 1 FETCH (FLAGS (\\Seen))",
        "* 2 FETCH (FLAGS (\\Flagged))",
        "t4 OK FETCH completed",
    ]
    assert await bob.send("t5 STORE 1 +FLAGS (\\Recent)") == [
        "t5 BAD \\Recent and \\* cannot be stored (RFC 3501 §2.3.2)"
    ]
    assert await bob.send("t6 STORE 9 +FLAGS (\\Seen)") == ["t6 BAD message sequence number out of range (RFC 3501 §9)"]


async def test_expunge_and_uid_expunge(bob: Client) -> None:
    await bob.send("t1 STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    assert await bob.send("t2 UID EXPUNGE 4:5") == ["* 5 EXPUNGE", "* 4 EXPUNGE", "t2 OK EXPUNGE completed"]
    assert await bob.send("t3 EXPUNGE") == ["* 2 EXPUNGE", "t3 OK EXPUNGE completed"]
    assert await bob.send("t4 UID SEARCH ALL") == ["* SEARCH 1 3", "t4 OK SEARCH completed"]
    assert await bob.send("t5 FETCH 2 UID") == ["* 2 FETCH (UID 3)", "t5 OK FETCH completed"]


async def test_copy_move_and_uidplus(bob: Client, store: MemoryStore) -> None:
    trash = await store.folder(BOB, "Trash")
    assert trash is not None
    assert await bob.send("t1 COPY 1:2 Trash") == [f"t1 OK [COPYUID {trash.uidvalidity} 1:2 1:2] COPY completed"]
    assert await bob.send("t2 UID MOVE 4:5 Trash") == [
        f"* OK [COPYUID {trash.uidvalidity} 4:5 3:4] moved",
        "* 5 EXPUNGE",
        "* 4 EXPUNGE",
        "t2 OK MOVE completed",
    ]
    assert await bob.send("t3 COPY 1 Nope") == ["t3 NO [TRYCREATE] Nope does not exist"]
    assert await bob.send("t4 STATUS Trash (MESSAGES UIDNEXT)") == [
        '* STATUS "Trash" (MESSAGES 4 UIDNEXT 5)',
        "t4 OK STATUS completed",
    ]
    assert await bob.send("t5 COPY 2 INBOX") == ["* 4 EXISTS", "* 0 RECENT", "t5 OK [COPYUID 1001 2 6] COPY completed"]


async def test_append_with_flags_and_date(bob: Client, store: MemoryStore) -> None:
    sent = await store.folder(BOB, "Sent")
    assert sent is not None
    body = messages.numbered(9)
    lines = await bob.send(
        b'p1 APPEND Sent (\\Seen $Sent) "05-Nov-2026 14:03:00 +0100" {%d+}\r\n' % len(body) + body + b"\r\n"
    )
    assert lines == [f"p1 OK [APPENDUID {sent.uidvalidity} 1] APPEND completed"]
    lines = await bob.send(b"p2 APPEND INBOX {%d}\r\n" % len(body) + body + b"\r\n")
    assert lines == ["+ Ready for literal", "* 6 EXISTS", "* 0 RECENT", "p2 OK [APPENDUID 1001 6] APPEND completed"]
    assert await bob.send(b"p3 APPEND Nope {1+}\r\nx\r\n") == ["p3 NO [TRYCREATE] Nope does not exist"]
    await bob.send("e EXAMINE Sent")
    assert await bob.send("f FETCH 1 (FLAGS INTERNALDATE)") == [
        '* 1 FETCH (FLAGS ($Sent \\Seen) INTERNALDATE "05-Nov-2026 13:03:00 +0000")',
        "f OK FETCH completed",
    ]


async def test_append_over_quota(store: MemoryStore, accounts: Accounts, bytewise: bool) -> None:
    c = client(store, accounts, bytewise=bytewise)
    await c.send(f"a LOGIN alice@mssante.test {PASSWORD}")
    big = b"Subject: big\r\n\r\n" + b"x" * 12_000 + b"\r\n"
    assert await c.send(b"p APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\n") == [
        "p NO [OVERQUOTA] the mailbox is full"
    ]


async def test_expunge_is_deferred_during_fetch_and_sent_at_noop(
    bob: Client, store: MemoryStore, accounts: Accounts, bytewise: bool
) -> None:
    other = await second(store, accounts, bytewise)
    await other.send("o1 STORE 2 +FLAGS.SILENT (\\Deleted)")
    await other.send("o2 STORE 3 +FLAGS.SILENT (\\Flagged)")
    await other.send("o3 EXPUNGE")
    store.deliver(BOB, messages.numbered(6))
    # During FETCH by number: EXISTS and flag changes may be sent, EXPUNGE may not; 2 keeps its number.
    assert await bob.send("f1 FETCH 2:3 UID") == [
        "* 3 FETCH (UID 3)",
        "* 6 EXISTS",
        "* 0 RECENT",
        "* 3 FETCH (FLAGS (\\Flagged))",
        "f1 OK FETCH completed",
    ]
    assert await bob.send("n1 NOOP") == ["* 2 EXPUNGE", "n1 OK NOOP completed"]
    assert await bob.send("f2 FETCH 2 UID") == ["* 2 FETCH (UID 3)", "f2 OK FETCH completed"]
    # A UID command may carry the EXPUNGE (RFC 3501 §7.4.1 only forbids it for commands by number).
    await other.send("o4 STORE 1 +FLAGS.SILENT (\\Deleted)")
    await other.send("o5 EXPUNGE")
    assert await bob.send("f3 UID FETCH 3 FLAGS") == [
        "* 2 FETCH (UID 3 FLAGS (\\Flagged))",
        "* 1 EXPUNGE",
        "f3 OK FETCH completed",
    ]


async def test_qresync_reports_vanished_and_flag_changes(
    bob: Client, store: MemoryStore, accounts: Accounts, bytewise: bool
) -> None:
    other = client(store, accounts, bytewise=bytewise)
    await other.send(LOGIN)
    assert await other.send("e ENABLE QRESYNC") == ["* ENABLED QRESYNC", "e OK ENABLE completed"]
    lines = await other.send("s SELECT INBOX (QRESYNC (1001 3 1:5))")
    assert "* OK [HIGHESTMODSEQ 6] highest" in lines
    assert "* VANISHED (EARLIER)" not in " ".join(lines)
    assert lines[-3:] == [
        "* 4 FETCH (FLAGS () UID 4 MODSEQ (5))",
        "* 5 FETCH (FLAGS () UID 5 MODSEQ (6))",
        "s OK [READ-WRITE] SELECT completed",
    ]
    await bob.send("b1 STORE 1 +FLAGS.SILENT (\\Deleted \\Seen)")
    await bob.send("b2 EXPUNGE")
    await bob.send("b3 STORE 2 +FLAGS.SILENT (\\Answered)")
    assert await other.send("n NOOP") == [
        "* VANISHED 1",
        "* 2 FETCH (FLAGS (\\Answered) UID 3 MODSEQ (9))",
        "n OK NOOP completed",
    ]
    assert await other.send("f UID FETCH 1:* FLAGS (CHANGEDSINCE 6 VANISHED)") == [
        "* VANISHED (EARLIER) 1",
        "* 2 FETCH (UID 3 FLAGS (\\Answered) MODSEQ (9))",
        "f OK FETCH completed",
    ]
    assert await other.send("t UID STORE 2,3 (UNCHANGEDSINCE 7) +FLAGS (\\Flagged)") == [
        "* 1 FETCH (FLAGS (\\Flagged) UID 2 MODSEQ (10))",
        "t OK [MODIFIED 3] STORE completed",
    ]
    assert await other.send("q SEARCH MODSEQ 10") == ["* SEARCH 1 (MODSEQ 10)", "q OK SEARCH completed"]


async def test_idle_is_woken_by_a_delivery(bob: Client, store: MemoryStore) -> None:
    assert await bob.send("i IDLE") == ["+ idling"]
    assert await bob.wakeup() == []
    store.deliver(BOB, messages.numbered(6))
    assert bob.connection.session.view is not None and bob.connection.session.view.watch.pending()
    assert await bob.wakeup() == ["* 6 EXISTS", "* 0 RECENT"]
    assert await bob.send("DONE") == ["i OK IDLE terminated"]
    assert await bob.send("i2 IDLE") == ["+ idling"]
    assert await bob.send("NOPE") == ["i2 BAD expected DONE to end IDLE"]


async def test_close_expunges_silently_unselect_does_not(bob: Client, store: MemoryStore) -> None:
    await bob.send("t STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    assert await bob.send("u UNSELECT") == ["u OK UNSELECT completed"]
    assert (await store.counts((await store.folder(BOB, "INBOX")).id)).messages == 5  # type: ignore[union-attr]
    await bob.send("s SELECT INBOX")
    assert await bob.send("c CLOSE") == ["c OK CLOSE completed"]
    assert (await store.counts((await store.folder(BOB, "INBOX")).id)).messages == 3  # type: ignore[union-attr]
    assert await bob.send("c2 CLOSE") == ["c2 BAD CLOSE is not allowed now"]


async def test_deleting_the_selected_folder_elsewhere_ends_the_session(
    store: MemoryStore, accounts: Accounts, bytewise: bool
) -> None:
    a = client(store, accounts, bytewise=bytewise)
    await a.send(LOGIN)
    await a.send("c CREATE Work")
    await a.send("s SELECT Work")
    b = await second(store, accounts, bytewise, "SELECT INBOX")
    assert await b.send("d DELETE Work") == ["d OK DELETE completed"]
    assert await a.send("n NOOP") == ["* BYE the selected folder was deleted by another session"]
