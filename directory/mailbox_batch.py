"""The import's fast path for mailbox lines: a batch at a time, column by column.

The reference is :func:`directory.extraction.parse_mailbox` (one line at a time) and
:func:`directory.staging.mailbox_row`. A batch is decoded at once and each line checked by one regular expression
built from the header, which accepts only lines whose every used value the reference would take as it is:

- the field count and trailing ``|``; every used value within its width and without surrounding blanks; the
  other fields within ``MAX_FIELD``;
- the mailbox type written ``PER``, ``ORG``, ``APP`` or ``CAB`` (upper case);
- an address in lower case made of a strict subset of what :func:`policies.addresses.address_problem` accepts
  (dot-separated ``[a-z0-9_+-]`` atoms, at most 64 before the ``@``; host name labels, at least two, no trailing
  dot; at most 254 characters);
- an idNat that is empty or an RPPS/ADELI idNat.

A line it does not match, or whose owner is missing (a PER mailbox without idNat, another one without structure
or idNat), goes through the reference parser, which rejects it with its reason or accepts it. The rows come out
in line order. ``tests/directory/test_mailbox_batch.py`` checks that both give the same rows and rejects.
"""

from __future__ import annotations

import itertools
import re

from directory.batch import decode_batch, free_value
from directory.extraction import (
    _MAILBOX_COLUMNS,
    MAILBOX_LIMITS,
    MAX_FIELD,
    MAX_LINE,
    Header,
    Rejected,
    parse_mailbox,
)
from directory.staging import mailbox_row
from policies.addresses import MAX_ADDRESS, MAX_LOCAL_PART
from policies.identifiers import _IDNAT_PS

Row = tuple[object, ...]
_KEYS = tuple(_MAILBOX_COLUMNS)
_ATOM = r"[a-z0-9_+-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ADDRESS = (
    rf"(?=[^|]{{1,{MAX_ADDRESS}}}\|)(?=[^@|]{{1,{MAX_LOCAL_PART}}}@)"
    rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+"
)
_TRUE = frozenset({"true", "vrai", "1", "o", "oui"})


def line_pattern(header: Header) -> re.Pattern[str]:
    """A mailbox line every value of which the fast path can take as it is (see the module docstring)."""
    used = {position: key for key, position in header.positions.items()}
    parts = []
    for position in range(header.columns):
        key = used.get(position)
        if key is None:
            parts.append(f"[^|]{{0,{MAX_FIELD}}}+")
        elif key == "dematerialised":
            parts.append(free_value(MAX_FIELD))
        elif key == "kind":
            parts.append("(?:PER|ORG|APP|CAB)")
        elif key == "address":
            parts.append(_ADDRESS)
        elif key == "id_nat":
            parts.append(f"(?:{_IDNAT_PS.pattern})?")
        else:  # at most its width, no blank at either end
            parts.append(free_value(MAILBOX_LIMITS[key]))
    return re.compile("".join(part + r"\|" for part in parts))


class MailboxBatches:
    """Turns batches of raw mailbox lines into staging rows (:data:`directory.staging.MAILBOX_COLUMNS`) and
    rejects, as :func:`~directory.extraction.parse_mailbox` does line by line."""

    def __init__(self, header: Header, encoding: str) -> None:
        self.header, self.encoding = header, encoding
        self.pattern = line_pattern(header)
        empty = header.columns  # a column missing from the file reads the empty field appended after the last
        self.positions = {key: header.positions.get(key, empty) for key in _KEYS}

    def parse(self, first_line: int, raws: list[bytes]) -> tuple[list[Row], list[Rejected], int]:
        """``raws`` are consecutive lines numbered from ``first_line``. Returns the rows and the rejected lines,
        both in line order, and how many lines were read (blank lines are skipped, uncounted)."""
        texts = decode_batch(raws, self.encoding)
        numbered = [(number, raw, value) for number, raw, value in zip(
            itertools.count(first_line), raws, texts, strict=False) if value]
        fullmatch = self.pattern.fullmatch
        fast = [item for item in numbered if len(item[1]) <= MAX_LINE and fullmatch(item[2]) is not None]
        rows: dict[int, Row | None] = dict(zip([item[0] for item in fast], self._rows(fast), strict=True))
        slow = [item for item in numbered if rows.get(item[0]) is None]
        rejects: list[Rejected] = []
        for number, raw, _ in slow:
            record = parse_mailbox(self.header, number, raw, self.encoding)
            if isinstance(record, Rejected):
                rejects.append(record)
            else:
                rows[number] = mailbox_row(record)
        ordered = rows if not slow else {number: rows[number] for number in sorted(rows)}
        return [row for row in ordered.values() if row is not None], rejects, len(numbered)

    def _rows(self, lines: list[tuple[int, bytes, str]]) -> list[Row | None]:
        """The rows of lines the pattern accepted; None for a line whose owner is missing (the reference
        parser gives its reason)."""
        if not lines:
            return []
        split = [value.split("|") for _, _, value in lines]
        columns = list(zip(*split, strict=True))
        columns.append(("",) * len(lines))  # what a column missing from this generation reads
        p = self.positions

        def column(key: str) -> tuple[str, ...]:
            return columns[p[key]]

        kind, address, id_nat, structure = column("kind"), column("address"), column("id_nat"), column("structure_id")
        flags = [value.lower() in _TRUE for value in column("dematerialised")]
        address_lines = [" ".join([part for part in parts if part])
                         for parts in zip(*(column(f"line_{n}") for n in range(1, 9)), strict=True)]
        rows: list[Row | None] = list(zip(
            [number for number, _, _ in lines], kind, address, [value.rpartition("@")[2] for value in address],
            id_nat, column("id_pp"), structure, column("service"), column("civility"), column("family"),
            column("given"), column("profession_code"), column("profession_label"), column("specialty_code"),
            column("specialty_label"), flags, column("structure_name"), address_lines, column("postal_code"),
            column("department"), column("country"), strict=True,
        ))
        for index, (owner, box, place) in enumerate(zip(id_nat, kind, structure, strict=True)):
            if not owner and (box == "PER" or not place):
                rows[index] = None
        return rows
