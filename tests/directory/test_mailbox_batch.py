"""The columnar fast path for mailbox lines gives exactly what the line-by-line reference parser gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.extraction import MailboxEntry, Rejected, parse_header, parse_line
from directory.generator import MAILBOX_HEADER
from directory.mailbox_batch import MailboxBatches
from directory.staging import mailbox_row
from tests.directory.helpers import small

Rows = tuple[list[tuple[Any, ...]], list[tuple[int, str, str]], int]


def reference(lines: list[bytes], encoding: str) -> Rows:
    header = parse_header(lines[0], encoding)
    rows: list[tuple[Any, ...]] = []
    rejects: list[tuple[int, str, str]] = []
    read = 0
    for line_no, raw in enumerate(lines[1:], start=2):
        if not raw.strip(b"\r\n"):
            continue
        read += 1
        record = parse_line(header, line_no, raw, encoding)
        if isinstance(record, Rejected):
            rejects.append((record.line_no, record.reason, record.raw))
        else:
            assert isinstance(record, MailboxEntry)
            rows.append(mailbox_row(record))
    return rows, rejects, read


def fast(lines: list[bytes], encoding: str, size: int) -> tuple[Rows, int]:
    """The fast path's rows, rejects and count, and how many lines it handed to the reference parser."""
    batches = MailboxBatches(parse_header(lines[0], encoding), encoding)
    rows: list[tuple[Any, ...]] = []
    rejects: list[tuple[int, str, str]] = []
    read = 0
    body = lines[1:]
    for start in range(0, len(body), size):
        found, rejected, count = batches.parse(start + 2, body[start:start + size])
        rows += found
        rejects += [(record.line_no, record.reason, record.raw) for record in rejected]
        read += count
    matched = sum(1 for raw in body if batches.pattern.fullmatch(raw.decode("utf-8", "replace").rstrip("\r\n")))
    return (rows, rejects, read), len([raw for raw in body if raw.strip(b"\r\n")]) - matched


@pytest.mark.parametrize(("generation", "encoding"), [(52, "latin-1"), (56, "utf-8")])
def test_generated_files_give_the_reference_rows(tmp_path: Path, generation: int, encoding: str) -> None:
    lines = small(tmp_path, persons=400, seed=21, generation=generation,
                  encoding=encoding).mailbox_path.read_bytes().splitlines(keepends=True)
    expected = reference(lines, encoding)
    assert len(expected[0]) > 100 and not expected[1]
    for size in (1, 3, 100, 10_000):
        got, slow = fast(lines, encoding, size)
        assert got == expected, size
    assert slow == 0  # generated lines all take the fast path


def test_odd_lines_give_the_reference_rows_and_rejects(tmp_path: Path) -> None:
    header, *body = small(tmp_path, persons=60, seed=4).mailbox_path.read_bytes().splitlines(keepends=True)
    person = next(line for line in body if line.startswith(b"PER|")).decode().rstrip("\n").split("|")
    org = next(line for line in body if line.startswith(b"ORG|")).decode().rstrip("\n").split("|")
    kind, address, id_nat, structure, flag, family, line_3 = 0, 1, 4, 6, 17, 9, 22

    def edited(base: list[str], **changes: str) -> bytes:
        values = list(base)
        for name, value in changes.items():
            values[{"kind": kind, "address": address, "id_nat": id_nat, "structure": structure, "flag": flag,
                    "family": family, "line_3": line_3}[name]] = value
        return "|".join(values).encode() + b"\n"

    odd = [
        b"\n", b"\r\n",
        edited(person, kind="per"), edited(person, kind="XYZ"), edited(person, kind=" PER "),
        edited(person, address="Jean.Martin@Medecin.MSSANTE.fr"), edited(person, address="no-at-sign"),
        edited(person, address="a..b@x.fr"), edited(person, address="x@localhost"),
        edited(person, address="x@y.fr."), edited(person, address="a" * 65 + "@x.fr"),
        edited(person, address=" padded@x.fr "), edited(person, address="o'neil+tag@x.fr"),
        edited(person, id_nat=""), edited(person, id_nat="12345"), edited(person, id_nat=" 810000000001 "),
        edited(org, id_nat="", structure=""), edited(org, id_nat="810000000001", structure=""),
        edited(org, id_nat="bogus"), edited(person, flag=" True "), edited(person, flag="OUI"),
        edited(person, flag="non"), edited(person, family="X" * 201), edited(person, family=" Padded "),
        edited(person, line_3="Y" * 101), edited(person, line_3="Y" * 1001),
        "|".join(person[:-1]).encode() + b"\n",  # no trailing "|"
        b"a|b|c|\n", edited(person, family="Hélène").decode().encode("latin-1"), b"Z" * 20_000 + b"\n",
        edited(person, id_nat="8" + "\u0663" * 11), edited(person) + b"\r",
    ]
    lines = [header, *body[:5], *odd[:12], *body[5:9], *odd[12:], *body[9:]]
    expected = reference(lines, "utf-8")
    assert len(expected[1]) >= 12  # rejects with their reasons, in line order
    for size in (1, 4, 1000):
        assert fast(lines, "utf-8", size)[0] == expected, size


_VALUE = st.one_of(
    st.sampled_from(["", " ", "PER", "ORG", "CAB", "per", "a@b.fr", "A@B.FR", "x.y@h-1.mssante.fr", "810000000001",
                     "0691234567", "8123", "1234567890", "True", "false", " x ", "é", "\u00a0", "MARTIN", "a@b"]),
    st.text(alphabet=st.characters(blacklist_characters="|\n\r", max_codepoint=0xD7FF), max_size=12),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_VALUE, min_size=29, max_size=33), min_size=1, max_size=12),
       st.integers(min_value=1, max_value=5), st.booleans())
def test_fuzzed_lines_give_the_reference_rows(rows: list[list[str]], size: int, trailing: bool) -> None:
    lines = [("|".join(MAILBOX_HEADER) + "|\n").encode()]
    for index, drawn in enumerate(rows):
        values = list(drawn)
        if index % 5 != 4:  # most lines have the right field count
            values = (values + [""] * len(MAILBOX_HEADER))[:len(MAILBOX_HEADER)]
        if index % 3 == 0:
            values[:2] = ["PER", f"user{index}@h.mssante.fr"]
        lines.append(("|".join(values) + ("|" if trailing or index % 4 else "") + "\n").encode())
    assert fast(lines, "utf-8", size)[0] == reference(lines, "utf-8")
