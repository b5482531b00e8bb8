"""Helpers for the socket tests: seed messages over IMAP itself, and raw-socket clients for abuse tests."""

from __future__ import annotations

import concurrent.futures
import imaplib
import socket
import ssl

from tests.gateway import PASSWORD, RunningGateway

ALICE = "alice@mssante.localhost"
BOB = "bob@mssante.localhost"


def mailboxes(gateway: RunningGateway) -> None:
    gateway.add_mailbox(ALICE, owner="810001234567")
    gateway.add_mailbox(BOB, owner="810009876543")


def imaps(gateway: RunningGateway, user: str = BOB) -> imaplib.IMAP4_SSL:
    client = imaplib.IMAP4_SSL("127.0.0.1", gateway.ports["imaps"], ssl_context=gateway.client_tls(), timeout=30)
    client.login(user, PASSWORD)
    return client


def seed(
    gateway: RunningGateway, raws: list[bytes], folder: str = "INBOX", user: str = BOB, *, parallel: int = 1
) -> None:
    """APPEND the messages; with ``parallel`` > 1 over that many connections at once (UID order then varies)."""
    if parallel > 1:
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            shares = [raws[i::parallel] for i in range(parallel)]
            list(pool.map(lambda share: seed(gateway, share, folder, user), shares))
        return
    client = imaps(gateway, user)
    try:
        for raw in raws:
            typ, _ = client.append(folder, "", None, raw)
            assert typ == "OK"
    finally:
        client.logout()


class RawClient:
    """A line-level client on the plain port (loopback counts as secure), for what libraries will not send."""

    def __init__(self, gateway: RunningGateway, *, tls: bool = False) -> None:
        sock = socket.create_connection(("127.0.0.1", gateway.ports["imaps" if tls else "imap"]), timeout=30)
        self.sock: socket.socket = gateway.client_tls().wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock
        self.buffer = b""
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def until_tagged(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def closed(self) -> bool:
        """True when the server closed the connection (after reading what is left)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()
