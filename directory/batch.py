"""The import's fast path: a batch of activity lines to staging rows, column by column.

The reference semantics are :func:`directory.extraction.parse_activity`, :func:`directory.staging.activity_row`
and :class:`directory.staging.PersonAccumulator`, one line at a time. Here a whole batch is decoded, matched,
split and transposed with ``map``/``zip`` loops that run in C, so that the per-line Python work is a handful
of cached calls:

- one regular expression built from the header checks a whole line at once: its field count and trailing
  ``|``, every used value within its width and without surrounding blanks (so nothing needs stripping), the
  other fields within ``MAX_FIELD``, and the idNat. A line it does not match goes through the reference
  parser, which rejects it with its exact reason or accepts it (a value padded with blanks, say);
- persons are built from their consecutive lines: a one-line person (most of them) straight from cached
  per-line values, a person with several lines by merging them as the reference accumulator does.

``tests/directory/test_batch.py`` checks that both paths give the same rows, rejects and counts.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import operator
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from directory.extraction import (
    _ACTIVITY_KEYS,
    ACTIVITY_LIMITS,
    MAX_FIELD,
    MAX_LINE,
    Header,
    Rejected,
    _fields,
    decode_line,
    parse_activity,
)
from directory.staging import PAIR, _fold_name, _line_facets, _line_words, copy_text, facet
from directory.text import fold
from policies.identifiers import _IDNAT_PS

if TYPE_CHECKING:  # polars is loaded by the parsing processes only (directory.columnar)
    import polars as pl

Row = tuple[Any, ...]
# Staged rows: tuples, PostgreSQL COPY text bytes, or (directory.columnar, for a parsing process's SQLite
# staging file) a frame with the staging table's columns.
Staged: TypeAlias = "list[Row] | bytes | pl.DataFrame"
_repeat = itertools.repeat
_compress = itertools.compress
_CACHE = 65_536
_ID_NAT = _ACTIVITY_KEYS.index("id_nat")
_FAMILY = _ACTIVITY_KEYS.index("family")
_GIVEN = _ACTIVITY_KEYS.index("given")
TOTAL_WORD = ""  # counted in directory_words as the number of lines
FACET_WORD = "~"  # filter tokens are counted in directory_words as "~" + token, apart from the words
_NAME_WIDTH = 200  # family_norm and given_norm (NFKD may lengthen a name)


def used_columns(header: Header) -> dict[int, tuple[str, int]]:
    """The file's positions of the activity values the import uses, with their names and widths."""
    limits = dict(zip(_ACTIVITY_KEYS, ACTIVITY_LIMITS, strict=True))
    return {position: (key, limits[key]) for key, position in header.positions.items() if key in limits}


def line_pattern(header: Header) -> re.Pattern[str]:
    """A line every value of which the fast path can take as it is (see the module docstring)."""
    used = used_columns(header)
    parts = []
    for position in range(header.columns):
        key, limit = used.get(position, ("", 0))
        if not key:
            parts.append(f"[^|]{{0,{MAX_FIELD}}}+")
        elif key == "id_nat":
            parts.append(f"(?:{_IDNAT_PS.pattern})")
        else:  # at most ``limit`` characters, no blank at either end
            parts.append(free_value(limit))
    return re.compile("".join(part + r"\|" for part in parts))


def free_value(limit: int) -> str:
    """The pattern of a value the fast paths take as it is: at most ``limit`` characters, no blank at either end
    (the reference parsers strip values)."""
    return rf"(?!\s)[^|]{{0,{limit}}}+(?<!\s)"


def decode_batch(raws: list[bytes], encoding: str) -> list[str]:
    """The lines as text without their line ends, as :func:`directory.extraction.decode_line` gives them one by
    one (a stray latin-1 line in a UTF-8 file still reads), at once when the whole batch decodes."""
    if encoding == "utf-8":
        try:
            decoded = list(map(bytes.decode, raws))
        except UnicodeDecodeError:  # a stray latin-1 line: line by line
            return [decode_line(raw, encoding) for raw in raws]
    else:
        decoded = list(map(bytes.decode, raws, _repeat(encoding)))
    return list(map(str.rstrip, decoded, _repeat("\r\n")))


