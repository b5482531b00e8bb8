"""Transcripts: SELECT, FETCH of every item from the cached parse, SEARCH with every kind of key."""

from __future__ import annotations

import pytest

from mail_gateway.imap.connection import Connection
from mail_gateway.imap.handlers import fetching
from tests.imap import messages
from tests.imap.conftest import BOB
from tests.imap.harness import PASSWORD, Accounts, Client, client, make_session
from tests.imap.memory_store import MemoryStore


@pytest.fixture
async def bob(store: MemoryStore, accounts: Accounts, bytewise: bool) -> Client:
    store.deliver(BOB, messages.SIMPLE)
    store.deliver(BOB, messages.MULTIPART, flags=["\\Seen"])
    c = client(store, accounts, bytewise=bytewise)
    await c.send(f"a0 LOGIN bob@mssante.test {PASSWORD}")
    return c


async def test_select_and_examine(bob: Client) -> None:
    assert await bob.send("s1 SELECT inbox") == [
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags you can keep",
        "* 2 EXISTS",
        "* 0 RECENT",
        "* OK [UNSEEN 1] first unseen",
        "* OK [UIDVALIDITY 1001] UIDs valid",
        "* OK [UIDNEXT 3] predicted next UID",
        "* OK [HIGHESTMODSEQ 3] highest",
        "s1 OK [READ-WRITE] SELECT completed",
    ]
    lines = await bob.send("s2 EXAMINE Sent")
    assert lines[0] == "* OK [CLOSED] previous folder closed"
    assert lines[-1] == "s2 OK [READ-ONLY] EXAMINE completed"
    assert await bob.send("s3 STORE 1:* +FLAGS (\\Seen)") == ["s3 NO [READ-ONLY] the folder is read-only (EXAMINE)"]
    assert await bob.send("s3 FETCH 1 FLAGS") == ["s3 BAD message sequence number out of range (RFC 3501 §9)"]
    assert await bob.send("s3 FETCH 1:* FLAGS") == ["s3 OK FETCH completed"]
    assert await bob.send("s4 SELECT Nope") == ["s4 NO [NONEXISTENT] Nope does not exist"]
    assert await bob.send("s5 FETCH 1 FLAGS") == ["s5 BAD FETCH is not allowed now"]


async def test_fetch_envelope_and_fast_items(bob: Client) -> None:
    await bob.send("s SELECT INBOX")
    assert await bob.send("f1 FETCH 1 ALL") == [
        '* 1 FETCH (FLAGS () INTERNALDATE "20-Nov-2026 09:30:00 +0000" RFC822.SIZE 199 ENVELOPE '
        '("Fri, 20 Nov 2026 10:00:00 +0100" "Compte rendu" (("Dr Alice Martin" NIL "alice" "mssante.test")) '
        '(("Dr Alice Martin" NIL "alice" "mssante.test")) (("Dr Alice Martin" NIL "alice" "mssante.test")) '
        '((NIL NIL "bob" "mssante.test")) NIL NIL NIL "<simple@mssante.test>"))',
        "f1 OK FETCH completed",
    ]
    lines = await bob.send("f2 UID FETCH 2:* (ENVELOPE)")
    assert lines[0].startswith('* 2 FETCH (UID 2 ENVELOPE ("Sat, 21 Nov 2026 08:15:00 +0000" ')
    assert '((NIL NIL "bob" "mssante.test") ("Carol" NIL "carol" "mssante.test")) ((NIL NIL "dan"' in lines[0]


async def test_bodystructure_nesting(bob: Client) -> None:
    await bob.send("s SELECT INBOX")
    assert await bob.send("f1 FETCH 2 BODYSTRUCTURE") == [
        '* 2 FETCH (BODYSTRUCTURE ((("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 28 1 '
        'NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 34 1 NIL NIL NIL NIL) "ALTERNATIVE" '
        '("BOUNDARY" "inner") NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 64 (NIL "Analyse" '
        '((NIL NIL "lab" "mssante.test")) ((NIL NIL "lab" "mssante.test")) ((NIL NIL "lab" "mssante.test")) '
        'NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 20 1 NIL NIL NIL NIL) 4 '
        'NIL NIL NIL NIL)("APPLICATION" "PDF" ("NAME" "cr.pdf") NIL NIL "BASE64" 12 NIL ("ATTACHMENT" '
        '("FILENAME" "cr.pdf")) NIL NIL) "MIXED" ("BOUNDARY" "outer") NIL NIL NIL))',
        "f1 OK FETCH completed",
    ]
    assert await bob.send("f2 FETCH 1 BODY") == [
        '* 1 FETCH (BODY ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 34 2))',
        "f2 OK FETCH completed",
    ]


