"""SMTP smuggling (RFC 5321 §2.3.8, §4.1.1.4): only CRLF.CRLF ends DATA, and a message with a bare CR or LF
is refused whole, so no second message can ever be cut out of the first one.
"""

from __future__ import annotations

import pytest

from mail_gateway.delivery.headers import has_bare_line_ending
from tests.gateway import RunningGateway
from tests.mail_gateway.smtp.wire import Wire

BOB = "bob@mssante.localhost"
VECTORS = [b"\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n"]


@pytest.mark.parametrize("vector", VECTORS, ids=["LF.LF", "LF.CRLF", "CR.CRLF", "CRLF.LF"])
def test_smuggled_message_is_never_stored(gateway: RunningGateway, vector: bytes) -> None:
    gateway.add_mailbox(BOB, owner="810009876543")
    wire = Wire(gateway.ports["smtp_mx"])
    wire.cmd("EHLO mx.other.example")
    assert wire.cmd("MAIL FROM:<doctor@other.example>").startswith("250")
    assert wire.cmd(f"RCPT TO:<{BOB}>").startswith("250")
    assert wire.cmd("DATA").startswith("354")
    smuggled = (
        b"MAIL FROM:<ceo@mssante.localhost>\r\nRCPT TO:<" + BOB.encode() + b">\r\nDATA\r\n"
        b"From: ceo@mssante.localhost\r\nSubject: smuggled\r\n\r\nPlease wire money.\r\n"
    )
    wire.send(b"From: doctor@other.example\r\nSubject: innocent\r\n\r\nHello" + vector + smuggled + b".\r\n")
    reply = wire.reply()
    assert reply.startswith("550 5.5.2") and "bare CR or LF" in reply
    # Nothing else comes back: the smuggled commands were data, not commands.
    assert wire.cmd("NOOP").startswith("250")
    assert gateway.inbox(BOB) == []


@pytest.mark.parametrize(
    ("raw", "bare"),
    [(b"a\r\nb\r\n", False), (b"a\nb", True), (b"a\rb", True), (b"a\r\r\n", True), (b"", False), (b"\r\n", False)],
)
def test_bare_line_ending_detection(raw: bytes, bare: bool) -> None:
    assert has_bare_line_ending(raw) is bare
