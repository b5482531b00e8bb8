"""glibc's malloc threshold fixed in the import's processes (``directory.malloc``): a freed batch of several MiB
is given back to the system instead of staying in the heap; polars' own allocator keeps one arena in the helper
processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from directory import child, malloc

# allocate and free a 16 MiB block twice (the first one raises glibc's default threshold past that size, the
# second then comes from the heap), print how much more the process holds than before
_SCRIPT = """
import sys
from directory import malloc
if sys.argv[1] == "fix":
    assert malloc.fix_threshold()
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
before = resident()
for _ in range(2):
    block = b"\x01" * (16 << 20)  # written: calloc of fresh memory would leave it untouched
    del block
print(resident() - before)
"""


def _held(how: str, environment: dict[str, str]) -> int:
    result = subprocess.run([sys.executable, "-c", _SCRIPT, how], capture_output=True, text=True, check=True,
                            env=environment, timeout=60)
    return int(result.stdout)


def test_a_freed_large_block_stays_in_the_heap_by_default() -> None:
    """What the fix is for (and proof that this C library is glibc: the tests below would pass without it)."""
    plain = {name: value for name, value in child.environment().items() if not name.startswith("MALLOC_")}
    assert _held("plain", plain) >= 12 << 20


def test_the_import_process_gives_a_freed_large_block_back() -> None:
    plain = {name: value for name, value in child.environment().items() if not name.startswith("MALLOC_")}
    assert _held("fix", plain) < 4 << 20


def test_a_helper_process_gives_a_freed_large_block_back() -> None:
    assert _held("plain", child.environment()) < 4 << 20


def test_the_environment_keeps_a_threshold_set_by_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert child.environment()["MALLOC_MMAP_THRESHOLD_"] == "65536"


def _jemalloc_options(environment: dict[str, str]) -> str:
    """What polars' allocator says its options are in a process of this environment (its statistics, printed
    at exit)."""
    script = "import polars; polars.Series([1, 2]).sum()"
    settings = ",".join(filter(None, [environment.get(malloc.JEMALLOC_VARIABLE), "stats_print:true"]))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**environment, malloc.JEMALLOC_VARIABLE: settings}, timeout=60)
    assert "opt.narenas: " in result.stderr  # the statistics were printed (the settings were read)
    return result.stderr


@pytest.mark.parametrize("inherited", [None, "dirty_decay_ms:500,muzzy_decay_ms:1000"])
def test_polars_allocator_keeps_one_arena_in_a_helper_process(monkeypatch: pytest.MonkeyPatch,
                                                              inherited: str | None) -> None:
    """Whether or not the import process has the variable already (polars sets it with its defaults when it is
    loaded there)."""
    if inherited is None:
        monkeypatch.delenv("_RJEM_MALLOC_CONF", raising=False)
    else:
        monkeypatch.setenv("_RJEM_MALLOC_CONF", inherited)
    assert "opt.narenas: 1\n" in _jemalloc_options(child.environment())
    plain = {name: value for name, value in child.environment().items() if name != "_RJEM_MALLOC_CONF"}
    assert "opt.narenas: 1\n" not in _jemalloc_options(plain)  # not jemalloc's default


def test_the_environment_keeps_polars_allocator_settings_of_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_RJEM_MALLOC_CONF", "narenas:3")
    assert "opt.narenas: 3\n" in _jemalloc_options(child.environment())
