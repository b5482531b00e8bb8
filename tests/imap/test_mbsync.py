"""mbsync (isync): a full two-way sync of a few hundred messages, changes on both sides, sync again, compare."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gateway import PASSWORD, RunningGateway
from tests.imap import messages
from tests.imap.wire import BOB, imaps, mailboxes, seed

COUNT = 300


@pytest.fixture(autouse=True)
def _mbsync_installed() -> None:
    """Never skipped: without mbsync the test fails and says what to install (make test installs it)."""
    if shutil.which("mbsync") is None:
        pytest.fail("mbsync is not installed: apt-get install isync (make test does it)")


def _config(gateway: RunningGateway, root: Path) -> Path:
    (root / "mail").mkdir()
    config = root / "mbsyncrc"
    config.write_text(
        f"""IMAPAccount gateway
Host localhost
Port {gateway.ports["imaps"]}
User {BOB}
Pass "{PASSWORD}"
SSLType IMAPS
CertificateFile {gateway.ca}
PipelineDepth 50

IMAPStore remote
Account gateway

MaildirStore local
Path {root}/mail/
Inbox {root}/mail/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX Archive
Create Both
Expunge Both
SyncState *
"""
    )
    return config


def _run(config: Path) -> None:
    result = subprocess.run(
        ["mbsync", "-c", str(config), "-a"], check=False, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _local(folder: Path) -> dict[int, str]:
    """Message number → maildir flags, for every message in a local maildir folder."""
    found: dict[int, str] = {}
    for sub in ("cur", "new"):
        for path in (folder / sub).glob("*"):
            number = int(re.search(rb"Message-ID: <m(\d+)@", path.read_bytes()).group(1))  # type: ignore[union-attr]
            found[number] = path.name.rsplit(":2,", 1)[1] if ":2," in path.name else ""
    return found


def _server(gateway: RunningGateway, folder: str) -> dict[int, str]:
    client = imaps(gateway)
    try:
        client.select(folder, readonly=True)
        _, data = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    finally:
        client.logout()
    found: dict[int, str] = {}
    for item in data:
        if isinstance(item, tuple):
            number = int(re.search(rb"<m(\d+)@", item[1]).group(1))  # type: ignore[union-attr]
            found[number] = " ".join(sorted(re.findall(r"\\\w+", item[0].decode())))
    return found


def _uids(gateway: RunningGateway) -> dict[int, str]:
    client = imaps(gateway)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    finally:
        client.logout()
    found: dict[int, str] = {}
    for item in data:
        if isinstance(item, tuple):
            number = int(re.search(rb"<m(\d+)@", item[1]).group(1))  # type: ignore[union-attr]
            found[number] = re.search(r"UID (\d+)", item[0].decode()).group(1)  # type: ignore[union-attr]
    return found


def test_two_way_sync(gateway: RunningGateway, tmp_path: Path) -> None:
    mailboxes(gateway)
    seed(gateway, [messages.numbered(n) for n in range(1, COUNT + 1)], parallel=10)
    client = imaps(gateway)
    client.create("Archive")
    client.logout()
    config = _config(gateway, tmp_path)
    _run(config)
    inbox = tmp_path / "mail" / "INBOX"
    assert sorted(_local(inbox)) == list(range(1, COUNT + 1))

    # Server side: flag 1-10, delete 11-20, move 21-30 to Archive (by UID: seeding was parallel).
    uids = _uids(gateway)
    client = imaps(gateway)
    client.select("INBOX")
    client.uid("STORE", ",".join(uids[n] for n in range(1, 11)), "+FLAGS", r"(\Flagged)")
    client.uid("STORE", ",".join(uids[n] for n in range(11, 21)), "+FLAGS", r"(\Deleted)")
    client.expunge()
    client.uid("MOVE", ",".join(uids[n] for n in range(21, 31)), "Archive")
    client.logout()
    # Local side: mark 31-40 seen, delete 41-50, move 51-60 into the local Archive.
    for path in sorted((inbox / "cur").glob("*")) + sorted((inbox / "new").glob("*")):
        number = int(re.search(rb"Message-ID: <m(\d+)@", path.read_bytes()).group(1))  # type: ignore[union-attr]
        base = path.name.split(":2,", 1)[0]
        if 31 <= number <= 40:
            path.rename(inbox / "cur" / f"{base}:2,S")
        elif 41 <= number <= 50:
            path.unlink()
        elif 51 <= number <= 60:
            target = tmp_path / "mail" / "Archive" / "cur"
            path.rename(target / re.sub(r",U=\d+", "", base))
    _run(config)

    expected_inbox = set(range(1, COUNT + 1)) - set(range(11, 31)) - set(range(41, 61))
    server_inbox = _server(gateway, "INBOX")
    assert set(server_inbox) == expected_inbox
    assert all(server_inbox[n] == "\\Flagged" for n in range(1, 11))
    assert all(server_inbox[n] == "\\Seen" for n in range(31, 41))
    assert set(_server(gateway, "Archive")) == set(range(21, 31)) | set(range(51, 61))
    local_inbox = _local(inbox)
    assert set(local_inbox) == expected_inbox
    assert all("F" in local_inbox[n] for n in range(1, 11))
    assert set(_local(tmp_path / "mail" / "Archive")) == set(range(21, 31)) | set(range(51, 61))
    _run(config)  # a third run finds nothing to do and changes nothing
    assert set(_server(gateway, "INBOX")) == expected_inbox
