"""Helper processes of an import (``python -m directory.<module>``): started, waited for, stopped.

A fresh interpreter each (nothing of the import process's threads or connections inherited, no re-import of the
caller's main module as ``multiprocessing`` would do); the project's root is put on its ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

from directory import malloc
from directory.errors import ImportFailed

ROOT = str(Path(__file__).resolve().parent.parent)  # where ``directory`` is


def environment() -> dict[str, str]:
    """The import process's environment with the project on ``PYTHONPATH`` (and glibc's malloc threshold fixed,
    polars' allocator in one arena, :mod:`directory.malloc`, unless the environment says otherwise)."""
    return {**malloc.ENVIRONMENT, **os.environ,
            malloc.JEMALLOC_VARIABLE: malloc.jemalloc(os.environ.get(malloc.JEMALLOC_VARIABLE)),
            "PYTHONPATH": os.pathsep.join([ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])}


async def spawn(module: str, *args: str) -> asyncio.subprocess.Process:
    """``python -m module args...``, its standard error kept for :func:`finished`."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args,
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=environment(),
    )


async def finished(process: asyncio.subprocess.Process, what: str) -> None:
    """Wait for ``process``; :class:`ImportFailed` ("``what`` failed (reason)") if it did not succeed."""
    assert process.stderr is not None
    error = (await process.stderr.read()).decode(errors="replace").strip()
    code = await process.wait()
    if code != 0:  # the exception's own line, else the exit code (killed: out of memory?)
        reason = error.splitlines()[-1][:500] if error else f"exit code {code}"
        raise ImportFailed(f"{what} failed ({reason}); nothing was imported")


async def stop(process: asyncio.subprocess.Process) -> None:
    """Kill ``process`` if it still runs (a failed import, or its work is not needed) and wait for it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
