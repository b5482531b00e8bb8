"""Real clients over real sockets and TLS against ``mssante serve`` (every listener, both database engines)."""

from __future__ import annotations

import email
import imaplib
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.gateway import PASSWORD, RunningGateway, gateway_settings
from tests.imap import messages
from tests.imap.wire import ALICE, BOB, RawClient, imaps, mailboxes, seed

imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))  # RFC 2971; imaplib lacks it


def test_imaplib_every_command(gateway: RunningGateway) -> None:
    mailboxes(gateway)
    c = imaps(gateway)
    try:
        typ, caps = c.capability()
        assert typ == "OK" and b"IDLE" in caps[0] and b"QRESYNC" in caps[0] and b"AUTH=PLAIN" not in caps[0]
        assert c.noop()[0] == "OK"
        assert c._simple_command("ID", '("name" "imaplib")')[0] == "OK"
        assert c._simple_command("NAMESPACE")[0] == "OK"
        assert c._simple_command("ENABLE", "CONDSTORE")[0] == "OK"
        assert c.create("Patients/Dupont")[0] == "OK"
        assert c.create("&AMk-t&AOk-")[0] == "OK"  # "Été" in modified UTF-7
        assert c.rename("Patients/Dupont", "Patients/Durand")[0] == "OK"
        typ, listing = c.list()
        names = [line.decode().rsplit(" ", 1)[1] for line in listing if isinstance(line, bytes)]
        assert {'"INBOX"', '"Patients"', '"Patients/Durand"', '"&AMk-t&AOk-"', '"Sent"'} <= set(names)
        assert c.unsubscribe("Patients/Durand")[0] == "OK"
        assert c.subscribe("Patients/Durand")[0] == "OK"
        assert any(b"Patients/Durand" in line for line in c.lsub()[1] if isinstance(line, bytes))
        assert c.delete("Patients/Durand")[0] == "OK"
        typ, data = c.append("INBOX", r"(\Flagged)", imaplib.Time2Internaldate(1_700_000_000), messages.MULTIPART)
        assert typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0])
        fetched: Any
        c.append("INBOX", "", None, messages.SIMPLE)
        assert c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")[1][0].endswith(b"(MESSAGES 2 UNSEEN 2 UIDNEXT 3)")
        assert c.select("INBOX", readonly=True)[0] == "OK"  # EXAMINE
        assert c.select("INBOX") == ("OK", [b"2"])
        typ, fetched = c.fetch("1", "(FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[1.1] BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        assert b'"MIXED"' in fetched[0][0] and b"\\Flagged" in fetched[0][0]
        assert b'BODY[1.1] "L\'=E9chographie est normale."' in fetched[0][0]
        assert fetched[0][1] == b"Subject: =?utf-8?q?R=C3=A9sultats_d=27=C3=A9chographie?=\r\n\r\n"
        typ, fetched = c.uid("FETCH", "2", "(RFC822)")
        assert email.message_from_bytes(fetched[0][1])["Subject"] == "Compte rendu"
        assert c.fetch("2", "(FLAGS)")[1][0] == b"2 (FLAGS (\\Seen))"
        c.literal = "échographie".encode()  # type: ignore[assignment]
        assert c.search("UTF-8", "BODY") == ("OK", [b"1"])
        assert c.search(None, "OR", "FROM", "alice", "FLAGGED") == ("OK", [b"1 2"])
        assert c.uid("SEARCH", "SEEN") == ("OK", [b"2"])
        assert c.store("1", "+FLAGS", r"(\Seen $Lu)")[0] == "OK"
        assert c.copy("1:2", "Trash")[0] == "OK"
        typ, data = c.uid("MOVE", "2", "Sent")
        assert typ == "OK"
        assert c.store("1", "+FLAGS.SILENT", r"(\Deleted)")[0] == "OK"
        assert c.uid("EXPUNGE", "1")[0] == "OK"
        assert c.check()[0] == "OK"
        assert c.select("Trash") == ("OK", [b"2"])
        c.store("1:*", "+FLAGS", r"(\Deleted)")
        assert c.expunge() == ("OK", [b"2", b"1"])
        assert c.select("Sent") == ("OK", [b"1"])
        c.store("1", "+FLAGS", r"(\Deleted)")
        assert c.close()[0] == "OK"
        assert c.status("Sent", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 0)")
        assert c._simple_command("GETQUOTAROOT", "INBOX")[0] == "OK"
    finally:
        assert c.logout()[0] == "BYE"


def test_plaintext_port_requires_starttls_when_loopback_is_not_trusted(db_url: str, tmp_path: Path) -> None:
    running = RunningGateway(gateway_settings(tmp_path / "var", db_url, loopback_is_secure=False))
    running.start()
    try:
        mailboxes(running)
        c = imaplib.IMAP4("127.0.0.1", running.ports["imap"], timeout=30)
        assert "LOGINDISABLED" in c.capabilities and "STARTTLS" in c.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            c.login(BOB, PASSWORD)
        c.starttls(ssl_context=running.client_tls())
        assert "AUTH=PLAIN" in c.capabilities and "LOGINDISABLED" not in c.capabilities
        assert c.login(BOB, PASSWORD)[0] == "OK"
        c.logout()
    finally:
        running.close()


def test_authenticate_plain_and_throttling(gateway: RunningGateway) -> None:
    mailboxes(gateway)
    c = imaplib.IMAP4_SSL("127.0.0.1", gateway.ports["imaps"], ssl_context=gateway.client_tls(), timeout=30)
    assert c.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode())[0] == "OK"
    c.logout()
    for _ in range(5):
        bad = imaplib.IMAP4("127.0.0.1", gateway.ports["imap"], timeout=30)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            bad.login(ALICE, "wrong")
        bad.logout()
    throttled = imaplib.IMAP4("127.0.0.1", gateway.ports["imap"], timeout=30)
    with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
        throttled.login(ALICE, PASSWORD)
    throttled.logout()


