"""Transcripts: greeting, capabilities, login, states, folders."""

from __future__ import annotations

import base64

from tests.imap.conftest import BOB
from tests.imap.harness import PASSWORD, Accounts, client
from tests.imap.memory_store import MemoryStore

LOGIN = f"a0 LOGIN bob@mssante.test {PASSWORD}"


async def test_greeting_and_capabilities_before_and_after_login(
    store: MemoryStore, accounts: Accounts, bytewise: bool
) -> None:
    c = client(store, accounts, bytewise=bytewise, secure=False)
    assert c.connection.greeting().startswith(b"* OK [CAPABILITY IMAP4rev1 ")
    lines = await c.send("a1 CAPABILITY")
    assert "LOGINDISABLED" in lines[0] and "STARTTLS" in lines[0] and "AUTH=PLAIN" not in lines[0]
    assert lines[1] == "a1 OK done"
    assert await c.send(LOGIN) == ["a0 NO [PRIVACYREQUIRED] use STARTTLS before LOGIN"]
    assert accounts.attempts == 0  # the password was not even looked at


async def test_login_wrong_password_then_right(store: MemoryStore, accounts: Accounts, bytewise: bool) -> None:
    c = client(store, accounts, bytewise=bytewise)
    assert await c.send("a1 LOGIN bob@mssante.test nope") == [
        "a1 NO [AUTHENTICATIONFAILED] the address or the password is wrong"
    ]
    lines = await c.send(LOGIN)
    assert lines[0].startswith("a0 OK [CAPABILITY IMAP4rev1 ") and "QRESYNC" in lines[0]
    assert await c.send("a2 LOGIN x y") == ["a2 BAD LOGIN is not allowed now"]


async def test_authenticate_plain_with_and_without_initial_response(
    store: MemoryStore, accounts: Accounts, bytewise: bool
) -> None:

    token = base64.b64encode(f"\0bob@mssante.test\0{PASSWORD}".encode()).decode()
    c = client(store, accounts, bytewise=bytewise)
    assert await c.send("a1 AUTHENTICATE PLAIN") == ["+ "]
    assert (await c.send(token))[0].startswith("a1 OK [CAPABILITY")
    c = client(store, accounts, bytewise=bytewise)
    assert (await c.send(f"a1 AUTHENTICATE PLAIN {token}"))[0].startswith("a1 OK [CAPABILITY")
    c = client(store, accounts, bytewise=bytewise)
    assert await c.send("a1 AUTHENTICATE PLAIN") == ["+ "]
    assert await c.send("*") == ["a1 BAD authentication cancelled"]
    assert await c.send("a2 AUTHENTICATE CRAM-MD5") == ["a2 NO [CANNOT] mechanism CRAM-MD5 is not supported"]


async def test_literal_login_and_continuation(store: MemoryStore, accounts: Accounts, bytewise: bool) -> None:
    c = client(store, accounts, bytewise=bytewise)
    lines = await c.send(b"a1 LOGIN {16}\r\nbob@mssante.test {11+}\r\n" + PASSWORD.encode() + b"\r\n")
    assert lines[0] == "+ Ready for literal"
    assert lines[1].startswith("a1 OK [CAPABILITY")


async def test_list_create_rename_delete(store: MemoryStore, accounts: Accounts, bytewise: bool) -> None:
    c = client(store, accounts, bytewise=bytewise)
    await c.send(LOGIN)
    assert await c.send('a1 LIST "" ""') == ['* LIST (\\Noselect) "/" ""', "a1 OK LIST completed"]
    assert await c.send('a2 LIST "" "*"') == [
        '* LIST (\\HasNoChildren) "/" "INBOX"',
        '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
        '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
        "a2 OK LIST completed",
    ]
    assert await c.send("a3 CREATE Patients/Dupont/") == ["a3 OK CREATE completed"]
    assert await c.send('a4 LIST "" "Patients/%"') == [
        '* LIST (\\HasNoChildren) "/" "Patients/Dupont"',
        "a4 OK LIST completed",
    ]
    assert await c.send("a6 CREATE Patients") == ["a6 NO [ALREADYEXISTS] Patients already exists"]
    assert await c.send("a7 CREATE inbox") == ["a7 NO [ALREADYEXISTS] INBOX always exists"]
    assert await c.send("a8 DELETE Patients") == ["a8 OK DELETE completed"]
    assert await c.send('a8 LIST "" "Patients*"') == [
        '* LIST (\\Noselect \\HasChildren) "/" "Patients"',
        '* LIST (\\HasNoChildren) "/" "Patients/Dupont"',
        "a8 OK LIST completed",
    ]
    assert await c.send("a8 DELETE Patients") == ["a8 NO [NONEXISTENT] Patients does not exist"]
    assert await c.send("a8 CREATE Patients") == ["a8 OK CREATE completed"]
    assert await c.send("a9 RENAME Patients Dossiers/2026") == ["a9 OK RENAME completed"]
    assert await c.send('b1 LIST "" "Dossiers/*"') == [
        '* LIST (\\HasChildren) "/" "Dossiers/2026"',
        '* LIST (\\HasNoChildren) "/" "Dossiers/2026/Dupont"',
        "b1 OK LIST completed",
    ]
    assert await c.send("b2 DELETE Dossiers/2026/Dupont") == ["b2 OK DELETE completed"]
    assert await c.send("b3 DELETE Nope") == ["b3 NO [NONEXISTENT] Nope does not exist"]
    assert await c.send("b4 DELETE INBOX") == ["b4 NO [CANNOT] INBOX cannot be deleted"]
    assert await c.send("b5 CREATE a//b") == ["b5 BAD a folder name may not have empty, '.' or '..' levels"]