def _structure_key(technical_id: str, finess_site: str, siret: str) -> str:
    """:func:`directory.staging.structure_key` from its three columns."""
    if technical_id:
        return technical_id
    if finess_site:
        return "F" + finess_site
    return "S" + siret if siret else ""


_digest = functools.partial(hashlib.blake2b, digest_size=6)
_hexdigest = operator.methodcaller("hexdigest")
_SEPARATORS = re.compile(r"\|+")
_LINE_ENDS = re.compile(r"^\||\|$", re.MULTILINE)


def _activity_keys(id_nat: Sequence[str], identity: Iterator[str]) -> Iterator[str]:
    """:func:`directory.staging.activity_row`'s key of each line (idNat, ``-``, 6-byte BLAKE2b of the identity),
    each step a C call over the batch."""
    return map("{}-{}".format, id_nat, map(_hexdigest, map(_digest, map(str.encode, identity))))


def _joined(*columns: Sequence[str]) -> list[str]:
    """:func:`directory.extraction._join` of each line's values, for the whole batch in a few C calls: the
    values joined by ``|`` (no value holds one: every line was split on it), runs of ``|`` (empty values) made
    one, those at either end of a line dropped, the rest made spaces."""
    if not columns[0]:
        return []
    text = "\n".join(map("|".join, zip(*columns, strict=True)))
    return _LINE_ENDS.sub("", _SEPARATORS.sub("|", text)).replace("|", " ").split("\n")


def repeated_activity(key: str) -> str:
    """The reason a line is rejected when an earlier line already gave its activity."""
    return f"the same activity (key {key}) is listed on an earlier line"


def _specialty(code: str, label: str) -> str:
    return f"{code}={label}" if code else ""


def _sorted_words(words: set[str]) -> str:
    return " ".join(sorted(words - {""}))


@functools.lru_cache(maxsize=_CACHE)
def _words(profession_label: str, specialty_label: str, city: str) -> str:
    """One line's words (profession, specialty, city), sorted and unique."""
    return _sorted_words(set(_line_words(profession_label, specialty_label, city).split(" ")))


@functools.lru_cache(maxsize=_CACHE)
def _places(postal_code: str, department: str, city: str) -> tuple[str, ...]:
    """The place's filter tokens (postal code, department, city), the empty ones left out."""
    return tuple(token for token in (facet("c", postal_code), facet("d", department), facet("v", city)) if token)


@functools.lru_cache(maxsize=_CACHE)
def _facets(profession: str, specialty: str, postal_code: str, department: str, city: str) -> str:
    """One line's filter tokens, sorted and unique: those of ``_line_facets``, from the cached tokens of the
    place (a line's five values are often new; its place seldom is), put in sorted order without sorting: the
    tokens are a prefix letter and ``[a-z0-9]`` (squashed), the pairs a profession's token, ``:`` and a place's
    token, so they sort as c…, d…, p…, p…:c…, p…:d…, p…:v…, s…, v… (a profession's token is a prefix of its
    pairs), and none repeats another."""
    job, places = facet("p", profession), _places(postal_code, department, city)
    pairs = [job + PAIR + place for place in places] if job else []
    tokens = [*(token for token in places if token[0] != "v"), job, *pairs, facet("s", specialty),
              *(token for token in places if token[0] == "v")]
    return " ".join(token for token in tokens if token)


@functools.lru_cache(maxsize=131_072)
def _name(value: str) -> str:
    return fold(value)[:_NAME_WIDTH]


# A person line: the person row its line alone would give, and what merging it with other lines needs.
_ROW: Final = 0
_SPECIALTIES = 14  # in a person row (directory.staging.PERSON_COLUMNS), then doc and facets


