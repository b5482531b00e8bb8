"""The web listener's socket: responses must not wait for the client's delayed ACK (Nagle's algorithm)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

from mssante.serve import _http_socket


async def test_accepted_web_connections_have_tcp_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on accepted sockets whose protocol is TCP; a listener made with proto 0
    left it off, and each page written in two parts (headers, body) waited ~40 ms for the client's ACK."""
    listener = _http_socket("127.0.0.1", 0)
    seen: list[int] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    assert seen and seen[0] != 0


def test_settle_heap_freezes_what_start_up_built() -> None:
    """In a child process (freezing the test process's heap would keep its garbage for good)."""
    code = (
        "import gc\n"
        "from mssante.serve import settle_heap\n"
        "class Cycle:\n"
        "    pass\n"
        "a, b = Cycle(), Cycle()\n"
        "a.other, b.other = b, a\n"
        "del a, b\n"
        "settle_heap()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert not [o for o in gc.get_objects() if type(o).__name__ == 'Cycle']\n"  # collected, not frozen
        "frozen = gc.get_freeze_count()\n"
        "gc.collect()\n"
        "assert gc.get_freeze_count() == frozen\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
