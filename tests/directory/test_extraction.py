from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory import models
from directory.errors import ExtractionError
from directory.extraction import (
    MAX_LINE,
    Activity,
    Kind,
    MailboxEntry,
    Rejected,
    decode_line,
    detect_encoding,
    iter_records,
    parse_header,
)
from directory.generator import ACTIVITY_HEADER_52, ACTIVITY_HEADER_56, MAILBOX_HEADER
from directory.staging import ACTIVITY_COLUMNS as STAGED_ACTIVITY
from directory.staging import PERSON_COLUMNS as STAGED_PERSON
from directory.staging import PersonAccumulator, activity_row
from tests.directory.helpers import small

HEADER_56 = ("|".join(ACTIVITY_HEADER_56) + "|").encode()
HEADER_MAILBOX = ("|".join(MAILBOX_HEADER) + "|").encode()


def _line(values: dict[str, str], header: tuple[str, ...] = ACTIVITY_HEADER_56) -> bytes:
    return ("|".join(values.get(name, "") for name in header) + "|\n").encode()


def test_both_generations_map_columns_by_name() -> None:
    for header in (ACTIVITY_HEADER_52, ACTIVITY_HEADER_56):
        parsed = parse_header(("|".join(header) + "|").encode(), "utf-8")
        assert parsed.kind is Kind.ACTIVITY
        assert parsed.columns == len(header)
    assert parse_header(HEADER_MAILBOX, "utf-8").kind is Kind.MAILBOX
    # the 52-column generation has no function/genre columns: they read as empty, not shifted
    values = {"Identification nationale PP": "810000000001", "Nom d'exercice": "VÉRAN", "Code profession": "10",
              "Libellé commune (coord. structure)": "Lyon"}
    header_52 = ("|".join(ACTIVITY_HEADER_52) + "|\n").encode()
    record = next(iter_records([header_52, _line(values, ACTIVITY_HEADER_52)]))
    assert isinstance(record, Activity)
    assert (record.family, record.city, record.function_code, record.genre_code) == ("VÉRAN", "Lyon", "", "")


def test_columns_in_another_order_are_found_by_name() -> None:
    reordered = tuple(reversed(ACTIVITY_HEADER_56))
    values = {"Identification nationale PP": "0691234567", "Nom d'exercice": "N'DIAYE", "Prénom d'exercice": "Aïssa",
              "Code profession": "60", "Code postal (coord. structure)": "69003"}
    lines = [("|".join(reordered) + "|\n").encode(), _line(values, reordered)]
    record = next(iter_records(lines))
    assert isinstance(record, Activity)
    assert (record.id_nat, record.given, record.postal_code) == ("0691234567", "Aïssa", "69003")


def test_latin1_is_detected_and_decoded() -> None:
    values = {"Identification nationale PP": "810000000001", "Nom d'exercice": "LEFÈVRE", "Code profession": "10"}
    header = "|".join(ACTIVITY_HEADER_56) + "|\n"
    body = "|".join(values.get(name, "") for name in ACTIVITY_HEADER_56) + "|\r\n"
    lines = [header.encode("latin-1"), body.encode("latin-1")]
    assert detect_encoding(lines[0] + lines[1]) == "latin-1"
    record = next(iter_records(lines))
    assert isinstance(record, Activity)
    assert record.family == "LEFÈVRE"
    # a stray latin-1 line inside a UTF-8 file still reads
    assert decode_line("Hélène\n".encode("latin-1"), "utf-8") == "Hélène"


def test_malformed_lines_are_rejected_with_a_reason() -> None:
    good = {"Identification nationale PP": "810000000001", "Nom d'exercice": "MARTIN", "Code profession": "10"}
    lines = [
        HEADER_56 + b"\n",
        _line(good),
        b"only|three|fields|\n",
        _line({**good, "Identification nationale PP": "81234"}),
        _line({**good, "Nom d'exercice": " - "}),
        b"x" * (MAX_LINE + 10) + b"\n",
    ]
    records = list(iter_records(lines))
    assert isinstance(records[0], Activity)
    rejected = [record for record in records if isinstance(record, Rejected)]
    assert [record.line_no for record in rejected] == [3, 4, 5, 6]
    assert "expected 56 fields, found 3" in rejected[0].reason
    assert "not an RPPS or ADELI" in rejected[1].reason
    assert "Nom d'exercice is empty" in rejected[2].reason
    assert "longer than" in rejected[3].reason