async def test_utf7_folder_names_round_trip(store: MemoryStore, accounts: Accounts, bytewise: bool) -> None:
    c = client(store, accounts, bytewise=bytewise)
    await c.send(LOGIN)
    assert await c.send("a1 CREATE &AMk-chographies") == ["a1 OK CREATE completed"]
    assert [f.name for f in await store.folders(BOB)].count("Échographies") == 1
    assert await c.send('a2 LIST "" "&AMk-*"') == [
        '* LIST (\\HasNoChildren) "/" "&AMk-chographies"',
        "a2 OK LIST completed",
    ]
    assert await c.send("a3 CREATE &Jjo!") == ["a3 BAD unterminated modified UTF-7 sequence in a mailbox name"]


async def test_list_extended_and_status(store: MemoryStore, accounts: Accounts, bytewise: bool) -> None:
    store.deliver(BOB, b"Subject: x\r\n\r\nhello\r\n")
    c = client(store, accounts, bytewise=bytewise)
    await c.send(LOGIN)
    await c.send("a0 UNSUBSCRIBE Trash")
    assert await c.send('a1 LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES UNSEEN))') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        '* STATUS "INBOX" (MESSAGES 1 UNSEEN 1)',
        '* LIST (\\HasNoChildren \\Subscribed \\Drafts) "/" "Drafts"',
        '* STATUS "Drafts" (MESSAGES 0 UNSEEN 0)',
        '* LIST (\\HasNoChildren \\Subscribed \\Sent) "/" "Sent"',
        '* STATUS "Sent" (MESSAGES 0 UNSEEN 0)',
        "a1 OK LIST completed",
    ]
    assert await c.send('a2 LIST (SPECIAL-USE) "" "*"') == [
        '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
        '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
        "a2 OK LIST completed",
    ]
    assert await c.send('a3 LSUB "" "*"') == [
        '* LSUB () "/" "INBOX"',
        '* LSUB (\\Drafts) "/" "Drafts"',
        '* LSUB (\\Sent) "/" "Sent"',
        "a3 OK LSUB completed",
    ]
    lines = await c.send("a4 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)")
    assert lines[0].startswith('* STATUS "INBOX" (MESSAGES 1 RECENT 0 UIDNEXT 2 UIDVALIDITY ')
    assert lines[0].endswith("UNSEEN 1 HIGHESTMODSEQ 2 SIZE 21)")
    assert await c.send("a5 STATUS Nope (MESSAGES)") == ["a5 NO [NONEXISTENT] Nope does not exist"]


async def test_namespace_id_enable_quota(store: MemoryStore, accounts: Accounts, bytewise: bool) -> None:
    c = client(store, accounts, bytewise=bytewise)
    assert await c.send('a1 ID ("name" "Thunderbird")') == [
        '* ID ("name" "mssante-gateway" "vendor" "mssante-gateway" "support-url" NIL)',
        "a1 OK ID completed",
    ]
    await c.send(f"a0 LOGIN alice@mssante.test {PASSWORD}")
    assert await c.send("a2 NAMESPACE") == ['* NAMESPACE (("" "/")) NIL NIL', "a2 OK NAMESPACE completed"]
    assert await c.send("a3 ENABLE QRESYNC X-UNKNOWN") == ["* ENABLED QRESYNC", "a3 OK ENABLE completed"]
    assert await c.send("a4 GETQUOTAROOT INBOX") == [
        '* QUOTAROOT "INBOX" ""',
        '* QUOTA "" (STORAGE 0 9)',
        "a4 OK GETQUOTAROOT completed",
    ]
    assert await c.send("a5 LOGOUT") == ["* BYE logging out", "a5 OK LOGOUT completed"]


async def test_limits_are_answered_and_bad_command_flood_ends_the_session(
    store: MemoryStore, accounts: Accounts, bytewise: bool
) -> None:
    c = client(store, accounts, bytewise=bytewise)
    await c.send(LOGIN)
    await c.send("s SELECT INBOX")
    lines = await c.send(b"d SEARCH " + b"(" * 10_000 + b"ALL" + b")" * 10_000)
    assert lines == ["d BAD [LIMIT] parentheses nest deeper than 64"]
    assert await c.send("big APPEND INBOX {4294967295}") == [
        "big NO [TOOBIG] literal of 4294967295 octets exceeds the limit of 26214400"
    ]
    for n in range(18):  # with the SEARCH above: 19 BAD, the 20th ends the session
        assert await c.send(f"x{n} FROB") == [f"x{n} BAD unknown command FROB"]
    assert await c.send("n NOOP") == ["n OK NOOP completed"]
    assert await c.send("y1 FROB") == ["y1 BAD unknown command FROB", "* BYE [LIMIT] too many bad commands"]
    assert c.connection.closed