def _merge(first: Row, words: Sequence[str], facets: Sequence[str], specialties: Sequence[str]) -> Row:
    """The person row of a person with several consecutive lines from the row of their first line and the
    words, filter tokens and specialty of each line: the first line's names and codes, the words, filter tokens
    and specialties of all of them (:class:`directory.staging.PersonAccumulator`)."""
    merged_words = _sorted_words(set(" ".join(words).split(" ")))
    merged_facets = _sorted_words(set(" ".join(facets).split(" ")))
    merged_specialties = ";".join(sorted(set(specialties) - {""}))
    return (*first[:_SPECIALTIES], merged_specialties, f"{first[8]} {first[9]} {merged_words}", merged_facets)


def _merge_lines(lines: list[tuple[Row, str, str, str]]) -> Row:
    """:func:`_merge` of lines kept as (row, words, filter tokens, specialty)."""
    rows, words, facets, specialties = zip(*lines, strict=True)
    return _merge(rows[0], words, facets, specialties)


def vocabulary(counts: Counter[str], facets: Counter[str], accepted: int) -> dict[str, int]:
    """Word counts from the counts of word strings and of filter-token strings (:class:`ActivityBatches`; a
    filter token is counted as ``~`` + token) and the number of accepted lines. Both counters are emptied as
    they are read (the strings go as the words come: a lower peak of memory)."""
    words: Counter[str] = Counter()
    for strings, prefix in ((counts, ""), (facets, FACET_WORD)):
        while strings:
            value, count = strings.popitem()
            for word in set(value.split(" ")) - {""}:
                words[prefix + word] += count
    words[TOTAL_WORD] = accepted
    return dict(words)


def clear_caches() -> None:
    """Empty the per-value caches of the parsing functions (a parsing process that has read its last line)."""
    for cached in (_words, _facets, _places, _name, _fold_name, _line_facets, _line_words, fold):
        cached.cache_clear()


def _without(dropped: set[int], *lists: list[Any]) -> Any:
    return tuple([item for index, item in enumerate(values) if index not in dropped] for values in lists)


