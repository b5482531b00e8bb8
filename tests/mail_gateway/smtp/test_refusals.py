"""Every refusal of the SMTP listeners, each with its enhanced status code and a sentence."""

from __future__ import annotations

import base64
import smtplib

import pytest

from tests.gateway import PASSWORD, RunningGateway
from tests.mail_gateway.factories import make_message
from tests.mail_gateway.smtp.wire import Wire

ALICE = "alice@mssante.localhost"
BOB = "bob@mssante.localhost"


@pytest.fixture
def gw(gateway: RunningGateway) -> RunningGateway:
    gateway.add_mailbox(ALICE, owner="810001234567")
    gateway.add_mailbox(BOB, owner="810009876543")
    return gateway


def submission(gw: RunningGateway, login: bool = True) -> Wire:
    wire = Wire(gw.ports["smtp_submission"])
    wire.cmd("EHLO client.example")
    wire.starttls(gw.client_tls())
    wire.cmd("EHLO client.example")
    if login:
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        assert wire.cmd(f"AUTH PLAIN {token}").startswith("235 2.7.0")
    return wire


def mx(gw: RunningGateway) -> Wire:
    wire = Wire(gw.ports["smtp_mx"])
    wire.cmd("EHLO mx.other.example")
    return wire


def test_ehlo_advertises_extensions(gw: RunningGateway) -> None:
    wire = Wire(gw.ports["smtp_submission"])
    reply = wire.cmd("EHLO client.example")
    for keyword in ("SIZE 26214400", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "STARTTLS"):
        assert f"250-{keyword}" in reply or f"250 {keyword}" in reply, reply
    assert "AUTH" not in reply  # never offered before TLS
    wire.starttls(gw.client_tls())
    assert "AUTH LOGIN PLAIN" in wire.cmd("EHLO client.example")
    mx_reply = mx(gw).cmd("EHLO again.example")
    assert "AUTH" not in mx_reply and "PIPELINING" in mx_reply


def test_auth_before_starttls_is_refused(gw: RunningGateway) -> None:
    wire = Wire(gw.ports["smtp_submission"])
    wire.cmd("EHLO client.example")
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    reply = wire.cmd(f"AUTH PLAIN {token}")
    assert reply.startswith("530 5.7.0") and "STARTTLS" in reply


def test_mail_without_auth_is_refused(gw: RunningGateway) -> None:
    wire = submission(gw, login=False)
    assert wire.cmd(f"MAIL FROM:<{ALICE}>").startswith("530 5.7.0")


def test_auth_on_mx_is_refused(gw: RunningGateway) -> None:
    assert mx(gw).cmd("AUTH PLAIN AGFAYg==").startswith("503 5.5.1")


def test_envelope_sender_must_be_the_authenticated_mailbox(gw: RunningGateway) -> None:
    wire = submission(gw)
    reply = wire.cmd(f"MAIL FROM:<{BOB}>")
    assert reply.startswith("550 5.7.1") and ALICE in reply


def test_from_header_must_be_the_authenticated_mailbox(gw: RunningGateway) -> None:
    with smtplib.SMTP_SSL("127.0.0.1", gw.ports["smtps"], context=gw.client_tls(), timeout=30) as client:
        client.login(ALICE, PASSWORD)
        with pytest.raises(smtplib.SMTPDataError) as error:
            client.sendmail(ALICE, [BOB], make_message(BOB, BOB))
    assert error.value.smtp_code == 550 and b"5.7.1" in error.value.smtp_error
    assert gw.inbox(BOB) == []


def test_unknown_recipient_and_relaying(gw: RunningGateway) -> None:
    wire = mx(gw)
    assert wire.cmd("MAIL FROM:<x@other.example>").startswith("250 2.1.0")
    assert wire.cmd("RCPT TO:<nobody@mssante.localhost>").startswith("550 5.1.1")
    reply = wire.cmd("RCPT TO:<victim@elsewhere.example>")
    assert reply.startswith("550 5.7.1") and "Relaying denied" in reply
    sub = submission(gw)
    assert sub.cmd(f"MAIL FROM:<{ALICE}>").startswith("250")
    reply = sub.cmd("RCPT TO:<colleague@other-operator.example>")
    assert reply.startswith("550 5.7.1") and "other operators is not enabled" in reply


def test_suspended_recipient_and_quota(gw: RunningGateway) -> None:
    gw.add_mailbox("tiny@mssante.localhost", owner="810005555555", quota=100)
    wire = mx(gw)
    wire.cmd("MAIL FROM:<x@other.example> SIZE=5000")
    assert wire.cmd("RCPT TO:<tiny@mssante.localhost>").startswith("552 5.2.2")


