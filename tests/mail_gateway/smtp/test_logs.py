"""Logs hold no message content and no addresses: only ids, counts and hashes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import smtplib
from pathlib import Path

from tests.conftest import _migrate
from tests.mail_gateway.smtp.test_crash_safety import BOB, _prepare, start_server

SECRET_SUBJECT = "Diagnostic-confidentiel-7f3a"
SECRET_BODY = "Traitement-antiretroviral-91c2"
SENDER = "docteur.secret@other-operator.example"


def test_server_logs_hold_no_content_and_no_address(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    asyncio.run(_migrate(db_url))
    asyncio.run(_prepare(db_url))
    process, ports = start_server(tmp_path / "var", db_url)
    try:
        raw = (f"From: {SENDER}\r\nTo: {BOB}\r\nSubject: {SECRET_SUBJECT}\r\n\r\n{SECRET_BODY}\r\n").encode()
        with smtplib.SMTP("127.0.0.1", ports["smtp_mx"], timeout=30) as client:
            client.sendmail(SENDER, [BOB], raw)
            with contextlib.suppress(smtplib.SMTPRecipientsRefused):
                client.sendmail(SENDER, ["unknown.patient@mssante.localhost"], raw)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.stderr is not None
    logs = process.stderr.read().decode("utf-8", "replace")
    assert "delivery.accepted" in logs, "the delivery was not logged at all"
    for secret in (SECRET_SUBJECT, SECRET_BODY, SENDER, BOB, "unknown.patient"):
        assert secret not in logs, f"{secret!r} leaked into the logs"
