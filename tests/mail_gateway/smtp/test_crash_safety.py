"""kill -9 the server while several clients send; after a restart every message that got 250 is stored
intact, none is partial, none is duplicated.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from mail_gateway.passwords import hash_password
from mail_gateway.store.contents import read_contents
from mail_gateway.store.mailboxes import create_mailbox
from mail_gateway.store.models import Folder, FolderMessage, Mailbox, MessageContent
from storage.blobs import BlobStore, blob_name
from storage.engine import Database
from tests.mail_gateway.smtp.wire import Wire

BOB = "bob@mssante.localhost"


def start_server(data_dir: Path, db_url: str) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    ports_file = data_dir / "ports.json"
    ports_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        "MSSANTE_DATA_DIR": str(data_dir),
        "MSSANTE_DATABASE_URL": db_url,
        "MSSANTE_SMTP_MX_PORT": "0",
        "MSSANTE_SMTP_SUBMISSION_PORT": "0",
        "MSSANTE_SMTPS_PORT": "0",
        "MSSANTE_IMAP_PORT": "0",
        "MSSANTE_IMAPS_PORT": "0",
        "MSSANTE_HTTP_PORT": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mssante", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ports_file.exists():
            return process, json.loads(ports_file.read_text())
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not write its ports in 60 s")


async def _prepare(db_url: str) -> None:
    database = Database(db_url)
    async with database.write() as session:
        await create_mailbox(session, address=BOB, kind="PER", owner_id="810009876543", display_name="Bob",
                             password_hash=hash_password("x" * 16))
    await database.dispose()


async def _stored(db_url: str) -> list[str]:
    database = Database(db_url)
    async with database.read() as session:
        rows = await session.execute(
            select(MessageContent.sha256).join(FolderMessage, FolderMessage.content_id == MessageContent.id)
            .join(Folder, Folder.id == FolderMessage.folder_id).join(Mailbox, Mailbox.id == Folder.mailbox_id)
            .where(Mailbox.address == BOB)
        )
        names = [sha for (sha,) in rows.all()]
    await database.dispose()
    return names


async def _contents(db_url: str, data_dir: Path) -> list[tuple[str, bytes]]:
    """Every message in Bob's mailbox as the store reads it back (row or blob file)."""
    names = await _stored(db_url)
    database = Database(db_url)
    try:
        contents = await read_contents(database, BlobStore(data_dir / "blobs"), [(name, None) for name in names])
    finally:
        await database.dispose()
    return list(zip(names, contents, strict=True))


def sender(port: int, worker: int, acked: list[str], stop: threading.Event) -> None:
    n = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("load.example")
            while not stop.is_set():
                n += 1
                marker = f"crash-{worker}-{n}"
                body = ("Ligne de test " + marker + "\r\n") * 50
                raw = (f"From: sender@other.example\r\nTo: {BOB}\r\nSubject: {marker}\r\n"
                       f"Message-ID: <{marker}@test>\r\n\r\n{body}").encode()
                client.sendmail("sender@other.example", [BOB], raw)
                acked.append(marker)  # only after the 250
    except (smtplib.SMTPException, OSError):
        return


def test_kill_9_loses_nothing_acknowledged(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    asyncio.run(_prepare(db_url))
    process, ports = start_server(data_dir, db_url)
    acked: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=sender, args=(ports["smtp_mx"], w, acked, stop)) for w in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    stop.set()
    for thread in threads:
        thread.join(15)
    assert len(acked) >= 60, "the load did not get going"

    # Restart on the same data: start-up must cope with whatever the crash left.
    process, ports = start_server(data_dir, db_url)
    try:
        with smtplib.SMTP("127.0.0.1", ports["smtp_mx"], timeout=10) as client:
            client.sendmail("sender@other.example", [BOB],
                            f"From: s@other.example\r\nTo: {BOB}\r\nSubject: after\r\n\r\nok\r\n".encode())
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, "a graceful stop exits 0"

    markers: Counter[str] = Counter()
    for name, raw in asyncio.run(_contents(db_url, data_dir)):
        assert blob_name(raw) == name, "the stored bytes no longer hash to their name"
        match = re.search(rb"\r\nSubject: (crash-\d+-\d+|after)\r\n", raw)
        assert match, "a stored message lost its header"
        body = raw.split(b"\r\n\r\n", 1)[1]
        if match.group(1) != b"after":
            assert body == (b"Ligne de test " + match.group(1) + b"\r\n") * 50, "partial message"
        markers[match.group(1).decode()] += 1
    duplicated = [m for m, count in markers.items() if count > 1]
    assert not duplicated
    missing = [m for m in acked if m not in markers]
    assert not missing, f"{len(missing)} acknowledged messages were lost"
    assert markers["after"] == 1


def test_sigterm_lets_an_open_transaction_finish(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    asyncio.run(_prepare(db_url))
    process, ports = start_server(data_dir, db_url)
    try:
        wire = Wire(ports["smtp_mx"])
        wire.cmd("EHLO mx.other.example")
        assert wire.cmd("MAIL FROM:<a@other.example>").startswith("250")
        assert wire.cmd(f"RCPT TO:<{BOB}>").startswith("250")
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert process.poll() is None, "the server must wait for the open transaction"
        with smtplib.SMTP("127.0.0.1", ports["smtp_mx"], timeout=2) as late:  # noqa: F841 - never reached
            raise AssertionError("new connections must be refused while draining")
    except (ConnectionRefusedError, smtplib.SMTPServerDisconnected):
        pass
    finally:
        if process.poll() is None:
            assert wire.cmd("DATA").startswith("354")
            wire.send(f"From: a@other.example\r\nTo: {BOB}\r\nSubject: last\r\n\r\nfin\r\n.\r\n".encode())
            assert wire.reply().startswith("250 2.0.0")
        assert process.wait(30) == 0
    stored = asyncio.run(_stored(db_url))
    assert len(stored) == 1
    assert b"Subject: last" in dict(asyncio.run(_contents(db_url, data_dir)))[stored[0]]