def test_mailbox_lines_are_checked() -> None:
    def line(**values: str) -> bytes:
        return _line(values, MAILBOX_HEADER)

    lines = [
        HEADER_MAILBOX + b"\n",
        line(**{"Type de BAL": "PER", "Adresse BAL": "Jean.Martin@Medecin.MSSante.fr",
                "Identification nationale PP": "810000000001", "Dématérialisation": "True"}),
        line(**{"Type de BAL": "XYZ", "Adresse BAL": "a@b.fr"}),
        line(**{"Type de BAL": "PER", "Adresse BAL": "not-an-address", "Identification nationale PP": "810000000001"}),
        line(**{"Type de BAL": "PER", "Adresse BAL": "a@b.fr", "Identification nationale PP": ""}),
        line(**{"Type de BAL": "ORG", "Adresse BAL": "urgences@ch.fr"}),
    ]
    records = list(iter_records(lines))
    entry = records[0]
    assert isinstance(entry, MailboxEntry)
    assert (entry.address, entry.domain, entry.dematerialised) == (
        "jean.martin@medecin.mssante.fr", "medecin.mssante.fr", True)
    assert [type(record) for record in records[1:]] == [Rejected] * 4


def test_unknown_or_empty_files_are_refused() -> None:
    with pytest.raises(ExtractionError, match="neither"):
        list(iter_records([b"name|age|\n", b"x|1|\n"]))
    with pytest.raises(ExtractionError, match="empty"):
        list(iter_records([]))


@pytest.mark.parametrize(("generation", "encoding"), [(52, "latin-1"), (56, "utf-8"), (52, "utf-8"), (56, "latin-1")])
def test_generated_files_parse_without_rejects(tmp_path: Path, generation: int, encoding: str) -> None:
    generated = small(tmp_path, persons=60, generation=generation, encoding=encoding)
    with generated.activity_path.open("rb") as stream:
        activities = list(iter_records(stream))
    with generated.mailbox_path.open("rb") as stream:
        mailboxes = list(iter_records(stream))
    assert len(activities) == generated.activity_lines and all(isinstance(r, Activity) for r in activities)
    assert len(mailboxes) == generated.mailbox_lines and all(isinstance(r, MailboxEntry) for r in mailboxes)
    assert len({record.id_nat for record in activities if isinstance(record, Activity)}) == 60
    # same seed, other encoding: the very same names come out
    other = small(tmp_path, persons=60, generation=generation, encoding="utf-8")
    with other.activity_path.open("rb") as stream:
        names = [r.family for r in iter_records(stream) if isinstance(r, Activity)]
    assert names == [r.family for r in activities if isinstance(r, Activity)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=400), max_size=8), st.sampled_from([HEADER_56, HEADER_MAILBOX]))
def test_arbitrary_lines_never_raise(lines: list[bytes], header: bytes) -> None:
    for record in iter_records([header + b"\n", *lines]):
        assert isinstance(record, Activity | MailboxEntry | Rejected)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_headers_raise_only_our_error(header: bytes) -> None:
    with contextlib.suppress(ExtractionError):
        list(iter_records([header, b"a|b|\n"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=56, max_size=56))
def test_arbitrary_field_values_never_raise(values: list[str]) -> None:
    line = ("|".join(value.replace("\n", " ").replace("\r", " ") for value in values) + "|\n").encode()
    for record in iter_records([HEADER_56 + b"\n", line]):
        assert isinstance(record, Activity | Rejected)


def _widths(table: Any) -> dict[str, int]:
    return {column.name: column.type.length for column in table.columns if getattr(column.type, "length", None)}


def _assert_fits(row: tuple[Any, ...], names: tuple[str, ...], widths: dict[str, int]) -> None:
    for name, value in zip(names, row, strict=True):
        if name in widths and isinstance(value, str):
            assert len(value) <= widths[name], (name, value)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=400), min_size=56, max_size=56), st.sampled_from(["810000000001", "0691234567"]))
def test_accepted_values_fit_the_columns(values: list[str], id_nat: str) -> None:
    """PostgreSQL enforces VARCHAR widths: whatever the parser accepts must fit, or one line would fail an import."""
    values = [value.replace("\n", " ").replace("\r", " ").replace("|", "/") for value in values]
    values[2] = id_nat
    values[7] = values[7] or "X"
    for record in iter_records([HEADER_56 + b"\n", ("|".join(values) + "|\n").encode()]):
        if isinstance(record, Activity):
            row = activity_row(record)
            _assert_fits(row, STAGED_ACTIVITY, _widths(models.Activity.__table__)
                         | {"structure_norm": _widths(models.Structure.__table__)["name_norm"]})
            accumulator = PersonAccumulator()
            assert accumulator.add(record) is None
            person = accumulator.flush()
            assert person is not None
            _assert_fits(person, STAGED_PERSON, _widths(models.Person.__table__))
    mailbox = dict(zip(MAILBOX_HEADER, values, strict=False))
    mailbox.update({"Type de BAL": "PER", "Adresse BAL": "a.b@c.fr", "Identification nationale PP": id_nat})
    line = ("|".join(mailbox.get(name, "") for name in MAILBOX_HEADER) + "|\n").encode()
    for record in iter_records([HEADER_MAILBOX + b"\n", line]):
        if isinstance(record, MailboxEntry):
            _assert_fits(tuple(record), MailboxEntry._fields, _widths(models.Mailbox.__table__))