class ActivityBatches:
    """Turns batches of raw activity lines into staging rows (activities and persons) and rejects.

    A person's lines are consecutive in the extractions: the person the previous batch ended with is kept
    back (``pending``) until a line of another person, or :meth:`flush`, closes it."""

    def __init__(self, header: Header, encoding: str) -> None:
        self.header = header
        self.encoding = encoding
        self.positions = [header.positions.get(key, header.columns) for key in _ACTIVITY_KEYS]
        self.pattern = line_pattern(header)
        self.pending: list[tuple[Row, str, str, str]] = []
        self.accepted = 0
        self.keys: set[str] = set()  # the activity keys of the pending person's lines
        self.counts: Counter[str] = Counter()  # word strings (names, a line's words) by the lines carrying them
        self.facet_counts: Counter[str] = Counter()  # a line's filter tokens (one string) by the lines carrying them

    def parse(self, first_line: int, raws: list[bytes]) -> tuple[list[Row], list[Row], list[Rejected], int]:
        """``raws`` are consecutive lines numbered from ``first_line``. Returns the activity rows, the persons
        closed so far, the rejected lines and how many lines were read (blank lines are skipped, uncounted)."""
        header, encoding = self.header, self.encoding
        texts = decode_batch(raws, encoding)
        numbers: list[int] = list(range(first_line, first_line + len(raws)))
        if "" in texts:  # blank lines: not lines of the file as far as counts go, but they keep their number
            keep = [index for index, value in enumerate(texts) if value]
            texts, raws, numbers = [texts[i] for i in keep], [raws[i] for i in keep], [numbers[i] for i in keep]
        read = len(texts)
        matched = list(map(self.pattern.fullmatch, texts))
        if texts and None not in matched and max(map(len, raws)) <= MAX_LINE:
            # every line has exactly the header's fields, each followed by "|": one split of the whole batch
            # and every column is a slice (no list per line, no transposition)
            flat = "".join(texts).split("|")
            width, end = header.columns, header.columns * len(texts)
            empty = [""] * len(texts)  # a column missing from this generation
            sliced = [flat[position:end:width] if position < width else empty for position in self.positions]
            family_norm = list(map(_name, sliced[_FAMILY]))  # empty for a name of punctuation only
            if "" not in family_norm:
                activities, repeated = self._distinct(self._activities(numbers, sliced), raws)
                return activities, self._persons(numbers, sliced, family_norm), repeated, read
        rows: list[list[str]] = list(map(str.split, texts, _repeat("|")))
        rejects: list[Rejected] = []
        dropped: set[int] = set()
        if rows and max(map(len, raws)) > MAX_LINE:
            matched = [None if len(raw) > MAX_LINE else match for raw, match in zip(raws, matched, strict=True)]
        if None in matched:  # the reference parser decides, and gives the reason
            for index in [index for index, match in enumerate(matched) if match is None]:
                record = parse_activity(header, numbers[index], raws[index], encoding)
                if isinstance(record, Rejected):
                    rejects.append(record)
                    dropped.add(index)
                    continue
                fields = _fields(header, numbers[index], raws[index], encoding)
                assert not isinstance(fields, Rejected)  # parse_activity accepted the line
                for position in self.positions:
                    fields[position] = fields[position].strip()
                rows[index] = fields
        if dropped:
            rows, raws, numbers = _without(dropped, rows, raws, numbers)
            dropped = set()
        if rows:
            families = list(map(fold, map(operator.itemgetter(self.positions[_FAMILY]), rows)))
            if "" in families:  # a name of punctuation only
                for index in [index for index, value in enumerate(families) if not value]:
                    record = parse_activity(header, numbers[index], raws[index], encoding)
                    if not isinstance(record, Rejected):
                        raise AssertionError(f"line {numbers[index]}: an empty name was accepted")
                    rejects.append(record)
                    dropped.add(index)
                rejects.sort()
                rows, raws, numbers = _without(dropped, rows, raws, numbers)
        if not rows:
            return [], [], rejects, read
        transposed = list(zip(*rows, strict=False))  # the last one is the empty field after the trailing "|",
        values = [transposed[position] for position in self.positions]  # what a column missing from the file reads
        activities, repeated = self._distinct(self._activities(numbers, values), raws)
        return activities, self._persons(numbers, values), sorted(rejects + repeated), read

    def staged(self, first_line: int, raws: list[bytes], copy: bool,
               last: bool = False) -> tuple[Staged, Staged, list[Rejected], int]:
        """:meth:`parse`, the rows as PostgreSQL ``COPY`` text bytes when ``copy`` (else tuples); with ``last``
        (the part's last lines), the persons include the last one (:meth:`flush`)."""
        rows, persons, rejected, read = self.parse(first_line, raws)
        if last:
            persons += self.flush()
        if copy:
            return copy_text(rows), copy_text(persons), rejected, read
        return rows, persons, rejected, read

    @staticmethod
    def clear_caches() -> None:
        """:func:`clear_caches`: a parsing process that has read its last line."""
        clear_caches()

    def flush(self) -> list[Row]:
        """The last person of the file."""
        pending, self.pending = self.pending, []
        return [_merge_lines(pending)] if pending else []

    def vocabulary(self) -> dict[str, int]:
        """How many accepted lines carry each word of the persons' documents (see ``directory_words``); once, at
        the end of the file."""
        return vocabulary(self.counts, self.facet_counts, self.accepted)

    def _distinct(self, rows: list[Row], raws: list[bytes]) -> tuple[list[Row], list[Rejected]]:
        """The activity rows without the lines whose key an earlier line of the same person's consecutive lines
        already had (rejected; those lines still count for the person's words). The lines of a person listed in
        several places of the file are compared in SQL (:meth:`directory.merge.Merger.duplicates`, among the
        persons :meth:`~directory.merge.Merger.fold_persons` folds). ``self.keys``: the keys of the pending
        person's lines (a person's lines may continue in the next batch)."""
        if not rows:
            return rows, []
        keys = list(map(operator.itemgetter(-1), rows))
        distinct = set(keys)
        if len(distinct) == len(keys) and self.keys.isdisjoint(distinct):  # a key holds its idNat
            last, tail = rows[-1][1], len(rows)
            while tail and rows[tail - 1][1] == last:
                tail -= 1
            if tail == 0 and self.pending and self.pending[0][_ROW][1] == last:  # the batch continues that person
                self.keys.update(keys)
            else:
                self.keys = set(keys[tail:])
            return rows, []
        current = self.pending[0][_ROW][1] if self.pending else None
        seen, kept, rejected = self.keys, [], []
        for row, raw in zip(rows, raws, strict=True):
            if row[1] != current:
                current, seen = row[1], set()
            if row[-1] in seen:
                rejected.append(Rejected(row[0], repeated_activity(row[-1]), decode_line(raw, self.encoding)))
            else:
                seen.add(row[-1])
                kept.append(row)
        self.keys = seen
        return kept, rejected

    @staticmethod
    def _activities(numbers: list[int], v: Sequence[Sequence[str]]) -> list[Row]:
        id_nat, specialty, specialty_label, mode = v[2], v[10], v[11], v[12]
        siret, siren, finess_site, finess_legal, technical_id, name = v[13], v[14], v[15], v[16], v[17], v[18]
        sector, function, genre = v[33], v[34], v[35]
        structure = list(map(_structure_key, technical_id, finess_site, siret))
        identity = map("|".join, zip(id_nat, structure, mode, sector, function, genre, specialty, strict=True))
        return list(zip(
            numbers, id_nat, specialty, specialty_label, mode, structure, siret, siren, finess_site, finess_legal,
            technical_id, name, map(_fold_name, name), _joined(v[19], v[20], v[21], v[22]),
            _joined(v[23], v[24], v[25], v[26]), v[27], v[28], v[29], v[30], v[31], v[32], sector, function,
            genre, _activity_keys(id_nat, identity), strict=True,
        ))

    def _persons(self, numbers: list[int], v: Sequence[Sequence[str]],
                 family_norm: list[str] | None = None) -> list[Row]:
        """Person rows of the persons this batch closes; the last one stays pending. ``family_norm``: the
        folded family names, when the caller has them already."""
        ids = v[_ID_NAT]
        profession, label, specialty, specialty_label, postal, city, department = (
            v[7], v[8], v[10], v[11], v[27], v[29], v[30])
        if family_norm is None:
            family_norm = list(map(_name, v[_FAMILY]))
        given_norm = list(map(_name, v[_GIVEN]))
        words = list(map(_words, label, specialty_label, city))
        facets = list(map(_facets, profession, specialty, postal, department, city))
        specialties = list(map(_specialty, specialty, specialty_label))
        counts = self.counts
        self.accepted += len(numbers)
        counts.update(family_norm)
        counts.update(given_norm)
        counts.update(words)
        self.facet_counts.update(facets)
        singles = list(zip(
            numbers, ids, v[0], v[1], v[3], v[4], v[_FAMILY], v[_GIVEN], family_norm, given_norm,
            map("{} {} {}".format, family_norm, given_norm, ids), profession, label, v[9], specialties,
            map("{} {} {}".format, family_norm, given_norm, words), facets, strict=True,
        ))
        previous = self.pending[0][_ROW][1] if self.pending else ""
        starts = list(map(operator.ne, ids, [previous, *ids[:-1]]))
        if True not in starts:  # the whole batch continues the pending person
            self.pending += zip(singles, words, facets, specialties, strict=True)
            return []
        first = starts.index(True)
        last = len(starts) - 1 - starts[::-1].index(True)
        persons: list[Row] = []
        if self.pending:
            persons.append(_merge_lines(self.pending + list(zip(singles[:first], words, facets, specialties,
                                                                strict=False))))
        ends = starts[first + 1:last + 1]  # the line after each line of [first, last) starts a person
        persons += _compress(singles[first:last], map(operator.and_, starts[first:last], ends))
        for index in _compress(range(first, last), map(operator.gt, starts[first:last], ends)):
            end = starts.index(True, index + 1)
            persons.append(_merge(singles[index], words[index:end], facets[index:end], specialties[index:end]))
        self.pending = list(zip(singles[last:], words[last:], facets[last:], specialties[last:], strict=True))
        return persons
