"""Patient web inbox benchmark: inbox and conversation pages versus a bare route rendering the same template.

    .venv/bin/python bench/web.py [--sessions 20] [--requests 1500] [--conversations 1000] [--messages 10000]
                                  [--engines sqlite,postgresql] [--client raw|httpx] [--rounds 3]

For each engine, seeds one patient with ``--conversations`` conversations holding ``--messages`` messages in
total (a fresh data directory; PostgreSQL started here with fsync on, as tests/pg.py does), starts the real
app (``mssante.web.create_app``) under uvicorn in a child process, and drives it over HTTP from ``--sessions``
concurrent logged-in sessions (each a keep-alive connection of a minimal HTTP/1.1 client: see
:class:`Session`). The bare route, served by the same process, renders ``inbox.html`` with static data and no
database or session work; a second bare route renders ``conversation.html`` the same way (ten messages of
the seeded body) for the conversation page. Prints p50/p99 latency and throughput for each, and the ratio of
each page's throughput to its bare route's. The scenarios take turns for ``--rounds`` rounds and the medians are
kept, so that a passing load on the machine does not favour one of them.
Targets (issue 6): inbox p99 <= 50 ms, ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

# bench/ holds directory.py, which would shadow the ``directory`` package: the repository root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from sqlalchemy import insert, text
from starlette.responses import Response

from mail_gateway.delivery.pipeline import DeliveryPipeline
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.notify import InProcessNotifier
from mssante.serve import _http_socket as http_socket
from mssante.serve import settle_heap
from mssante.settings import Settings
from mssante.web import create_app
from patient_inbox.config import PatientSettings
from patient_inbox.conversations import InboxEntry, InboxPage, Thread, ThreadPerson
from patient_inbox.models import Conversation, Participant, PatientAccount, PatientMessage, WebSession
from patient_inbox.services import PatientServices
from patient_inbox.views import body_view
from patient_inbox.web.render import render
from patient_inbox.web.routes_inbox import ShownMessage
from patient_inbox.web.security import token_id
from storage.blobs import BlobStore
from storage.engine import Database
from storage.migrate import upgrade
from tests.pg import PostgresServer

PATIENT = "185077512345664@patient.mssante.localhost"
DISTINCT_BODIES = 2000  # distinct stored messages (the rest repeat them): enough to exercise the view cache


def _message(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Dr Claire Martin <dr.martin@mssante.localhost>"
    message["To"] = PATIENT
    message["Subject"] = f"Compte rendu {n}"
    message["Message-ID"] = f"<bench-{n}@mssante.localhost>"
    message.set_content("Bonjour,\n\nVoici le compte rendu de votre consultation.\n" * 5)
    message.add_alternative("<p>Bonjour,</p><p>Voici le <b>compte rendu</b> de votre consultation.</p>" * 5,
                            subtype="html")
    return message.as_bytes(policy=SMTP)


async def seed(data_dir: Path, url: str, conversations: int, messages: int, sessions: int) -> list[str]:
    database = Database(url)
    await upgrade(database)
    blobs = BlobStore(data_dir / "blobs")
    bodies = [_message(n) for n in range(DISTINCT_BODIES)]
    shas = blobs.put_many(bodies)
    sizes = [len(body) for body in bodies]
    now = datetime.now(UTC)
    tokens = [f"bench-session-{n:02d}-{os.urandom(8).hex()}" for n in range(sessions)]
    async with database.write() as session:
        account = PatientAccount(
            ins=PATIENT[:15], address=PATIENT, family_name="Dupont", given_names="Élodie",
            birth_date=date(1985, 7, 14), email="elodie@perso.example", state="active", created_at=now,
            state_changed_at=now, failed_logins=0,
        )
        session.add(account)
        await session.flush()
        await session.execute(insert(Conversation), [
            {"id": c + 1, "patient_id": account.id, "token": f"tok-{c}", "subject": f"Compte rendu {c}",
             "state": "open" if c % 3 else "closed", "created_at": now - timedelta(hours=c),
             "last_message_at": now - timedelta(hours=c), "unread": 0, "last_author": "Dr Claire Martin",
             "last_author_profession": "Médecin"}
            for c in range(conversations)
        ])
        await session.execute(insert(Participant), [
            {"id": c + 1, "conversation_id": c + 1, "address": "dr.martin@mssante.localhost",
             "display_name": "Dr Claire Martin", "profession": "Médecin", "structure": "CH Exemple"}
            for c in range(conversations)
        ])
        await session.execute(insert(PatientMessage), [
            {"conversation_id": m % conversations + 1, "author_id": m % conversations + 1,
             "message_id": f"<bench-m{m}@x>", "sha256": shas[m % DISTINCT_BODIES], "size": sizes[m % DISTINCT_BODIES],
             "subject": "Compte rendu", "received_at": now - timedelta(minutes=m), "read_at": now}
            for m in range(messages)
        ])
        await session.execute(insert(WebSession), [
            {"id": token_id(token), "patient_id": account.id, "stage": "full", "created_at": now,
             "last_seen_at": now}
            for token in tokens
        ])
    if not database.sqlite:  # what autovacuum does soon after a bulk load: statistics and the visibility map
        async with database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
    await database.dispose()
    return tokens


def serve(data_dir: Path, port_file: Path) -> None:
    """Child process: the real app plus the bare route, under uvicorn."""
    settings = Settings(data_dir=data_dir)  # MSSANTE_DATABASE_URL from the parent chooses the engine
    database = Database(settings.effective_database_url)
    blobs = BlobStore(settings.blob_dir)
    pipeline = DeliveryPipeline(MailStore(database, blobs, InProcessNotifier()), local_domains=settings.domains,
                                hostname=settings.hostname, max_message_size=settings.max_message_size,
                                max_recipients=100, default_quota=1 << 30)
    app = create_app(settings, database)
    app.state.patient_services = PatientServices.build(
        database=database, blobs=blobs, pipeline=pipeline, patient_domain=settings.patient_domain,
        data_dir=data_dir, settings=PatientSettings(notify_smarthost=""),
    )
    now = datetime.now(UTC)
    static = InboxPage([InboxEntry(c, f"Compte rendu {c}", "Dr Claire Martin", "Médecin", now, 0, True)
                        for c in range(20)], 1, 50, 1000)

    async def bare() -> Response:
        return render("inbox.html", {"title": "Mes messages", "page": static, "csrf": "0" * 64, "signed_in": True})

    # The conversation page's template with what a seeded conversation shows: ten messages of the seed's body
    # (sanitised HTML, as the page shows it), one professional, open for a reply.
    body = body_view(_message(0))
    person = ThreadPerson(1, "Dr Claire Martin", "Médecin", "CH Exemple")
    thread = {
        "title": "Compte rendu 1", "conversation": Thread(1, "Compte rendu 1", "open", 0, [person], []),
        "people": [person], "open": True, "limits": PatientSettings(notify_smarthost=""), "draft": "",
        "messages": [ShownMessage(n, False, "Dr Claire Martin", "Médecin", "CH Exemple", now, body.html, body.text, [])
                     for n in range(10)],
        "info": None, "csrf": "0" * 64, "signed_in": True,
    }

    async def bare_conversation() -> Response:
        return render("conversation.html", thread)

    app.add_api_route("/bench/bare-inbox", bare)
    app.add_api_route("/bench/bare-conversation", bare_conversation)
    settle_heap()  # as ``mssante serve`` does once it listens
    sock = http_socket("127.0.0.1", 0)  # the listening socket ``mssante serve`` uses (TCP_NODELAY on accept)
    port_file.write_text(str(sock.getsockname()[1]))
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])


class Session:
    """One logged-in browser: a keep-alive HTTP/1.1 connection carrying the session cookie.

    A minimal client on purpose: it sends a GET and reads the status line, the headers and exactly
    ``Content-Length`` bytes of body. httpx spends about 1 ms of CPU per request, more than the bare route costs
    the server, on the same two cores: with it the benchmark measured mostly its own client (``--client httpx``
    still runs it, for comparison).
    """

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.cookie = f"__Host-mss-patient={token}"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nCookie: {self.cookie}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (f.partition(":") for f in fields if f)}
        if "content-length" not in headers:
            raise RuntimeError(f"no Content-Length in the answer to {path}: {status_line}")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return int(status_line.split()[1]), body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def load(
    base: str, tokens: list[str], total: int, path_for: Callable[[random.Random], str], client: str = "raw"
) -> tuple[list[float], float]:
    latencies: list[float] = []
    per_session = max(1, total // len(tokens))
    host, _, port = base.removeprefix("http://").partition(":")

    async def raw_worker(token: str, seed_value: int) -> None:
        rng = random.Random(seed_value)
        session = Session(host, int(port), token)
        try:
            for _ in range(per_session):
                path = path_for(rng)
                start = time.perf_counter()
                status, body = await session.get(path)
                latencies.append(time.perf_counter() - start)
                if status != 200 or not body.rstrip().endswith(b"</html>"):
                    raise RuntimeError(f"{status} for {path}")
        finally:
            await session.close()

    async def httpx_worker(token: str, seed_value: int) -> None:
        rng = random.Random(seed_value)
        cookies = {"__Host-mss-patient": token}
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30) as http:
            for _ in range(per_session):
                start = time.perf_counter()
                response = await http.get(path_for(rng))
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code} for {response.request.url}")

    worker = raw_worker if client == "raw" else httpx_worker
    started = time.perf_counter()
    await asyncio.gather(*(worker(token, n) for n, token in enumerate(tokens)))
    return latencies, time.perf_counter() - started


def percentile(latencies: list[float], share: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(name: str, latencies: list[float], elapsed: float) -> float:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = percentile(ordered, 0.99) * 1000
    rate = len(ordered) / elapsed
    print(f"{name:<22} {len(ordered):>6} req  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  {rate:8.1f} req/s")
    return rate


async def run_engine(args: argparse.Namespace, engine: str, data_dir: Path, url: str) -> None:
    tokens = await seed(data_dir, url, args.conversations, args.messages, args.sessions)
    port_file = data_dir / "port"
    env = {**os.environ, "MSSANTE_DATA_DIR": str(data_dir), "MSSANTE_DATABASE_URL": url}
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(data_dir), str(port_file)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text()):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        pages = max(1, args.conversations // 20)
        print(f"\n{engine}: patient with {args.conversations} conversations, {args.messages} messages; "
              f"{args.sessions} concurrent sessions, {args.client} client")
        scenarios: list[tuple[str, Callable[[random.Random], str]]] = [
            ("bare route (static)", lambda rng: "/bench/bare-inbox"),
            ("inbox page", lambda rng: f"/patient/messages?page={rng.randint(1, pages)}"),
            ("bare conversation", lambda rng: "/bench/bare-conversation"),
            ("conversation page", lambda rng: f"/patient/conversations/{rng.randint(1, args.conversations)}"),
        ]
        # The scenarios run in turn, --rounds times: a load on the machine that comes and goes then weighs on
        # each of them alike. Each figure printed at the end is the median over the rounds.
        rates: dict[str, list[float]] = {name: [] for name, _ in scenarios}
        p99s: dict[str, list[float]] = {name: [] for name, _ in scenarios}
        ratios: list[float] = []
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}")
            for name, path_for in scenarios:
                await load(base, tokens, min(200, args.requests), path_for, args.client)  # warm-up
                latencies, elapsed = await load(base, tokens, args.requests, path_for, args.client)
                rates[name].append(report(name, latencies, elapsed))
                p99s[name].append(percentile(latencies, 0.99) * 1000)
            ratios.append(rates["inbox page"][-1] / rates["bare route (static)"][-1])
        print(f"median of {args.rounds} rounds:")
        for name, _ in scenarios:
            rate, p99 = statistics.median(rates[name]), statistics.median(p99s[name])
            print(f"  {name:<22} {rate:8.1f} req/s  p99 {p99:7.1f} ms")
        ratio = statistics.median(ratios)
        conv_ratio = statistics.median(rates["conversation page"]) / statistics.median(rates["bare conversation"])
        inbox_p99 = statistics.median(p99s["inbox page"])
        print(f"ratio inbox / bare: {ratio:.2f} (median of the rounds' ratios {', '.join(f'{r:.2f}' for r in ratios)}; "
              f"target >= 0.5); conversation page / its bare route: {conv_ratio:.2f}")
        print(f"inbox p99 {inbox_p99:.1f} ms (target <= 50 ms): {'met' if inbox_p99 <= 50 else 'NOT met'}; "
              f"ratio {'met' if ratio >= 0.5 else 'NOT met'}")
    finally:
        child.terminate()
        child.wait(10)


async def main(args: argparse.Namespace) -> None:
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
            data_dir = Path(tmp)
            if engine == "sqlite":
                await run_engine(args, engine, data_dir, f"sqlite+aiosqlite:///{data_dir / 'mssante.db'}")
                continue
            server = PostgresServer(durable=True)
            server.start()
            try:
                server.psql("CREATE DATABASE bench")
                await run_engine(args, engine, data_dir, server.url("bench"))
            finally:
                server.stop()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), Path(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--rounds", type=int, default=3, help="the scenarios run in turn this many times")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="raw: a minimal keep-alive HTTP/1.1 client (default); httpx: the client used before")
    asyncio.run(main(parser.parse_args()))