async def test_body_sections_and_partial(bob: Client) -> None:
    await bob.send("s SELECT INBOX")
    assert await bob.send(
        "f1 FETCH 2 (BODY.PEEK[1.1] BODY.PEEK[1.2.MIME] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] "
        "BODY.PEEK[3]<2.5> BODY.PEEK[5] BODY.PEEK[2.1.HEADER])"
    ) == [
        '* 2 FETCH (BODY[1.1] "L\'=E9chographie est normale." BODY[1.2.MIME] {42}\r\n'
        "Content-Type: text/html; charset=utf-8\r\n\r\n BODY[2.HEADER] {44}\r\n"
        "From: lab@mssante.test\r\nSubject: Analyse\r\n\r\n BODY[2.TEXT] {20}\r\nGlycémie 5.2 mmol/L "
        'BODY[2.1] {20}\r\nGlycémie 5.2 mmol/L BODY[3]<2> "BERi0" BODY[5] NIL BODY[2.1.HEADER] NIL)',
        "f1 OK FETCH completed",
    ]
    assert await bob.send(
        "f2 FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject X-MSS-NIL)] "
        "BODY.PEEK[HEADER.FIELDS.NOT (Subject From To Cc Date Message-ID Content-Type MIME-Version)])"
    ) == [
        "* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT X-MSS-NIL)] {83}\r\n"
        "Subject: =?utf-8?q?R=C3=A9sultats_d=27=C3=A9chographie?=\r\nX-MSS-NIL: logiciel-1\r\n\r\n "
        "BODY[HEADER.FIELDS.NOT (SUBJECT FROM TO CC DATE MESSAGE-ID CONTENT-TYPE MIME-VERSION)] {25}\r\n"
        "X-MSS-NIL: logiciel-1\r\n\r\n)",
        "f2 OK FETCH completed",
    ]
    lines = await bob.send("f3 FETCH 1 (RFC822.HEADER BODY.PEEK[]<0.4>)")
    assert lines[0].startswith("* 1 FETCH (RFC822.HEADER {165}\r\nFrom: Dr Alice")
    assert lines[0].endswith('BODY[]<0> "From")')


async def test_peek_does_not_set_seen_but_body_does(bob: Client) -> None:
    await bob.send("s SELECT INBOX")
    await bob.send("f1 FETCH 1 BODY.PEEK[TEXT]")
    assert await bob.send("f2 FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS ())", "f2 OK FETCH completed"]
    assert await bob.send("f3 FETCH 1 BODY[TEXT]") == [
        "* 1 FETCH (BODY[TEXT] {34}\r\nBonjour,\r\nVoici le compte rendu.\r\n FLAGS (\\Seen))",
        "f3 OK FETCH completed",
    ]
    await bob.send("e EXAMINE INBOX")
    await bob.send("f4 FETCH 1 RFC822")  # read-only: no flag change
    assert await bob.send("f5 FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS (\\Seen))", "f5 OK FETCH completed"]


