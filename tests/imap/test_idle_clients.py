"""aioimaplib: IDLE woken by an SMTP delivery, and many concurrent sessions on one folder."""

from __future__ import annotations

import asyncio
import smtplib

import aioimaplib

from tests.gateway import PASSWORD, RunningGateway
from tests.imap import messages
from tests.imap.wire import ALICE, BOB, mailboxes, seed
from tests.mail_gateway.factories import make_message


async def _client(gateway: RunningGateway, user: str = BOB) -> aioimaplib.IMAP4_SSL:
    client = aioimaplib.IMAP4_SSL("127.0.0.1", gateway.ports["imaps"], ssl_context=gateway.client_tls(), timeout=30)
    await client.wait_hello_from_server()
    response = await client.login(user, PASSWORD)
    assert response.result == "OK"
    return client


def _submit(gateway: RunningGateway, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", gateway.ports["smtp_submission"], timeout=30) as smtp:
        smtp.starttls(context=gateway.client_tls())
        smtp.login(ALICE, PASSWORD)
        smtp.sendmail(ALICE, [BOB], make_message(ALICE, BOB, subject=subject))


def test_idle_is_woken_by_an_smtp_delivery(gateway: RunningGateway) -> None:
    mailboxes(gateway)

    async def scenario() -> list[bytes]:
        client = await _client(gateway)
        assert (await client.select("INBOX")).result == "OK"
        idle = await client.idle_start(timeout=60)
        await asyncio.sleep(0.2)  # in IDLE now; the delivery happens while it waits
        await asyncio.to_thread(_submit, gateway, "Réveil")
        pushed = await asyncio.wait_for(client.wait_server_push(), 10)
        client.idle_done()
        assert (await asyncio.wait_for(idle, 10)).result == "OK"
        fetched = await client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        await client.logout()
        return [*pushed, *fetched.lines]

    lines = asyncio.run(scenario())
    assert b"1 EXISTS" in lines
    assert any(b"Subject: R=C3=A9veil" in line or "Réveil".encode() in line for line in lines)


def test_concurrent_sessions_see_one_consistent_folder(gateway: RunningGateway) -> None:
    mailboxes(gateway)
    seed(gateway, [messages.numbered(n) for n in range(1, 21)])

    async def worker(n: int) -> None:
        client = await _client(gateway)
        await client.select("INBOX")
        # Each session flags its own message and appends one; all run at once.
        assert (await client.store(str(n), "+FLAGS", f"($Worker{n})")).result == "OK"
        raw = messages.numbered(100 + n)
        assert (await client.append(raw, mailbox="INBOX")).result == "OK"
        await client.logout()

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        await asyncio.gather(*(worker(n) for n in range(1, 11)))
        client = await _client(gateway)
        await client.select("INBOX")
        flags = await client.fetch("1:10", "(FLAGS)")
        uids = await client.uid_search("ALL")
        await client.logout()
        return flags.lines, uids.lines

    flags, uids = asyncio.run(scenario())
    for n in range(1, 11):
        assert any(line.startswith(b"%d FETCH" % n) and b"$Worker%d" % n in line for line in flags)
    assert uids[0] == b" ".join(b"%d" % u for u in range(1, 31))
