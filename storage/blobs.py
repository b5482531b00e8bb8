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

import ctypes
import ctypes.util
import hashlib
import os
import secrets
import sys
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


_libc: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        _libc = None


def _syncfs(path: Path) -> bool:
    """``syncfs(2)`` on the file system holding ``path``; False when the system has no such call."""
    if _libc is None or not hasattr(_libc, "syncfs"):
        return False
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs failed: {os.strerror(error)}")
    finally:
        os.close(fd)
    return True


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
            name, created = self._write(data, sync=True)
            names.append(name)
            dirty_dirs.update(created)
        for directory in dirty_dirs:
            _fsync_dir(directory)
        return names

    def write_unsynced(self, data: bytes) -> str:
        """Write ``data`` without waiting for the disk; :meth:`barrier` must run before anything refers to it.

        Group commit uses this: many writers, then one barrier for the whole batch.
        """
        return self._write(data, sync=False)[0]

    def barrier(self, names: Iterable[str]) -> None:
        """Make the named blobs (written with :meth:`write_unsynced`) durable, data and directory entries.

        On Linux one ``syncfs`` of the store's file system does it for any number of blobs; elsewhere each file
        and its directory are fsync'ed.
        """
        if _syncfs(self.root):
            return
        directories: set[Path] = set()
        for name in names:
            path = self.path(name)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            directories.add(path.parent)
            directories.add(path.parent.parent)
        for directory in directories:
            _fsync_dir(directory)

    def _write(self, data: bytes, *, sync: bool) -> tuple[str, set[Path]]:
        """Write one blob (temporary file, optional fsync, rename); return its name and the directories to sync."""
        name = blob_name(data)
        final = self.path(name)
        try:
            # An existing blob of the right size is reused. A wrong size can only be debris of a power loss
            # that hit a blob no committed row refers to: it is written again.
            if final.stat().st_size == len(data):
                return name, set()
        except FileNotFoundError:
            pass
        parent = final.parent
        dirty: set[Path] = {parent}
        if not parent.is_dir():
            parent.mkdir(parents=True, exist_ok=True)
            dirty.add(parent.parent)
        tmp = parent / f".tmp-{name[:16]}-{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        return name, dirty

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
