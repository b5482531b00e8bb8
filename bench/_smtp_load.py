"""Load generator for bench/smtp_ingest.py: processes × connections sending small messages over SMTP."""

from __future__ import annotations

import asyncio
import multiprocessing
import time


def _message(worker: int, n: int, size: int) -> bytes:
    header = (
        f"From: bench@other-operator.example\r\nTo: bench@mssante.localhost\r\nSubject: bench {worker}-{n}\r\n"
        f"Message-ID: <bench-{worker}-{n}-{time.time_ns()}@other-operator.example>\r\n\r\n"
    ).encode()
    line = b"Compte rendu de consultation, ligne de texte pour le banc d'essai.....\r\n"
    body = line * max(1, (size - len(header)) // len(line))
    return header + body


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line


async def _connection(port: int, worker: int, count: int, size: int, rcpt: str, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _reply(reader)
    writer.write(b"EHLO load.example\r\n")
    await _reply(reader)
    sent = 0
    for n in range(count):
        data = _message(worker, n, size)
        envelope = f"MAIL FROM:<bench@other-operator.example> SIZE={len(data)}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
        writer.write(envelope.encode())
        for _ in range(3):  # RFC 2920 pipelining: MAIL, RCPT, DATA replies
            code = await _reply(reader)
        if not code.startswith(b"354"):
            raise RuntimeError(f"unexpected reply {code!r}")
        writer.write(data + b".\r\n")
        await writer.drain()
        start = time.perf_counter()
        code = await _reply(reader)
        latencies.append(time.perf_counter() - start)
        if not code.startswith(b"250"):
            raise RuntimeError(f"refused: {code!r}")
        sent += 1
    writer.write(b"QUIT\r\n")
    await writer.drain()
    writer.close()
    return sent


def _process(
    port: int, worker: int, connections: int, count: int, size: int, rcpt: str, out: multiprocessing.Queue  # type: ignore[type-arg]
) -> None:
    async def main() -> tuple[int, list[float]]:
        latencies: list[float] = []
        results = await asyncio.gather(
            *(_connection(port, worker * 1000 + c, count, size, rcpt, latencies) for c in range(connections))
        )
        return sum(results), latencies

    out.put(asyncio.run(main()))


def run_load(
    port: int, *, processes: int, connections: int, per_connection: int, size: int, rcpt: str
) -> dict[str, float]:
    """Send ``processes × connections × per_connection`` messages; return throughput and latency figures."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=_process, args=(port, p, connections, per_connection, size, rcpt, queue))
        for p in range(processes)
    ]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=600) for _ in workers]
    elapsed = time.perf_counter() - start
    for worker in workers:
        worker.join()
    total = sum(sent for sent, _ in results)
    latencies: list[float] = sorted(lat for _, lats in results for lat in lats)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "messages": total, "seconds": elapsed, "msg_per_s": total / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99)
    }