def test_two_sessions_expunge_and_flag_visibility(gateway: RunningGateway) -> None:
    mailboxes(gateway)
    seed(gateway, [messages.numbered(n) for n in range(1, 4)])
    a, b = imaps(gateway), imaps(gateway)
    fetched: Any
    try:
        a.select("INBOX")
        b.select("INBOX")
        b.store("2", "+FLAGS", r"(\Deleted \Flagged)")
        b.expunge()
        # No EXPUNGE during a FETCH by number (RFC 3501 §7.4.1): 2 keeps its number, its data is absent.
        typ, fetched = a.fetch("1:3", "(UID)")
        assert typ == "OK" and [d for d in fetched if b"UID" in d] == [b"1 (UID 1)", b"3 (UID 3)"]
        assert a.response("EXPUNGE") == ("EXPUNGE", [None])
        a.noop()
        assert a.response("EXPUNGE") == ("EXPUNGE", [b"2"])
        assert a.fetch("2", "(UID)")[1] == [b"2 (UID 3)"]
        b.store("1", "+FLAGS", r"(\Answered)")
        a.noop()
        assert a.response("FETCH") == ("FETCH", [b"1 (FLAGS (\\Answered))"])
    finally:
        a.logout()
        b.logout()


def test_curl_list_fetch_search(gateway: RunningGateway, tmp_path: Path) -> None:
    mailboxes(gateway)
    seed(gateway, [messages.SIMPLE, messages.numbered(2)])
    ca = str(gateway.ca)
    common = ["curl", "-sS", "--max-time", "30", "--user", f"{BOB}:{PASSWORD}"]
    plain = f"imap://127.0.0.1:{gateway.ports['imap']}"
    secure = f"imaps://127.0.0.1:{gateway.ports['imaps']}"
    listing = subprocess.run([*common, f"{plain}/"], capture_output=True, text=True, check=True).stdout
    assert '"/" "INBOX"' in listing and "\\Sent" in listing
    body = subprocess.run([*common, "--cacert", ca, f"{secure}/INBOX;UID=1"], capture_output=True, check=True).stdout
    assert body == messages.SIMPLE
    found = subprocess.run(
        [*common, "--cacert", ca, "--ssl-reqd", f"{plain}/INBOX?SUBJECT%20%22Message%202%22"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert found.strip() == "* SEARCH 2"


def test_limit_abuse_is_bounded_and_others_are_served(gateway: RunningGateway) -> None:
    mailboxes(gateway)
    abuser = RawClient(gateway)
    abuser.send(f"a LOGIN {BOB} {{{len(PASSWORD)}+}}\r\n{PASSWORD}\r\n".encode())
    assert abuser.until_tagged(b"a")[-1].startswith(b"a OK")
    abuser.send(b"s SELECT INBOX\r\n")
    abuser.until_tagged(b"s")
    abuser.send(b"b APPEND INBOX {4294967295}\r\n")
    assert abuser.until_tagged(b"b") == [b"b NO [TOOBIG] literal of 4294967295 octets exceeds the limit of 26214400"]
    abuser.send(b"c SEARCH " + b"(" * 10_000 + b"ALL" + b")" * 10_000 + b"\r\n")
    assert abuser.until_tagged(b"c") == [b"c BAD [LIMIT] parentheses nest deeper than 64"]
    abuser.send(b"d FETCH " + b",".join(b"%d" % (2 * i + 1) for i in range(100_000)) + b" FLAGS\r\n")
    assert abuser.line() == b"d BAD [TOOBIG] line longer than 65536 octets"
    assert abuser.line() == b"* BYE [TOOBIG] line longer than 65536 octets" and abuser.closed()
    # Another client is served meanwhile, and a flood of bad commands ends in BYE.
    flooder = RawClient(gateway)
    flooder.send(b"".join(b"x%d FROB\r\n" % n for n in range(25)))
    lines = [flooder.line() for _ in range(21)]
    assert lines[-1] == b"* BYE [LIMIT] too many bad commands" and flooder.closed()
    c = imaps(gateway)
    assert c.select("INBOX")[0] == "OK"
    c.logout()
    # A client that stops mid-literal (LITERAL+) does not hold the server: it can still be abandoned.
    silent = RawClient(gateway)
    silent.send(b"a LOGIN {5+}\r\nab")
    silent.close()
    with socket.create_connection(("127.0.0.1", gateway.ports["imap"]), timeout=10) as probe:
        assert probe.recv(100).startswith(b"* OK [CAPABILITY")


def test_plaintext_pipelined_after_starttls_is_not_executed(db_url: str, tmp_path: Path) -> None:
    running = RunningGateway(gateway_settings(tmp_path / "var", db_url, loopback_is_secure=False))
    running.start()
    try:
        mailboxes(running)
        sock = socket.create_connection(("127.0.0.1", running.ports["imap"]), timeout=30)
        assert sock.recv(4096).startswith(b"* OK")
        # The injected command rides in the same packet as STARTTLS (RFC 3501 §6.2.1, CVE-2011-0411 style).
        sock.sendall(b"a STARTTLS\r\nb LOGIN " + BOB.encode() + b" " + PASSWORD.encode() + b"\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += sock.recv(4096)
        assert reply == b"a OK Begin TLS negotiation now\r\n"
        tls = running.client_tls().wrap_socket(sock, server_hostname="127.0.0.1")
        tls.sendall(b"c CAPABILITY\r\n")
        answer = b""
        while b"c OK" not in answer:
            chunk = tls.recv(4096)
            assert chunk, answer
            answer += chunk
        assert b"b OK" not in answer and b"b NO" not in answer  # "b LOGIN" was discarded, never run
        assert b"AUTH=PLAIN" in answer  # still not authenticated: the pre-auth capabilities
        tls.close()
    finally:
        running.close()
