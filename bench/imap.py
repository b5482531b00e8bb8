"""IMAP benchmark: mssante-gateway against Dovecot, same messages, same workload, same run.

    .venv/bin/python bench/imap.py [--clients 10,100] [--duration 10] [--rounds 3] [--messages 2000]
                                   [--big 100000] [--idle 1000]

Both servers listen on loopback, plaintext (loopback counts as secure for ours; Dovecot is configured to allow
plaintext). Dovecot (Debian ``dovecot-imapd``) runs with a throwaway configuration and a Maildir written here
with the same messages; ours is ``mssante serve`` on SQLite in a fresh data directory, seeded through the mail
store before it starts.

Measured, for each server:

1. session mix with N concurrent clients, each looping: LOGIN, SELECT INBOX, FETCH the headers of the newest
   50, FETCH one body, STORE a flag, IDLE then DONE, LOGOUT. Both servers run at once and take turns,
   ``--rounds`` rounds each (the order swapped every round). Prints operations/s and p50/p99 latency of the
   median round, and the median of the rounds' ratios to Dovecot (target: >= 0.5);
2. SELECT + ``UID FETCH 1:* (FLAGS)`` on a ``--big`` INBOX (after one warm-up run);
3. memory per idle connection: PSS of the server process(es) before and after ``--idle`` (Dovecot) or
   ``--idle-gateway`` (ours) connections that LOGIN, SELECT and IDLE.

The load generator is one asyncio process with a minimal client, so the client costs little next to the
servers; both servers see the same generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mail_gateway.store.mailboxes import find_mailbox
from mail_gateway.store.mailstore import MailStore
from mail_gateway.store.models import Folder
from mail_gateway.store.notify import InProcessNotifier
from mssante.settings import Settings
from storage.blobs import BlobStore
from storage.engine import Database

USER = "bench@mssante.localhost"
PASSWORD = "bench-password-123"
OPS = ("login", "select", "fetch_headers", "fetch_body", "store", "idle", "logout")


def message(n: int) -> bytes:
    body = "".join(f"Ligne {i} du compte rendu numéro {n}, résultats normaux.\r\n" for i in range(40))
    return (
        f"From: Dr Sender {n % 97} <sender{n % 97}@mssante.localhost>\r\nTo: {USER}\r\n"
        f"Subject: Compte rendu {n}\r\nDate: Mon, 23 Nov 2026 10:{n % 60:02d}:00 +0100\r\n"
        f"Message-ID: <bench{n}@mssante.localhost>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}"
    ).encode()


# Minimal client -------------------------------------------------------------------------------------------


class Wire:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.n = 0

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        await reader.readline()
        return cls(reader, writer)

    async def _response(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            literal = re.search(rb"\{(\d+)\}\r\n$", line)
            if literal:
                line += await self.reader.readexactly(int(literal.group(1)))
                line += await self.reader.readline()
            lines.append(line)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(line.decode(errors="replace"))
                return lines

    async def cmd(self, text: str) -> list[bytes]:
        self.n += 1
        tag = b"b%d" % self.n
        self.writer.write(tag + b" " + text.encode() + b"\r\n")
        return await self._response(tag)

    async def idle(self) -> None:
        self.n += 1
        tag = b"b%d" % self.n
        self.writer.write(tag + b" IDLE\r\n")
        line = await self.reader.readline()
        while not line.startswith(b"+"):
            line = await self.reader.readline()
        self.writer.write(b"DONE\r\n")
        await self._response(tag)

    def close(self) -> None:
        self.writer.close()


async def session(port: int, timings: dict[str, list[float]]) -> None:
    clock = time.perf_counter
    t = clock()
    wire = await Wire.open(port)
    await wire.cmd(f'LOGIN "{USER}" "{PASSWORD}"')
    timings["login"].append(clock() - t)
    t = clock()
    lines = await wire.cmd("SELECT INBOX")
    timings["select"].append(clock() - t)
    exists = next(int(line.split()[1]) for line in lines if line.endswith(b" EXISTS\r\n"))
    t = clock()
    await wire.cmd(
        f"FETCH {max(1, exists - 49)}:{exists} (UID FLAGS RFC822.SIZE INTERNALDATE "
        "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])"
    )
    timings["fetch_headers"].append(clock() - t)
    pick = max(1, exists - (os.getpid() + len(timings["store"])) % 50)
    t = clock()
    await wire.cmd(f"FETCH {pick} BODY.PEEK[]")
    timings["fetch_body"].append(clock() - t)
    t = clock()
    await wire.cmd(f"STORE {pick} +FLAGS.SILENT (\\Seen)")
    timings["store"].append(clock() - t)
    t = clock()
    await wire.idle()
    timings["idle"].append(clock() - t)
    t = clock()
    await wire.cmd("LOGOUT")
    timings["logout"].append(clock() - t)
    wire.close()


async def mix(port: int, clients: int, duration: float) -> dict[str, object]:
    timings: dict[str, list[float]] = defaultdict(list)
    deadline = time.perf_counter() + duration
    errors = 0

    async def loop() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            try:
                await session(port, timings)
            except (OSError, RuntimeError, asyncio.IncompleteReadError):
                errors += 1
                await asyncio.sleep(0.05)

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    every = [x for op in OPS for x in timings[op]]
    return {
        "ops_per_s": len(every) / elapsed,
        "sessions": len(timings["logout"]),
        "errors": errors,
        "p50_ms": 1000 * statistics.median(every) if every else 0.0,
        "p99_ms": 1000 * statistics.quantiles(every, n=100)[98] if len(every) > 100 else 0.0,
        "per_op_p50_ms": {op: 1000 * statistics.median(timings[op]) for op in OPS if timings[op]},
    }


async def big_folder(port: int) -> tuple[float, float, int]:
    wire = await Wire.open(port)
    await wire.cmd(f'LOGIN "{USER}" "{PASSWORD}"')
    results = []
    for _ in range(2):  # the first run warms caches (and builds Dovecot's index); the second is reported
        t = time.perf_counter()
        await wire.cmd("SELECT Big")
        selected = time.perf_counter() - t
        lines = await wire.cmd("UID FETCH 1:* (FLAGS)")
        results.append((selected, time.perf_counter() - t, len(lines) - 1))
        await wire.cmd("CLOSE")
    await wire.cmd("LOGOUT")
    wire.close()
    return results[-1]


def memory_kib(pids: list[int]) -> int:
    """Proportional set size (shared pages split between the processes sharing them), summed: fair between
    one process (ours) and one process per connection (Dovecot's imap)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total


async def idle_memory(port: int, count: int, pids: Callable[[], list[int]]) -> tuple[float, int]:
    before = memory_kib(pids())
    wires: list[Wire] = []
    opened = 0
    try:
        for start in range(0, count, 200):
            batch = await asyncio.gather(
                *(Wire.open(port) for _ in range(min(200, count - start))), return_exceptions=True
            )
            for wire in batch:
                if isinstance(wire, Wire):
                    wires.append(wire)
            await asyncio.gather(*(_park(w) for w in wires[opened:]), return_exceptions=True)
            opened = len(wires)
        await asyncio.sleep(1.0)
        after = memory_kib(pids())
    finally:
        for wire in wires:
            wire.close()
    return (after - before) / max(1, len(wires)), len(wires)


async def _park(wire: Wire) -> None:
    await wire.cmd(f'LOGIN "{USER}" "{PASSWORD}"')
    await wire.cmd("SELECT INBOX")
    wire.n += 1
    wire.writer.write(b"b%d IDLE\r\n" % wire.n)
    await wire.reader.readline()


# Servers ------------------------------------------------------------------------------------------------


def _wait_port_file(path: Path, process: subprocess.Popen[bytes]) -> dict[str, int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        if process.poll() is not None:
            raise RuntimeError(f"mssante serve exited with {process.returncode}")
        time.sleep(0.1)
    raise RuntimeError("mssante serve did not start")


async def _seed_gateway(env: dict[str, str], count: int, big: int) -> None:
    os.environ.update(env)

    settings = Settings()
    database = Database(settings.effective_database_url)
    store = MailStore(database, BlobStore(settings.blob_dir), InProcessNotifier(), max_batch=256)
    async with database.read() as session:
        box = await find_mailbox(session, USER)
    assert box is not None
    async with database.write() as session:
        session.add(
            Folder(
                mailbox_id=box.id, name="Big", uidvalidity=int(time.time()), uidnext=1, highestmodseq=1, subscribed=True
            )
        )
    for folder, total in (("INBOX", count), ("Big", big)):
        for start in range(0, total, 2000):
            await asyncio.gather(
                *(store.store(message(n), [(box.id, folder)]) for n in range(start, min(total, start + 2000)))
            )
    await store.close()
    await database.dispose()


def start_gateway(count: int, big: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-imap-"))
    env = {
        **os.environ,
        "MSSANTE_DATA_DIR": str(data_dir),
        "MSSANTE_SMTP_MX_PORT": "0",
        "MSSANTE_SMTP_SUBMISSION_PORT": "0",
        "MSSANTE_SMTPS_PORT": "0",
        "MSSANTE_IMAP_PORT": "0",
        "MSSANTE_IMAPS_PORT": "0",
        "MSSANTE_HTTP_PORT": "0",
        "MSSANTE_LOG_FORMAT": "json",
    }
    subprocess.run([sys.executable, "-m", "mssante", "init"], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mssante",
            "mailbox",
            "add",
            USER,
            "--type",
            "PER",
            "--name",
            "Bench",
            "--owner",
            "810001234567",
            "--password-stdin",
        ],
        env=env,
        check=True,
        capture_output=True,
        input=PASSWORD.encode() + b"\n",
    )
    t = time.perf_counter()
    asyncio.run(_seed_gateway(env, count, big))
    print(f"  seeded mssante: {count} + {big} messages in {time.perf_counter() - t:.1f} s")
    process = subprocess.Popen(
        [sys.executable, "-m", "mssante", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ports = _wait_port_file(data_dir / "ports.json", process)
    return process, int(ports["imap"]), data_dir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _maildir(root: Path, count: int, start: int = 0) -> None:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    stamp = int(time.time())
    for n in range(start, start + count):
        (root / "cur" / f"{stamp}.M{n}P1.bench:2,").write_bytes(message(n))


def start_dovecot(count: int, big: int, idle: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    root = Path(tempfile.mkdtemp(prefix="bench-dovecot-"))
    root.chmod(0o755)
    home = root / "home"
    _maildir(home / "Maildir", count)
    _maildir(home / "Maildir" / ".Big", big)
    port = _free_port()
    subprocess.run(["chown", "-R", "mail:mail", str(home)], check=True)  # Dovecot refuses uid 0 for mail
    (root / "run").mkdir()
    config = root / "dovecot.conf"
    config.write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={home}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  process_limit = 64
  client_limit = {max(1000, idle + 100)}
  service_count = 0
}}
service imap {{
  process_limit = {idle + 500}
}}
default_client_limit = {max(1000, idle + 100)}
default_vsz_limit = 0
""")
    (root / "state").mkdir()
    process = subprocess.Popen(
        ["dovecot", "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return process, port, root
        time.sleep(0.1)
    raise RuntimeError(f"dovecot did not start; see {root}/dovecot.log")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    parents: dict[int, list[int]] = defaultdict(list)
    for line in out.splitlines():
        child, parent = (int(x) for x in line.split())
        parents[parent].append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


# Report -------------------------------------------------------------------------------------------------


@dataclass
class Result:
    mix: dict[int, dict[str, Any]] = field(default_factory=dict)
    big: tuple[float, float, int] = (0.0, 0.0, 0)
    idle: tuple[float, int] = (0.0, 0)
    rounds: dict[int, list[float]] = field(default_factory=dict)  # operations/s of each round, by client count


async def measure(servers: dict[str, tuple[int, Callable[[], list[int]], int]], args: argparse.Namespace
                  ) -> dict[str, Result]:
    """Both servers run at once and take turns: for each client count, ``--rounds`` rounds of the session mix
    on each, the order swapped every round, so that a load on the machine that comes and goes weighs on both
    alike. Then the big folder and the idle connections, one server after the other."""
    results = {name: Result() for name in servers}
    for port, _, _ in servers.values():
        await mix(port, 5, 2.0)  # warm-up
    for clients in args.clients:
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for round_number in range(args.rounds):
            order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
            for name in order:
                rounds[name].append(await mix(servers[name][0], clients, args.duration))
        for name, runs in rounds.items():
            results[name].rounds[clients] = [run["ops_per_s"] for run in runs]
            results[name].mix[clients] = sorted(runs, key=lambda run: run["ops_per_s"])[len(runs) // 2]
    for name, (port, pids, idle) in servers.items():
        results[name].big = await big_folder(port)
        results[name].idle = await idle_memory(port, idle, pids)
    return results


def report(name: str, result: Result, baseline: Result | None, args: argparse.Namespace) -> None:
    for clients in args.clients:
        r = result.mix[clients]  # the median round
        ratio = ""
        if baseline is not None:
            pairs = zip(result.rounds[clients], baseline.rounds[clients], strict=True)
            ratios = [ours / theirs for ours, theirs in pairs]
            ratio = f"  ratio {statistics.median(ratios):.2f} (rounds: {', '.join(f'{x:.2f}' for x in ratios)})"
        print(
            f"  {name:<10} {clients:>4} clients: {r['ops_per_s']:>8.0f} ops/s  p50 {r['p50_ms']:>6.2f} ms  "
            f"p99 {r['p99_ms']:>7.2f} ms  sessions {r['sessions']}  errors {r['errors']}{ratio}"
        )
        print("             p50 by op (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_op_p50_ms"].items()))
    selected, total, count = result.big
    print(
        f"  {name:<10} Big folder: SELECT {1000 * selected:.0f} ms, SELECT + UID FETCH 1:* (FLAGS) "
        f"{1000 * total:.0f} ms for {count} messages"
    )
    per_conn, opened = result.idle
    print(
        f"  {name:<10} idle: {opened} connections in IDLE, {per_conn:.1f} KiB each (PSS) "
        f"(10,000 would take {per_conn * 10_000 / 1024 / 1024:.2f} GiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="10,100")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each round of the session mix")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the session mix on each server, in turn")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--idle", type=int, default=1000, help="idle connections held on Dovecot")
    parser.add_argument(
        "--idle-gateway", type=int, default=10_000, help="idle connections held on ours (issue target: 10,000)"
    )
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * max(args.idle, args.idle_gateway) + 1000  # both ends of each connection live on this machine
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, wanted)), hard))
    if shutil.which("dovecot") is None:
        sys.exit("dovecot is needed: apt-get install -y dovecot-imapd")
    print(
        f"IMAP bench: {args.messages} messages in INBOX, {args.big} in Big, clients {args.clients}, "
        f"{args.duration:.0f} s each, {os.cpu_count()} CPUs"
    )

    dovecot, dovecot_port, root = start_dovecot(args.messages, args.big, args.idle)
    try:
        gateway, gateway_port, data_dir = start_gateway(args.messages, args.big)
        try:
            results = asyncio.run(measure({
                "dovecot": (dovecot_port, lambda: _children(dovecot.pid), args.idle),
                "mssante": (gateway_port, lambda: [gateway.pid], args.idle_gateway),
            }, args))
        finally:
            stop(gateway)
            shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        stop(dovecot)
        shutil.rmtree(root, ignore_errors=True)
    report("dovecot", results["dovecot"], None, args)
    report("mssante", results["mssante"], results["dovecot"], args)

if __name__ == "__main__":
    main()
