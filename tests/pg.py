"""A throwaway PostgreSQL server started by the test suite itself.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user (``runuser``).
A test that needs it and cannot have it fails with the reason: nothing is skipped silently.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable("PostgreSQL server binaries not found: run `make test` (it installs `postgresql`)")


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable  # benchmarks run with fsync on; the test suite does not need it
        self.bindir = _bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mssante-pg-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root / "sock"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> None:
        if self._as_postgres:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root but there is no `postgres` system user") from None
            self.sockdir.mkdir(parents=True)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(self.sockdir, entry.pw_uid, entry.pw_gid)
        else:
            self.sockdir.mkdir(parents=True)
        result = self._run(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {result.stderr.strip()[-500:]}")
        options = f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        result = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options, "-l",
            str(self.root / "server.log"), "-w", "-t", "60", "start",
        )
        if result.returncode != 0:
            log_file = self.root / "server.log"
            log = log_file.read_text(errors="replace")[-800:] if log_file.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr.strip()[-400:]} {log}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise PostgresUnavailable("PostgreSQL did not accept connections within 30 s")

    def url(self, database: str, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            capture_output=True, text=True, check=False, timeout=60,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