def test_declared_and_actual_size_limits(gateway: RunningGateway, tmp_path: object) -> None:
    gateway.add_mailbox(BOB, owner="810009876543")
    wire = mx(gateway)
    assert wire.cmd("MAIL FROM:<x@other.example> SIZE=999999999").startswith("552 5.3.4")
    assert wire.cmd("MAIL FROM:<x@other.example>").startswith("250")
    assert wire.cmd(f"RCPT TO:<{BOB}>").startswith("250")
    assert wire.cmd("DATA").startswith("354")
    line = b"x" * 998 + b"\r\n"
    chunk = line * 1024
    sent = 0
    while sent <= gateway.settings.max_message_size:
        wire.send(chunk)
        sent += len(chunk)
    wire.send(b".\r\n")
    assert wire.reply().startswith("552 5.3.4")
    assert gateway.inbox(BOB) == []


def test_line_too_long(gw: RunningGateway) -> None:
    wire = mx(gw)
    wire.cmd("MAIL FROM:<x@other.example>")
    wire.cmd(f"RCPT TO:<{BOB}>")
    wire.cmd("DATA")
    wire.send(b"Subject: long\r\n\r\n" + b"y" * 5000 + b"\r\n.\r\n")
    assert wire.reply().startswith("500 5.5.2")
    assert gw.inbox(BOB) == []


def test_too_many_recipients(gw: RunningGateway) -> None:
    wire = mx(gw)
    wire.cmd("MAIL FROM:<x@other.example>")
    limit = gw.settings.max_recipients
    for _ in range(limit):
        wire.send(f"RCPT TO:<{BOB}>\r\n".encode())
    replies = [wire.reply() for _ in range(limit)]
    assert all(r.startswith("250") for r in replies)
    assert wire.cmd(f"RCPT TO:<{BOB}>").startswith("452 4.5.3")


def test_failed_logins_are_throttled_per_address(gw: RunningGateway) -> None:
    for attempt in range(gw.settings.auth_max_failures):
        wire = submission(gw, login=False)
        token = base64.b64encode(f"\0{ALICE}\0wrong{attempt}".encode()).decode()
        assert wire.cmd(f"AUTH PLAIN {token}").startswith("535 5.7.8")
        wire.close()
    wire = submission(gw, login=False)
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    reply = wire.cmd(f"AUTH PLAIN {token}")
    assert reply.startswith("454 4.7.0") and "too many failed logins" in reply


def test_failed_logins_are_throttled_per_ip(gw: RunningGateway) -> None:
    for n in range(gw.settings.auth_max_failures):
        wire = submission(gw, login=False)
        token = base64.b64encode(f"\0guess{n}@mssante.localhost\0pw".encode()).decode()
        assert wire.cmd(f"AUTH PLAIN {token}").startswith("535")
        wire.close()
    wire = submission(gw, login=False)
    token = base64.b64encode(f"\0{BOB}\0{PASSWORD}".encode()).decode()
    assert wire.cmd(f"AUTH PLAIN {token}").startswith("454 4.7.0")


def test_patient_addresses_cannot_log_in(gw: RunningGateway) -> None:
    wire = submission(gw, login=False)
    token = base64.b64encode(b"\x00" + b"185057800608436@patient.mssante.localhost\x00whatever").decode()
    reply = wire.cmd(f"AUTH PLAIN {token}")
    assert reply.startswith("535 5.7.8") and "web inbox" in reply


def test_bad_command_flood_closes_the_connection(gw: RunningGateway) -> None:
    wire = mx(gw)
    replies = []
    for _ in range(gw.settings.smtp_max_bad_commands):
        replies.append(wire.cmd("MAIL"))
    assert all(r.startswith("501 5.5.4") for r in replies), replies
    assert wire.reply().startswith("421 4.7.0")
    with pytest.raises((ConnectionError, OSError)):
        wire.cmd("NOOP")
        wire.cmd("NOOP")


def test_every_reply_has_an_enhanced_code(gw: RunningGateway) -> None:
    wire = mx(gw)
    for command in ("NOOP", "RSET", "VRFY x", "RCPT TO:<a@b.example>", "DATA", "FOO", "HELP", "QUIT"):
        reply = wire.cmd(command)
        assert reply[4:5].isdigit() and reply[5:6] == "." , (command, reply)