async def test_search_keys(bob: Client, store: MemoryStore) -> None:
    store.deliver(BOB, messages.numbered(3), flags=["\\Flagged", "$Urgent"])
    await bob.send("s SELECT INBOX")
    expectations = {
        "ALL": "1 2 3",
        "SEEN": "2",
        "UNSEEN": "1 3",
        "NOT SEEN": "1 3",
        "OR SEEN FLAGGED": "2 3",
        "NOT OR SEEN FLAGGED": "1",
        "(FLAGGED KEYWORD $Urgent)": "3",
        "UNKEYWORD $urgent": "1 2",
        "FROM alice": "1",
        "FROM ELISE": "2",
        "TO carol": "2",
        "CC dan": "2",
        "BCC dan": "",
        'SUBJECT "compte RENDU"': "1",
        "HEADER X-MSS-NIL logiciel": "2",
        'HEADER Message-ID "<m3@"': "3",
        "BODY Glycémie": "",  # 8-bit without CHARSET: refused below
        "BODY normale": "2",
        "TEXT analyse": "2",
        "BODY Analyse": "2",
        "LARGER 500": "2",
        "SMALLER 200": "1 3",
        "SENTON 21-Nov-2026": "2",
        'SENTBEFORE "21-Nov-2026"': "1",
        "SENTSINCE 21-Nov-2026": "2 3",
        "ON 20-Nov-2026": "1 2 3",
        "BEFORE 20-Nov-2026": "",
        "SINCE 21-Nov-2026": "",
        "2:*": "2 3",
        "*:2": "2 3",
        "1,3": "1 3",
        "UID 3:1": "1 2 3",
        "UID 3 NOT 1": "3",
        "DELETED": "",
        "UNDELETED ANSWERED": "",
        "NEW": "",
        "OLD": "1 2 3",
    }
    for query, expected in expectations.items():
        if not query.isascii():
            continue
        lines = await bob.send(f"q SEARCH {query}")
        assert lines == [f"* SEARCH {expected}".rstrip(), "q OK SEARCH completed"], query


async def test_search_charset_utf8_decodes_bodies_and_headers(bob: Client) -> None:
    await bob.send("s SELECT INBOX")
    body = "échographie".encode()
    assert await bob.send(b"q1 SEARCH CHARSET UTF-8 BODY {%d+}\r\n" % len(body) + body + b"\r\n") == [
        "* SEARCH 2",
        "q1 OK SEARCH completed",
    ]
    subject = "RÉSULTATS".encode()
    assert await bob.send(b"q2 SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n" % len(subject) + subject + b"\r\n") == [
        "* SEARCH 2",
        "q2 OK SEARCH completed",
    ]
    word = "glycémie".encode()
    assert await bob.send(b"q3 UID SEARCH CHARSET UTF-8 TEXT {%d+}\r\n" % len(word) + word + b"\r\n") == [
        "* SEARCH 2",
        "q3 OK SEARCH completed",
    ]
    assert await bob.send("q4 SEARCH CHARSET KOI8-R ALL") == [
        "q4 NO [BADCHARSET (US-ASCII UTF-8)] charset KOI8-R is not supported"
    ]
    assert await bob.send("q5 SEARCH RETURN (COUNT MIN) ALL") == [
        '* ESEARCH (TAG "q5") MIN 1 COUNT 2',
        "q5 OK SEARCH completed",
    ]
    assert await bob.send("q6 UID SEARCH RETURN () FLAGGED") == ['* ESEARCH (TAG "q6") UID', "q6 OK SEARCH completed"]
    assert await bob.send("q7 SEARCH FROG") == ["q7 BAD unknown search key 'FROG'"]


async def test_large_fetch_is_sent_in_pieces_not_held_whole(
    store: MemoryStore, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetching, "BATCH", 2)
    monkeypatch.setattr(fetching, "FLUSH_BYTES", 100)
    for n in range(1, 8):
        store.deliver(BOB, messages.numbered(n))
    chunks: list[bytes] = []

    async def sink(data: bytes) -> None:
        chunks.append(data)

    connection = Connection(make_session(store, accounts), sink)
    await connection.receive(f"a LOGIN bob@mssante.test {PASSWORD}\r\ns SELECT INBOX\r\n".encode())
    rest, _ = await connection.receive(b"f FETCH 1:* BODY.PEEK[]\r\n")
    assert len(chunks) == 4  # 7 messages in batches of 2, each over the threshold
    assert chunks[0].startswith(b"* 1 FETCH (BODY[] {")
    whole = b"".join(chunks) + rest
    assert whole.count(b" FETCH (BODY[] {") == 7 and rest.endswith(b"f OK FETCH completed\r\n")
