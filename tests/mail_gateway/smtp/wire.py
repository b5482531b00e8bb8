"""A tiny line-level SMTP client over a real socket, for tests that must send exact bytes."""

from __future__ import annotations

import contextlib
import socket
import ssl


class Wire:
    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock: socket.socket = tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock
        self.buffer = b""
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; pending {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def reply(self) -> str:
        """One whole (possibly multi-line) reply, lines joined with newlines."""
        lines = [self.line()]
        while lines[-1][3:4] == b"-":
            lines.append(self.line())
        return "\n".join(line.decode("utf-8", "replace") for line in lines)

    def cmd(self, command: str) -> str:
        self.send(command.encode() + b"\r\n")
        return self.reply()

    def starttls(self, context: ssl.SSLContext) -> None:
        assert self.cmd("STARTTLS").startswith("220")
        self.sock = context.wrap_socket(self.sock, server_hostname="127.0.0.1")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
