"""Directory benchmark: national-scale import and search, on SQLite and PostgreSQL (issue 5).

    .venv/bin/python bench/directory.py [--lines 2000000] [--searches 1000] [--baseline-searches 100]
                                        [--engines sqlite,postgresql] [--postgres-url URL] [--seed 1]
                                        [--files DIR] [--workdir DIR] [--steps]

Generates an activity extraction of ``--lines`` lines (and its mailbox extraction) with the project's
generator, then for each engine: imports both files into a fresh, migrated database in a child process
(lines/s; the peak RSS of the whole import, that process and its helper processes together, sampled every
0.1 s, and each one's own peak), runs ``--searches`` realistic
searches through the search service (a fifth each: family name, name + city, profession + postal code,
idNat/RPPS lookup, given name + family prefix) and prints p50/p99 latency. The first ``--baseline-searches``
of them are also run as a naive ``LIKE '%…%'`` scan over the same tables, in the same run, and the ratio of
the medians is printed. ``--steps`` prints where each import's time goes (``import_file(steps=…)``: the
parsing and staging, each merge statement of 0.2 s or more, the postings load, the commit).
Without ``--postgres-url`` a throwaway PostgreSQL server is started (``tests/pg.py``).
Targets (issue 5): import >= 50,000 lines/s, peak memory < 500 MiB, search p99 <= 20 ms on both engines.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from directory import checkpoint, pagecache
from directory.generator import LINES_PER_PERSON, generate
from directory.importer import import_file
from directory.parallel import PROCESSES
from directory.search import search
from directory.search_query import SearchQuery
from directory.text import fold, words
from storage.engine import Database
from storage.migrate import upgrade
from tests.pg import PostgresServer

_IMPORT_STARTED = [0.0]  # when the import being timed began (time.perf_counter)


def _print_step(name: str, seconds: float) -> None:
    """``--steps``: each step of the imports that took 0.2 s or more, as it ends (and when, since its import
    began: the steps of the second connection and of the postings' child overlap the others)."""
    if seconds >= 0.2:
        ended = time.perf_counter() - _IMPORT_STARTED[0]
        print(f"    step {seconds:6.2f} s  ends at {ended:6.2f} s  {name}", flush=True)


def _import_child(url: str, paths: list[str], queue: Any, steps: bool = False) -> None:
    """Runs in a fresh process so that its peak RSS is the import's own. Its helper processes' peak is
    getrusage's (each started by this small process: their figure carries at most its RSS at that moment)."""

    async def run() -> list[tuple[str, int, float]]:
        database = Database(url)
        try:
            results = []
            for path in paths:
                started = _IMPORT_STARTED[0] = time.perf_counter()
                report = await import_file(database, Path(path), steps=_print_step if steps else None)
                results.append((report.kind.value, report.read, time.perf_counter() - started))
                if report.checkpoint is not None:  # SQLite: the log copied into the file after the commit
                    print(f"  {report.kind.value}: its log is copied into the database file after the commit, in "
                          "the background (directory.checkpoint)", flush=True)
            for done in await asyncio.to_thread(checkpoint.wait):
                print(f"  background checkpoint: {done.copied:,} log frames copied in {done.seconds:.1f} s"
                      + (f" (failed: {done.error})" if done.error else ""), flush=True)
            return results
        finally:
            await database.dispose()

    results = asyncio.run(run())
    # VmHWM, not getrusage's ru_maxrss: Linux carries a forked process's starting RSS (its parent's) across
    # exec into ru_maxrss, so a child spawned by a bench that had searched a memory-mapped SQLite file
    # reported that file's pages (1.5 GiB) as the import's. VmHWM is this process's own address space.
    with open("/proc/self/status") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    queue.put((results, own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))


def tree_rss_mib(root: int) -> float:
    """The resident memory of ``root`` and all its descendants right now (``/proc``), in MiB."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, added = {root}, True
    while added:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        added = bool(more)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total / (1024 * 1024)


def timed_import(url: str, paths: list[Path], steps: bool = False,
                 ) -> tuple[list[tuple[str, int, float]], float, float, float]:
    """The import in a child process: its results, the child's peak RSS, its largest helper process's (parsing,
    aggregation, postings), and the peak of the whole import (the child and its helpers together),
    sampled every 0.1 s."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_import_child, args=(url, [str(path) for path in paths], queue, steps))
    child.start()
    assert child.pid is not None
    whole = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal whole
        while not stop.wait(0.1):
            whole = max(whole, tree_rss_mib(child.pid or 0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        results, peak, parsing = queue.get()
    finally:
        stop.set()
        sampler.join()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"the import failed in the child process (exit {child.exitcode})")
    return results, peak, parsing, whole


async def build_queries(database: Database, count: int, seed: int) -> list[tuple[str, SearchQuery]]:
    """Realistic searches drawn from the imported data itself."""
    rng = random.Random(seed)
    async with database.read() as session:
        top = (await session.execute(text("SELECT max(id) FROM directory_persons"))).scalar_one()
        ids = rng.sample(range(1, top + 1), min(top, count))
        rows = (await session.execute(text(
            "SELECT p.id_nat, p.id_pp, p.family, p.given, p.profession_code, a.city, a.postal_code "
            "FROM directory_persons p JOIN directory_activities a ON a.id_nat = p.id_nat "
            f"WHERE p.id IN ({', '.join(str(i) for i in ids)})"
        ))).all()
    people: dict[str, Any] = {row[0]: row for row in rows}
    sample = list(people.values())
    rng.shuffle(sample)
    queries: list[tuple[str, SearchQuery]] = []
    kinds = ("name", "name+city", "profession+postal code", "id lookup", "given+prefix")
    for index in range(count):
        id_nat, id_pp, family, given, profession, city, postal = sample[index % len(sample)]
        kind = kinds[index % len(kinds)]
        if kind == "name":
            query = SearchQuery(q=family)
        elif kind == "name+city":
            query = SearchQuery(q=f"{family} {city}")
        elif kind == "profession+postal code":
            query = SearchQuery(profession=profession, postal_code=postal)
        elif kind == "id lookup":
            query = SearchQuery(q=id_nat if index % 2 else id_pp)
        else:
            query = SearchQuery(q=f"{given} {fold(family)[:4]}")
        queries.append((kind, query))
    return queries


def naive_sql(query: SearchQuery) -> tuple[str, dict[str, str]]:
    """The same search as a naive substring scan (what one writes without a full-text index)."""
    if query.profession:
        return (
            "SELECT p.id FROM directory_persons p WHERE p.active AND p.profession_code = :p AND EXISTS "
            "(SELECT 1 FROM directory_activities a WHERE a.id_nat = p.id_nat AND a.postal_code LIKE :c) "
            "ORDER BY p.sort_key LIMIT 20",
            {"p": query.profession, "c": f"%{query.postal_code}%"},
        )
    terms = words(query.q)
    if query.q.isdigit() or (query.q[:1] == "0" and len(query.q) == 10):
        return ("SELECT id FROM directory_persons WHERE id_nat LIKE :t OR id_pp LIKE :t LIMIT 20",
                {"t": f"%{query.q}%"})
    where = " AND ".join(f"doc LIKE :w{index}" for index in range(len(terms)))
    return (f"SELECT id FROM directory_persons WHERE active AND {where} ORDER BY sort_key LIMIT 20",
            {f"w{index}": f"%{term}%" for index, term in enumerate(terms)})


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_searches(database: Database, queries: list[tuple[str, SearchQuery]], baseline: int
                       ) -> dict[str, Any]:
    for _, query in queries[:20]:  # warm the caches and the connection pool
        async with database.read() as session:
            await search(session, query)
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    found = 0
    for kind, query in queries:
        started = time.perf_counter()
        async with database.read() as session:
            page = await search(session, query)
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        by_kind.setdefault(kind, []).append(elapsed)
        found += bool(page.items)
    naive: list[float] = []
    indexed: list[float] = latencies[:baseline]
    for _, query in queries[:baseline]:
        sql, params = naive_sql(query)
        started = time.perf_counter()
        async with database.read() as session:
            (await session.execute(text(sql), params)).all()
        naive.append((time.perf_counter() - started) * 1000)
    return {
        "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99), "max": max(latencies),
        "found": found / len(queries),
        "kinds": {kind: (percentile(values, 0.5), percentile(values, 0.99)) for kind, values in by_kind.items()},
        "naive_p50": percentile(naive, 0.5) if naive else 0.0, "naive_p99": percentile(naive, 0.99) if naive else 0.0,
        "ratio": (statistics.median(naive) / statistics.median(indexed)) if naive else 0.0,
    }


async def prepare(url: str) -> None:
    database = Database(url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


async def measure_searches(url: str, count: int, baseline: int, seed: int) -> dict[str, Any]:
    database = Database(url)
    try:
        queries = await build_queries(database, count, seed)
        return await run_searches(database, queries, baseline)
    finally:
        await database.dispose()


def memory_in_use() -> str:
    """The machine's memory in use and its page cache, from /proc/meminfo: on the benchmark machine every GiB
    touched past a threshold (7 GiB in use one night, 4 GiB the next) costs 10-12 s (docs/directory.md, "Late
    night of 2026-12-06" and "Night of 2026-12-07"), so a run that starts with a full page cache is not
    comparable with one that starts with an empty one."""
    try:
        with open("/proc/meminfo") as meminfo:
            info = {line.split(":")[0]: int(line.split()[1]) for line in meminfo}
    except OSError:
        return "memory in use: unknown (no /proc/meminfo)"
    used = (info["MemTotal"] - info["MemFree"]) / 2**20
    return f"memory in use before the run: {used:.1f} GiB, of which page cache {info.get('Cached', 0) / 2**20:.1f} GiB"


def bench_engine(name: str, url: str, paths: list[Path], args: argparse.Namespace) -> None:
    print(f"\n== {name}")
    print(memory_in_use())
    if not args.search_only:
        asyncio.run(prepare(url))
        results, peak, parsing, whole = timed_import(url, paths, args.steps)
        for kind, read, seconds in results:
            print(f"import {kind:8}: {read:>10,} lines in {seconds:7.1f} s = {read / seconds:>9,.0f} lines/s")
        print(f"import peak memory: {whole:,.0f} MiB for the whole import (its process and its helper processes "
              f"together, sampled every 0.1 s; target < 500 MiB); peaks apart: the import process {peak:,.0f} MiB, "
              f"its largest helper at most {parsing:,.0f} MiB (the {PROCESSES} parsing processes, then the "
              "aggregation or postings process)")
    figures = asyncio.run(measure_searches(url, args.searches, args.baseline_searches, args.seed))
    print(f"search ({args.searches}, {figures['found']:.0%} with results): p50 {figures['p50']:.2f} ms, "
          f"p99 {figures['p99']:.2f} ms, max {figures['max']:.1f} ms")
    for kind, (p50, p99) in figures["kinds"].items():
        print(f"  {kind:24} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    if args.baseline_searches:
        print(f"naive LIKE '%…%' baseline ({args.baseline_searches} of the same searches): "
              f"p50 {figures['naive_p50']:.1f} ms, p99 {figures['naive_p99']:.1f} ms; "
              f"median ratio naive/indexed = {figures['ratio']:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_000_000, help="activity lines to generate and import")
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--baseline-searches", type=int, default=100,
                        help="how many of the searches also run as a naive LIKE scan (each scans every row)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=None, help="an empty PostgreSQL database (else one is started)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--steps", action="store_true",
                        help="print each step of the imports that took 0.2 s or more (parsing, statements, commit)")
    parser.add_argument("--search-only", action="store_true",
                        help="skip the import: search the database a previous run left in --workdir (SQLite) or "
                        "at --postgres-url")
    parser.add_argument("--files", type=Path, default=None,
                        help="use the extractions already generated in this directory instead of generating")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-directory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.search_only:
        paths = []
    elif args.files is not None:
        paths = [next(args.files.glob("PS_LibreAcces_Personne_activite_*.txt")),
                 next(args.files.glob("Extraction_Correspondance_MSSante_*.txt"))]
        print(f"using the extractions in {args.files}")
    else:
        generated = generate(workdir / "files", persons=int(args.lines / LINES_PER_PERSON * 1.1) + 10,
                             seed=args.seed, max_lines=args.lines)
        print(f"generated {generated.activity_lines:,} activity lines ({generated.persons:,} persons) and "
              f"{generated.mailbox_lines:,} mailboxes in {time.perf_counter() - started:.0f} s under {workdir}")
        paths = [generated.activity_path, generated.mailbox_path]
    engines = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    if "sqlite" in engines:
        database_file = workdir / "bench.db"
        for leftover in (database_file, workdir / "bench.db-wal", workdir / "bench.db-shm"):
            if not args.search_only:
                leftover.unlink(missing_ok=True)
        bench_engine("SQLite", f"sqlite+aiosqlite:///{database_file}", paths, args)
        # the next engine starts with the page cache the SQLite run found (the file stays, for --search-only)
        pagecache.release(database_file, workdir / "bench.db-wal")
    if "postgresql" in engines:
        if args.postgres_url:
            bench_engine("PostgreSQL", args.postgres_url, paths, args)
        elif args.search_only:
            parser.error("--search-only on PostgreSQL needs --postgres-url")
        else:
            server = PostgresServer(durable=True)  # fsync, full-page writes and synchronous commits on, as in
            # production (until 2026-12-07 this bench ran PostgreSQL without them: see docs/directory.md)
            server.start()
            try:
                server.psql("CREATE DATABASE bench_directory")
                bench_engine("PostgreSQL", server.url("bench_directory"), paths, args)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
