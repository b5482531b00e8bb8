"""Opening an extraction as a bounded stream of lines: plain ``.txt`` or zipped, any size, constant memory.

The national files are published zipped; we read the member in place instead of unpacking it to disk.
Every I/O or decompression failure becomes :class:`~directory.errors.ExtractionError` so that the import
rolls back with a clear sentence.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol, cast

from directory.errors import ExtractionError
from directory.extraction import MAX_LINE

_STAMP = re.compile(r"_(\d{4})(\d{2})(\d{2})(\d{4})?(?:\.\w+)?$")
SAMPLE = 1024 * 1024  # bytes read ahead to guess the encoding


@dataclass(frozen=True, slots=True)
class Source:
    path: Path
    name: str  # the text file's own name (the zip member for a zip)
    size: int  # uncompressed bytes, for the progress bar
    zipped: bool = False


def extraction_date(name: str) -> date | None:
    """The date in ``..._YYYYMMDDhhmm.txt``, the national naming scheme, or None."""
    match = _STAMP.search(name)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    members = [info for info in archive.infolist() if not info.is_dir()]
    texts = [info for info in members if info.filename.lower().endswith((".txt", ".csv"))] or members
    if not texts:
        raise ExtractionError("the zip file holds no file")
    return max(texts, key=lambda info: info.file_size)


def describe(path: Path) -> Source:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                info = _member(archive)
                return Source(path, Path(info.filename).name, info.file_size, zipped=True)
        return Source(path, path.name, path.stat().st_size)
    except (OSError, zipfile.BadZipFile) as error:
        raise ExtractionError(f"cannot read {path}: {error}") from error


_READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError)


class _Reading:
    """The extraction's stream, whose read errors are :class:`ExtractionError` ("cannot read <file>"); errors of
    whatever the import does meanwhile (its rejects file, its staging) keep their own type."""

    def __init__(self, stream: io.BufferedReader | zipfile.ZipExtFile, path: Path) -> None:
        self.stream, self.path = stream, path

    def _read(self, method: Callable[[int], bytes], size: int) -> bytes:
        try:
            return method(size)
        except _READ_ERRORS as error:
            raise ExtractionError(f"cannot read {self.path}: {error}") from error

    def readline(self, size: int = -1) -> bytes:
        return self._read(self.stream.readline, size)

    def read(self, size: int = -1) -> bytes:
        return self._read(self.stream.read, size)

    def peek(self, size: int = 0) -> bytes:
        return self._read(self.stream.peek, size)


@contextlib.contextmanager
def open_stream(source: Source) -> Iterator[_Reading]:
    """The extraction's bytes (the zip's member) as a binary stream: ``readline``, ``read``, ``peek``."""
    with contextlib.ExitStack() as opened:
        try:
            if zipfile.is_zipfile(source.path):
                archive = opened.enter_context(zipfile.ZipFile(source.path))
                member = cast(zipfile.ZipExtFile, archive.open(_member(archive)))  # what it opens for reading
                stream: io.BufferedReader | zipfile.ZipExtFile = opened.enter_context(member)
            else:
                stream = opened.enter_context(source.path.open("rb"))
        except _READ_ERRORS as error:
            raise ExtractionError(f"cannot read {source.path}: {error}") from error
        yield _Reading(stream, source.path)


class Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def bounded_lines(stream: Lines, limit: int | None = None) -> Iterator[bytes]:
    """Lines of at most ``MAX_LINE + 1`` bytes: a longer line is cut (and later rejected), the rest skipped.
    With ``limit``, the lines that start within the next ``limit`` bytes (a part ends at a line boundary)."""
    consumed = 0
    while limit is None or consumed < limit:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        consumed += len(line)
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            rest = line
            while rest and not rest.endswith(b"\n"):
                rest = stream.readline(MAX_LINE + 1)
                consumed += len(rest)
        yield line
