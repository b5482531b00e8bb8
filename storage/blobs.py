"""Content-addressed, immutable blob store on the local file system.

A blob is named by the SHA-256 of its bytes and lives at ``<root>/<aa>/<full hex>``: one level of 256
directories, so that after warm-up storing a blob fsyncs one existing directory instead of
creating two. Writing follows the
durability rule of the design: write to a temporary file in the same directory, ``fsync`` it, ``rename`` it into
place, then ``fsync`` the directory, all before the database row that refers to the blob commits. Storing the
same bytes twice is free: the second write finds the blob in place.

The store is synchronous on purpose; async callers run it in a worker thread so the event loop never waits on
the disk.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from storage.errors import BlobCorrupted, BlobNotFound

_HEX = frozenset("0123456789abcdef")


def blob_name(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> str:
    if len(name) != 64 or not set(name) <= _HEX:
        raise BlobNotFound(f"not a blob name: {name[:80]!r}")
    return name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        _check_name(name)
        return self.root / name[:2] / name

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its name."""
        return self.put_many([data])[0]

    def put_many(self, items: Iterable[bytes]) -> list[str]:
        """Store several blobs durably, with one directory ``fsync`` per touched directory."""
        names: list[str] = []
        dirty_dirs: set[Path] = set()
        for data in items:
            name = blob_name(data)
            names.append(name)
            final = self.path(name)
            if final.is_file():
                continue
            parent = final.parent
            if not parent.is_dir():
                parent.mkdir(parents=True, exist_ok=True)
                dirty_dirs.add(parent.parent)
            tmp = parent / f".tmp-{name[:16]}-{secrets.token_hex(8)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            dirty_dirs.add(parent)
        # Parents before children does not matter for correctness; each directory entry is made durable.
        for directory in sorted(dirty_dirs, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(directory)
        return names

    def get(self, name: str, *, verify: bool = False) -> bytes:
        try:
            data = self.path(name).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"blob {name} is not in the store") from None
        if verify and blob_name(data) != name:
            raise BlobCorrupted(f"blob {name} does not match its hash")
        return data

    def read_range(self, name: str, start: int, length: int) -> bytes:
        try:
            with self.path(name).open("rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except FileNotFoundError:
            raise BlobNotFound(f"blob {name} is not in the store") from None

    def remove_temporaries(self) -> int:
        """Remove temporary files that a crash left behind; returns how many were removed."""
        removed = 0
        for tmp in self.root.glob("*/.tmp-*"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed
