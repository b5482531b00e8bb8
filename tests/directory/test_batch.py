"""The columnar fast path of the import gives exactly what the line-by-line reference parser gives."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.batch import ActivityBatches, Staged, line_pattern, repeated_activity
from directory.columnar import BLANKS, COMPRESSED, ColumnarBatches
from directory.extraction import Activity, Rejected, decode_line, parse_header, parse_line
from directory.generator import ACTIVITY_HEADER_52, ACTIVITY_HEADER_56
from directory.staging import (
    ACTIVITY_COLUMNS,
    PERSON_COLUMNS,
    PersonAccumulator,
    _line_facets,
    _line_words,
    activity_row,
)
from directory.text import fold
from tests.directory.helpers import small

Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[int, str, str]], int]


def reference(lines: list[bytes], encoding: str) -> Rows:
    """The reference: parse_line, activity_row and PersonAccumulator, one line at a time (header first)."""
    header = parse_header(lines[0], encoding)
    activities: list[tuple[Any, ...]] = []
    persons: list[tuple[Any, ...]] = []
    rejects: list[tuple[int, str, str]] = []
    accumulator = PersonAccumulator()
    read = 0
    current, keys = "", set[str]()  # a line repeating an activity of its person's consecutive lines is rejected
    for line_no, raw in enumerate(lines[1:], start=2):
        if not raw.strip(b"\r\n"):
            continue
        read += 1
        record = parse_line(header, line_no, raw, encoding)
        if isinstance(record, Rejected):
            rejects.append((record.line_no, record.reason, record.raw))
        else:
            assert isinstance(record, Activity)
            row = activity_row(record)
            if record.id_nat != current:
                current, keys = record.id_nat, set()
            if row[-1] in keys:
                rejects.append((line_no, repeated_activity(row[-1]), decode_line(raw, encoding)))
            else:
                keys.add(row[-1])
                activities.append(row)
            person = accumulator.add(record)
            if person is not None:
                persons.append(person)
    last = accumulator.flush()
    return activities, sorted([*persons, last] if last is not None else persons), rejects, read


_PARSERS = {"python": ActivityBatches, "columnar": ColumnarBatches}
_WAYS = pytest.mark.parametrize(("parser", "copy"), [("python", False), ("python", True), ("columnar", False),
                                                      ("columnar", True)])


_UNESCAPED = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def _value(text: str) -> str:
    """A COPY text value: ``\\N`` would be NULL (never sent: the columns are NOT NULL), escapes undone."""
    assert text != "\\N"
    return re.sub(r"\\(.)", lambda match: _UNESCAPED[match.group(1)], text)


def _rows(data: Staged) -> list[tuple[Any, ...]]:
    """The rows, from a list, a frame, or COPY text bytes (values separated by tabs, escapes undone, the line
    number back to an integer)."""
    if isinstance(data, list):
        return data
    if isinstance(data, pl.DataFrame):
        assert data.columns == list(ACTIVITY_COLUMNS if data.width == len(ACTIVITY_COLUMNS) else PERSON_COLUMNS)
        return data.rows()
    assert not data or data.endswith(b"\n")
    rows = [line.split("\t") for line in data.decode().split("\n")[:-1]]
    return [(int(row[0]), *map(_value, row[1:])) for row in rows]


def fast(lines: list[bytes], encoding: str, size: int, parser: str = "python", copy: bool = False) -> Rows:
    batches = _PARSERS[parser](parse_header(lines[0], encoding), encoding)
    activities: list[tuple[Any, ...]] = []
    persons: list[tuple[Any, ...]] = []
    rejects: list[tuple[int, str, str]] = []
    read = 0
    body = lines[1:]
    for start in range(0, len(body), size):
        rows, closed, rejected, count = batches.staged(start + 2, body[start:start + size], copy)
        assert isinstance(rows, bytes) == copy and isinstance(closed, bytes) == copy
        framed = isinstance(rows, pl.DataFrame)  # a batch the columnar parser took, for a SQLite staging file
        assert framed == isinstance(closed, pl.DataFrame) and (not framed or (parser == "columnar" and not copy))
        activities += _rows(rows)
        persons += _rows(closed)
        rejects += [(record.line_no, record.reason, record.raw) for record in rejected]
        read += count
    persons += batches.flush()
    return activities, sorted(persons), rejects, read  # a staging table has no order


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@_WAYS
@pytest.mark.parametrize(("generation", "encoding"), [(52, "latin-1"), (56, "utf-8")])
def test_generated_files_give_the_reference_rows(tmp_path: Path, generation: int, encoding: str, parser: str,
                                                 copy: bool) -> None:
    lines = _lines(small(tmp_path, persons=400, seed=13, generation=generation, encoding=encoding).activity_path)
    expected = reference(lines, encoding)
    assert len(expected[1]) == 400 and not expected[2]
    # persons cut by batch boundaries anywhere (fewer sizes for polars: a batch costs it milliseconds)
    for size in (1, 2, 3, 7, 100, 10_000) if parser == "python" else (2, 7, 10_000):
        assert fast(lines, encoding, size, parser, copy) == expected, size


@_WAYS
def test_odd_lines_give_the_reference_rows_and_rejects(tmp_path: Path, parser: str, copy: bool) -> None:
    header, *body = _lines(small(tmp_path, persons=30, seed=2).activity_path)
    fields = body[0].decode().rstrip("\n").split("|")
    id_nat, family, given_name, city = 2, 7, 8, 37

    def edited(**changes: str) -> bytes:
        values = list(fields)
        for name, value in changes.items():
            values[{"id_nat": id_nat, "family": family, "given": given_name, "city": city}[name]] = value
        return "|".join(values).encode() + b"\n"

    odd = [
        b"\n", b"\r\n", edited(family="  Padded  "), edited(city="\tLyon\u00a0"), edited(id_nat="12345"),
        edited(id_nat=" 810000000001 "), edited(family="-"), edited(family="X" * 201), edited(city="Y" * 1001),
        "|".join(fields[:-1]).encode() + b"\n",  # no trailing "|"
        b"a|b|c|\n", edited(given="Hélène").decode().encode("latin-1"), b"Z" * 20_000,
        edited(family="ŒUF"), edited(id_nat="0691234567", family="N'DIAYE"), edited(id_nat="8" + "\u0663" * 11),
        edited(given="  "), edited(family="DUPONT", given="Jean") + b"\r",
    ]
    lines = [header, *body[:5], *odd[:9], *body[5:9], *odd[9:], *body[9:]]
    expected = reference(lines, "utf-8")
    reasons = [reason for _, reason, _ in expected[2]]
    # rejects with their reasons, in line order; four edits of one line repeat the activity of the line before
    assert len(reasons) == 10 and sum("is listed on an earlier line" in reason for reason in reasons) == 4
    for size in (1, 4, 1000):
        assert fast(lines, "utf-8", size, parser, copy) == expected, size


@_WAYS
@pytest.mark.parametrize("start", COMPRESSED)
def test_a_batch_beginning_like_a_compressed_stream_gives_the_reference_rows(tmp_path: Path, parser: str, copy: bool,
                                                                              start: bytes) -> None:
    """polars' CSV reader takes data beginning with a gzip, zlib or zstd signature for a compressed stream (and
    fails on it, or would inflate it): a batch whose first line begins so (a line "x^…") goes to the reference
    parser instead, rejected or not as it says."""
    header, *body = _lines(small(tmp_path, persons=30, seed=2).activity_path)
    odd = [start + b"|" + line.split(b"|", 1)[1] for line in (body[3], body[7])]  # its first field replaced
    lines = [header, odd[0], *body[:3], odd[1], *body[3:]]  # the first line of a batch of 1 or of 4 lines
    expected = reference(lines, "utf-8")
    for size in (1, 4, 1000):
        assert fast(lines, "utf-8", size, parser, copy) == expected, size


_HEADERS = st.sampled_from([ACTIVITY_HEADER_56, ACTIVITY_HEADER_52, tuple(reversed(ACTIVITY_HEADER_56))])
_VALUE = st.one_of(
    st.sampled_from(["", " ", "810000000001", "0691234567", "8123", "MARTIN", "D'ALMEIDA", "-", "Lyon", "69003",
                     "10", "SM04", " x ", "é", "\u00a0", "F690000001", "A" * 40]),
    st.text(alphabet=st.characters(blacklist_characters="|\n\r", max_codepoint=0xD7FF), max_size=12),
)


@_WAYS
@settings(max_examples=60, deadline=None)
@given(_HEADERS, st.lists(st.lists(_VALUE, min_size=50, max_size=57), min_size=1, max_size=12),
       st.lists(st.sampled_from(["810000000001", "810000000002", "0691234567"]), min_size=12, max_size=12),
       st.integers(min_value=1, max_value=5), st.booleans())
def test_fuzzed_lines_give_the_reference_rows(
    parser: str, copy: bool, header: tuple[str, ...], rows: list[list[str]], ids: list[str], size: int,
    trailing: bool,
) -> None:
    position = header.index("Identification nationale PP")
    family = header.index("Nom d'exercice")
    lines = [("|".join(header) + "|\n").encode()]
    for index, drawn in enumerate(rows):
        values = list(drawn)
        if index % 5 != 4:  # most lines have the right field count
            values = (values + [""] * len(header))[:len(header)]
        if len(values) > position and index % 3:
            values[position] = ids[index]  # valid persons, some of them on consecutive lines
        if len(values) > family and index % 2:
            values[family] = "MARTIN"
        lines.append(("|".join(values) + ("|" if trailing or index % 4 else "") + "\n").encode())
    expected = reference(lines, "utf-8")
    assert fast(lines, "utf-8", size, parser, copy) == expected


@pytest.mark.parametrize(("generation", "encoding", "utf8"), [(56, "utf-8", True), (52, "latin-1", False)])
def test_the_columnar_parser_takes_clean_batches_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        generation: int, encoding: str, utf8: bool) -> None:
    """A generated file's batches never reach ActivityBatches; a UTF-8 one is read as it is, a latin-1 one
    after decoding."""
    lines = _lines(small(tmp_path, persons=300, seed=3, generation=generation, encoding=encoding).activity_path)
    expected = reference(lines, encoding)

    def refused(*_: object) -> None:
        raise AssertionError("a clean batch went to ActivityBatches")

    monkeypatch.setattr(ActivityBatches, "parse", refused)
    read_as_is: list[pl.DataFrame | None] = []
    original = ColumnarBatches._as_is

    def as_is(self: ColumnarBatches, raws: list[bytes], data: bytes, longest: int) -> pl.DataFrame | None:
        read_as_is.append(original(self, raws, data, longest))
        return read_as_is[-1]

    monkeypatch.setattr(ColumnarBatches, "_as_is", as_is)
    assert fast(lines, encoding, 50, "columnar", True) == expected
    assert bool(read_as_is) == utf8 and all(table is not None for table in read_as_is)


@pytest.mark.parametrize("as_is", [True, False])
def test_values_copy_text_escapes_stay_columnar_and_are_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                as_is: bool) -> None:
    """A backslash or a tab inside a value (the line pattern takes it) is escaped in the COPY text of a batch
    the columnar parser takes, read as it is or (with a padded value) through the reference parser."""
    header, *body = _lines(small(tmp_path, persons=40, seed=4).activity_path)
    structure, street = ACTIVITY_HEADER_56.index("Raison sociale site"), ACTIVITY_HEADER_56.index(
        "Libellé Voie (coord. structure)")
    for index in range(0, len(body), 3):
        values = body[index].decode().rstrip("\n").split("|")
        values[structure], values[street] = "CH \\ Nord\\N", "rue\tdu\\tPort"
        if not as_is and index == 0:
            values[street] = " " + values[street]  # padded: the reference parser strips it
        body[index] = ("|".join(values) + "\n").encode()
    lines = [header, *body]
    expected = reference(lines, "utf-8")
    monkeypatch.setattr(ActivityBatches, "parse", lambda *_: pytest.fail("a batch went to ActivityBatches"))
    assert fast(lines, "utf-8", 1000, "columnar", True) == expected
    assert any("CH \\ Nord\\N" in row for row in expected[0])


_ODD = st.sampled_from(["", " ", "|", "\r", "\x1c", "\x1f", "\u00a0", "\u2003", "\u3000", "\x85", "\t", "é",
                        "\u0663", "8", "A", "B", "x" * 199, "y" * 1001])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 55), st.lists(_ODD, max_size=3).map("".join)), max_size=4),
       st.sampled_from(["810000000001", "0691234567", "069123456B", "8100000000011", "81000000000\u0663"]),
       st.booleans())
def test_a_line_the_columnar_checks_take_matches_the_line_pattern(edits: list[tuple[int, str]], id_nat: str,
                                                                  trailing: bool) -> None:
    """The columnar path's column checks are as strict as the fast path's line pattern (or stricter)."""
    header = parse_header(("|".join(ACTIVITY_HEADER_56) + "|\n").encode(), "utf-8")
    values = ["V"] * header.columns
    values[header.positions["id_nat"]] = id_nat
    for position, value in edits:
        values[position] = value
    line = "|".join(values) + ("|" if trailing else "")
    raw = line.encode() + b"\n"
    if ColumnarBatches(header, "utf-8")._as_is([raw], raw, len(raw)) is not None:
        assert line_pattern(header).fullmatch(line), line


@pytest.mark.parametrize("parser", list(_PARSERS))
@pytest.mark.parametrize("size", [3, 10_000])
def test_word_counts_count_each_accepted_line(tmp_path: Path, size: int, parser: str) -> None:
    """``directory_words``: each word of a line's family name, given name and words (profession, specialty,
    city) once per string it is in, each filter token as ``~`` + token, the empty word for the line count."""
    lines = _lines(small(tmp_path, persons=200, seed=5).activity_path)
    lines[5:5] = [b"a|b|c|\n"]  # rejected: not counted
    header = parse_header(lines[0], "utf-8")
    expected: Counter[str] = Counter()
    for line_no, raw in enumerate(lines[1:], start=2):
        record = parse_line(header, line_no, raw, "utf-8")
        if isinstance(record, Rejected):
            continue
        assert isinstance(record, Activity)
        for value in (fold(record.family)[:200], fold(record.given)[:200],
                      _line_words(record.profession_label, record.specialty_label, record.city)):
            expected.update(set(value.split(" ")) - {""})
        tokens = _line_facets(record.profession_code, record.specialty_code, record.postal_code,
                              record.department, record.city)
        expected.update("~" + token for token in set(tokens.split(" ")) - {""})
        expected[""] += 1
    batches = _PARSERS[parser](header, "utf-8")
    body = lines[1:]
    for start in range(0, len(body), size):
        batches.staged(start + 2, body[start:start + size], False)
    batches.flush()
    assert batches.vocabulary() == dict(expected)
    assert expected["~p10"] > 0 and expected[""] == len(body) - 1


def test_the_blanks_the_columnar_checks_strip_are_pythons() -> None:
    assert "".join(char for char in map(chr, range(sys.maxunicode + 1)) if char.isspace()) == BLANKS


@pytest.mark.parametrize("blank", list(BLANKS.replace("\n", "").replace("\r", "")))
def test_a_value_starting_or_ending_with_any_blank_is_not_taken_as_it_is(blank: str) -> None:
    """Each character the reference parser strips, at either end of a used value, sends the batch to the line
    pattern (which strips it); the same value without it is taken as it is."""
    header = parse_header(("|".join(ACTIVITY_HEADER_56) + "|\n").encode(), "utf-8")
    batches = ColumnarBatches(header, "utf-8")
    for value, taken in (("Lyon", True), (blank + "Lyon", False), ("Lyon" + blank, False)):
        values = ["V"] * header.columns
        values[header.positions["id_nat"]] = "810000000001"
        values[header.positions["city"]] = value
        raw = ("|".join(values) + "|\n").encode()
        assert (batches._as_is([raw], raw, len(raw)) is not None) is taken, repr(value)
