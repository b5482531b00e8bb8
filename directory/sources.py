"""Opening an extraction as a bounded stream of lines: plain ``.txt`` or zipped, any size, constant memory.

The national files are published zipped; we read the member in place instead of unpacking it to disk.
Every I/O or decompression failure becomes :class:`~directory.errors.ExtractionError` so that the import
rolls back with a clear sentence.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

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


@contextlib.contextmanager
def open_stream(source: Source) -> Iterator[IO[bytes]]:
    try:
        if zipfile.is_zipfile(source.path):
            with zipfile.ZipFile(source.path) as archive, archive.open(_member(archive)) as stream:
                yield stream
        else:
            with source.path.open("rb") as stream:
                yield stream
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ExtractionError(f"cannot read {source.path}: {error}") from error


def bounded_lines(stream: IO[bytes], limit: int | None = None) -> Iterator[bytes]:
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
