"""Small generated extractions and edits of them (a later extraction) for the directory tests."""

from __future__ import annotations

from pathlib import Path

from directory.generator import Generated, generate


def small(tmp_path: Path, *, persons: int = 40, seed: int = 7, generation: int = 56, encoding: str = "utf-8",
          stamp: str = "202611010000") -> Generated:
    return generate(tmp_path / f"gen-{seed}-{generation}-{encoding}-{stamp}", persons=persons, seed=seed,
                    generation=generation, encoding=encoding, stamp=stamp)


def read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    return path.read_text(encoding=encoding).splitlines()


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding=encoding)
    return path


def field(line: str, index: int) -> str:
    return line.split("|")[index]


def with_field(line: str, index: int, value: str) -> str:
    fields = line.split("|")
    fields[index] = value
    return "|".join(fields)
