"""Real clients over real TLS send through submission; the stored bytes are what was sent plus our trace."""

from __future__ import annotations

import asyncio
import smtplib
import subprocess
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from tests.gateway import PASSWORD, RunningGateway, strip_trace
from tests.mail_gateway.factories import make_message

ALICE = "alice@mssante.localhost"
BOB = "bob@mssante.localhost"


def _setup(gateway: RunningGateway) -> None:
    gateway.add_mailbox(ALICE, owner="810001234567")
    gateway.add_mailbox(BOB, owner="810009876543")


def test_smtplib_starttls_submission_stores_exact_bytes(gateway: RunningGateway) -> None:
    _setup(gateway)
    raw = make_message(ALICE, BOB)
    with smtplib.SMTP("127.0.0.1", gateway.ports["smtp_submission"], timeout=30) as client:
        client.ehlo("client.example")
        client.starttls(context=gateway.client_tls())
        client.ehlo("client.example")
        client.login(ALICE, PASSWORD)
        refused = client.sendmail(ALICE, [BOB], raw)
        assert refused == {}
    stored = gateway.inbox(BOB)
    assert len(stored) == 1
    assert strip_trace(stored[0]) == raw
    assert b"with ESMTPSA" in stored[0].split(b"\r\n\r\n")[0]


def test_aiosmtplib_implicit_tls(gateway: RunningGateway) -> None:
    _setup(gateway)
    raw = make_message(ALICE, BOB, subject="Résultats")

    async def send() -> None:
        await aiosmtplib.send(
            raw, sender=ALICE, recipients=[BOB], hostname="127.0.0.1", port=gateway.ports["smtps"],
            use_tls=True, tls_context=gateway.client_tls(), username=ALICE, password=PASSWORD,
        )

    asyncio.run(send())
    stored = gateway.inbox(BOB)
    assert [strip_trace(m) for m in stored] == [raw]


def test_curl_submission(gateway: RunningGateway, tmp_path: Path) -> None:
    _setup(gateway)
    raw = make_message(ALICE, BOB, subject="curl")
    message = tmp_path / "message.eml"
    message.write_bytes(raw)
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--ssl-reqd", "--cacert", str(gateway.ca),
         "--url", f"smtp://127.0.0.1:{gateway.ports['smtp_submission']}",
         "--mail-from", ALICE, "--mail-rcpt", BOB, "--upload-file", str(message),
         "--user", f"{ALICE}:{PASSWORD}"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [strip_trace(m) for m in gateway.inbox(BOB)] == [raw]


def test_missing_date_and_message_id_are_added(gateway: RunningGateway) -> None:
    _setup(gateway)
    msg = EmailMessage()
    msg["From"] = ALICE
    msg["To"] = BOB
    msg["Subject"] = "sans date"
    msg.set_content("corps\n")
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    assert b"Message-ID" not in raw
    with smtplib.SMTP_SSL("127.0.0.1", gateway.ports["smtps"], context=gateway.client_tls(), timeout=30) as client:
        client.login(ALICE, PASSWORD)
        client.sendmail(ALICE, [BOB], raw)
    stored = strip_trace(gateway.inbox(BOB)[0])
    header = stored.split(b"\r\n\r\n")[0]
    assert b"\r\nDate: " in header and b"\r\nMessage-ID: <" in header
    assert stored.endswith(b"corps\r\n")


def test_one_copy_per_local_recipient_and_mx_delivery(gateway: RunningGateway) -> None:
    _setup(gateway)
    raw = make_message("someone@other-operator.example", BOB)
    with smtplib.SMTP("127.0.0.1", gateway.ports["smtp_mx"], timeout=30) as client:
        client.ehlo("mx.other-operator.example")
        client.starttls(context=gateway.client_tls())
        client.sendmail("someone@other-operator.example", [BOB, ALICE], raw)
    assert [strip_trace(m) for m in gateway.inbox(BOB)] == [raw]
    assert gateway.inbox(ALICE)[0] == gateway.inbox(BOB)[0]
