"""The web listener's socket: responses must not wait for the client's delayed ACK (Nagle's algorithm)."""

from __future__ import annotations

import asyncio
import socket

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
