"""A/B timing of the directory import: this tree against another revision, runs alternated (issue 5).

    .venv/bin/python bench/directory_ab.py --baseline REV [--rounds 3] [--engines sqlite,postgresql]
                                           [--files DIR] [--lines 2000000] [--workdir DIR] [--keep]

The benchmark machine's speed drifts (1.3-2 times within one evening, 2026-12-06): an import timed now says
little against one timed an hour ago. This script checks ``REV`` out into a git worktree under the work
directory and runs ``bench/directory.py`` (imports only: one search) in that tree and in this one, one after
the other, ``--rounds`` times, on the same extractions (``--files``, else generated once with this tree's
generator). It prints each run's activity-import time with its parsing and commit steps (when the revision's
bench has ``--steps``), then per engine the medians and this tree's median over the baseline's: below 1 is
faster. Each tree's code runs in its own processes (the bench puts its tree first on the module path, and the
import's helper processes get it on theirs).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory.generator import LINES_PER_PERSON, generate  # noqa: E402

IMPORTED = re.compile(r"import activity:\s+[\d,]+ lines in\s+([\d.]+) s")
STEP = re.compile(r"step\s+([\d.]+) s\s+(?:ends at\s+[\d.]+ s\s+)?(.+)")  # with its end since 9f9d1fe


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def checkout(revision: str, where: Path) -> Path:
    """A worktree of ``revision`` at ``where`` (replaced if it holds another commit)."""
    commit = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    if where.exists():
        if (where / ".git").exists() and _git("-C", str(where), "rev-parse", "HEAD") == commit:
            return where
        _git("worktree", "remove", "--force", str(where))
    _git("worktree", "add", "--detach", str(where), commit)
    return where


def run(tree: Path, engine: str, files: Path, workdir: Path) -> dict[str, float]:
    """One import of both files on ``engine`` with ``tree``'s code: the activity import's seconds, and its
    parsing and commit steps when that bench reports steps."""
    command = [sys.executable, str(tree / "bench" / "directory.py"), "--files", str(files), "--engines", engine,
               "--workdir", str(workdir), "--searches", "1", "--baseline-searches", "1"]
    if '"--steps"' in (tree / "bench" / "directory.py").read_text(encoding="utf-8"):
        command.append("--steps")
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    found = IMPORTED.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the bench of {tree} failed (exit code {done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = {"import": float(found.group(1))}
    for seconds, name in STEP.findall(done.stdout[: found.start()]):  # the activity import's steps come first,
        step = {"parsing and staging": "parsing", "COMMIT": "commit"}.get(name.strip())  # then the mailbox one's
        if step is not None and step not in figures:
            figures[step] = float(seconds)
    return figures


def _shown(figures: dict[str, float]) -> str:
    parts = [f"{figures['import']:6.1f} s"]
    parts += [f"{name} {figures[name]:5.1f} s" for name in ("parsing", "commit") if name in figures]
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="the revision to compare with (commit, tag, branch)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tree, alternated")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--files", type=Path, default=None, help="extractions already generated (else generated)")
    parser.add_argument("--lines", type=int, default=2_000_000, help="activity lines to generate without --files")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the baseline's worktree")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-directory-ab-"))
    workdir.mkdir(parents=True, exist_ok=True)
    baseline = checkout(args.baseline, workdir / "baseline")
    files = args.files
    if files is None:
        started = time.perf_counter()
        generated = generate(workdir / "files", persons=int(args.lines / LINES_PER_PERSON * 1.1) + 10, seed=1,
                             max_lines=args.lines)
        files = generated.activity_path.parent
        print(f"generated {generated.activity_lines:,} activity lines in {time.perf_counter() - started:.0f} s")
    trees = {"baseline": baseline, "this tree": ROOT}
    print(f"baseline {args.baseline} ({_git('rev-parse', '--short', args.baseline)}) against this tree, "
          f"{args.rounds} rounds alternated, extractions in {files}")
    try:
        for engine in [name.strip() for name in args.engines.split(",") if name.strip()]:
            results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for round_no in range(1, args.rounds + 1):
                for name, tree in trees.items():
                    figures = run(tree, engine, files, workdir / "run")
                    results[name].append(figures)
                    print(f"{engine} round {round_no} {name:9}: {_shown(figures)}", flush=True)
            medians = {name: statistics.median(f["import"] for f in runs) for name, runs in results.items()}
            print(f"{engine}: median baseline {medians['baseline']:.1f} s, this tree {medians['this tree']:.1f} s, "
                  f"ratio this/baseline {medians['this tree'] / medians['baseline']:.3f}")
    finally:
        shutil.rmtree(workdir / "run", ignore_errors=True)
        if not args.keep:
            _git("worktree", "remove", "--force", str(baseline))


if __name__ == "__main__":
    main()
