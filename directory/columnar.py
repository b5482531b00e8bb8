"""The parsing processes' parser: a batch of activity lines to staging rows without a Python object per value
(polars, one thread).

:class:`directory.batch.ActivityBatches` already works column by column, but every value of every line is a
Python string there (splitting a line alone costs as much as the rest of the parse). Here the batch is read as
a ``|``-separated table by polars (the used columns only) and the rows are column expressions. What is derived
from a few columns (folded names, a line's words, the values of its filter tokens) is computed once per distinct
key of the batch and spread back by the keys' codes: names by polars, words and tokens by ``directory.batch``'s
and ``directory.staging``'s cached functions (a line's tokens are then paired and joined by polars). Persons
come from their consecutive lines (``rle_id``). Only the activity keys' BLAKE2b digests are computed per line in
Python. The rows leave as PostgreSQL ``COPY`` text bytes or as frames that
:class:`FrameScratch` writes into the process's SQLite staging file through ADBC.

It gives exactly what :class:`~directory.batch.ActivityBatches` gives (``tests/directory/test_batch.py``
compares both with the line-by-line reference parser), and hands it every batch it does not take:

- a UTF-8 batch whose lines pass the fast path's checks is read as it is (:meth:`ColumnarBatches._as_is`: the
  line pattern's checks made on the bytes and column by column, not line by line). Otherwise the lines are
  decoded, those the pattern refuses go through the reference parser (rejected with their reason, or put back
  as their stripped values), and the clean text is read;
- a batch holding a carriage return inside a line, a line longer than ``MAX_LINE``, a family name that folds
  to nothing, an activity key met twice, or a name with a character above U+024F goes wholly to
  ``ActivityBatches``. The last rule is the folding's: polars' Unicode tables give
  :func:`directory.text.fold`'s result for every character up to U+024F (checked one by one), not for all the
  others (combining marks of class 0, for one);
- the pending person (the one a batch ends with) is kept as ``ActivityBatches`` keeps it, so that both paths
  can take turns on one file.

Word counts are tallied per batch, from the distinct keys, as (word, lines) frames summed as they come.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # a parsing process: one core each; set before polars loads

import polars as pl

from directory.batch import (
    _NAME_WIDTH,
    _ROW,
    FACET_WORD,
    TOTAL_WORD,
    ActivityBatches,
    Row,
    Staged,
    _digest,
    _hexdigest,
    _merge_lines,
    _words,
    decode_batch,
    used_columns,
)
from directory.extraction import _ACTIVITY_KEYS, MAX_FIELD, MAX_LINE, Header, Rejected, _fields, parse_activity
from directory.staging import ACTIVITY_COLUMNS, PAIR, PERSON_COLUMNS, copy_text, definitions, facet
from policies.identifiers import _IDNAT_PS

_TALLY_EVERY = 16  # batches whose word tallies are summed into one frame (a bounded list of frames)


def _sorted_unique(joined: pl.Expr, separator: str) -> pl.Expr:
    """The distinct non-empty items of a ``separator``-joined string, sorted (bytes order is code point order in
    UTF-8) and joined again: :func:`directory.batch._sorted_words`. The empty item, if any, sorts first and
    leaves a leading separator that is stripped."""
    return (joined.str.split(separator).list.unique().list.sort().list.join(separator)
            .str.strip_chars_start(separator))


def _joined(*columns: pl.Expr) -> pl.Expr:
    """:func:`directory.extraction._join`: the non-empty values joined by spaces."""
    return pl.concat_str([pl.when(column != "").then(column) for column in columns], separator=" ",
                         ignore_nulls=True).fill_null("")


class ColumnarBatches(ActivityBatches):
    """:class:`~directory.batch.ActivityBatches` with :meth:`staged` taking clean batches columnar."""

    def __init__(self, header: Header, encoding: str) -> None:
        super().__init__(header, encoding)
        self.tallies: list[pl.DataFrame] = []  # (word, lines) of the batches taken here, summed as they come
        self.lines = _line_columns(tuple(self.positions), header.columns)
        self.valid = _valid(header)
        self.plain_names = pl.all_horizontal([~pl.col(f"column_{header.positions[key]}").str.contains(BEYOND)
                                              for key in _FOLDED if key in header.positions]).all()
        self.used = sorted({position for position in self.positions if position < header.columns})

    def staged(self, first_line: int, raws: list[bytes], copy: bool,
               last: bool = False) -> tuple[Staged, Staged, list[Rejected], int]:
        """:meth:`ActivityBatches.staged`, the rows of a batch taken here as a frame each when not ``copy``."""
        longest = max(map(len, raws), default=0)
        if raws and longest <= MAX_LINE:
            data = b"".join(raws)
            table = self._as_is(raws, data, longest) if self.encoding == "utf-8" else None
            if table is not None:  # the usual batch: no decoding in Python, no line pattern
                result = self._frames(table, list(range(first_line, first_line + len(raws))))
                if result is not None:
                    return self._output(result, [], len(raws), copy, last, _escaped(data))
            texts = decode_batch(raws, self.encoding)
            numbers = list(range(first_line, first_line + len(raws)))
            kept = raws
            if "" in texts:
                keep = [index for index, value in enumerate(texts) if value]
                texts, numbers, kept = [texts[i] for i in keep], [numbers[i] for i in keep], [raws[i] for i in keep]
            taken = self._clean(texts, kept, numbers) if texts else None
            if taken is not None:
                text, numbers, rejects = taken
                table = _read(text.encode(), self.used)
                plain = table is not None and table.select(self.plain_names).item()
                result = self._frames(table, numbers) if table is not None and plain else None
                if result is not None:
                    return self._output(result, rejects, len(texts), copy, last, _escaped(text.encode()))
        return super().staged(first_line, raws, copy, last)  # ActivityBatches decides (and gives the reasons)

    def _output(self, result: tuple[pl.DataFrame, pl.DataFrame, list[Row]], rejects: list[Rejected], read: int,
                copy: bool, last: bool, escaped: bool) -> tuple[Staged, Staged, list[Rejected], int]:
        """The batch's rows as ``COPY`` text or frames; ``escaped``: its lines hold a character ``COPY`` text
        escapes (no derived value adds one: folded names, words and tokens are ``[a-z0-9 ]``)."""
        activities, persons, closed = result
        if last:
            closed += self.flush()
        if copy:
            return _text(activities, escaped), _text(persons, escaped) + copy_text(closed), rejects, read
        return activities, persons.vstack(frame_of(closed, PERSON_COLUMNS)), rejects, read

    @staticmethod
    def clear_caches() -> None:
        ActivityBatches.clear_caches()
        _words_of.cache_clear()
        _token.cache_clear()

    def _as_is(self, raws: list[bytes], data: bytes, longest: int) -> pl.DataFrame | None:
        """The batch as a table when every line is one the fast path takes as it is: the checks of
        :func:`directory.batch.line_pattern` (the field count and trailing ``|`` of each line here; no field
        longer than ``MAX_FIELD`` as no line is; the used values column by column) and no character above
        U+024F to fold. ``data``: the lines joined; ``longest``: the longest line's length."""
        if (b"\r" in data or longest > MAX_FIELD
                or set(map(bytes.count, raws, itertools.repeat(b"|"))) != {self.header.columns}
                or data.count(b"|\n") + (not data.endswith(b"\n")) != len(raws) or not data.endswith((b"|\n", b"|"))):
            return None  # CR LF line ends, a long line, a line of another field count or without its last "|"
        table = _read(data, self.used)
        if table is None or table.height != len(raws) or not table.select(self.valid).item():
            return None
        return table

    def _clean(self, texts: list[str], raws: list[bytes],
               numbers: list[int]) -> tuple[str, list[int], list[Rejected]] | None:
        """The batch's lines as one text of clean lines (odd lines through the reference parser), their numbers
        and the rejected lines; ``None`` for a batch this path does not take."""
        rejects: list[Rejected] = []
        matched = list(map(self.pattern.fullmatch, texts))
        if None in matched:
            header, encoding, clean = self.header, self.encoding, list(texts)
            dropped = set()
            for index in [index for index, match in enumerate(matched) if match is None]:
                raw = raws[index]
                record = parse_activity(header, numbers[index], raw, encoding)
                if isinstance(record, Rejected):
                    rejects.append(record)
                    dropped.add(index)
                    continue
                fields = _fields(header, numbers[index], raw, encoding)
                if isinstance(fields, Rejected) or len(fields) < header.columns:
                    return None
                clean[index] = "|".join(field.strip() for field in fields[:header.columns]) + "|"
            texts = [text for index, text in enumerate(clean) if index not in dropped]
            numbers = [number for index, number in enumerate(numbers) if index not in dropped]
            if not texts:
                return None
        text = "\n".join(texts)
        if "\r" in text:
            return None
        return text, numbers, rejects

    def _frames(self, table: pl.DataFrame, numbers: list[int]) -> tuple[pl.DataFrame, pl.DataFrame, list[Row]] | None:
        """The activity rows, the rows of the persons the batch closes (a frame, and the one closed by merging
        with the pending person's lines as a tuple), or ``None`` for a batch this path does not take. State
        (pending person, keys, counts) changes only when the batch is taken."""
        if table.height != len(numbers):
            return None
        lines, strings = self.lines.of(table)
        lines = lines.with_columns(pl.Series("line_no", numbers, pl.Int64))
        if (lines.get_column("family_norm") == "").any():
            return None
        digests = map(_hexdigest, map(_digest, lines.get_column("identity").cast(pl.Binary).to_list()))
        lines = lines.with_columns((pl.col("id_nat") + "-" + pl.Series("digest", list(digests), pl.String))
                                   .alias("key"))
        keys = lines.get_column("key")
        if keys.n_unique() != len(keys):
            return None
        ids = lines.get_column("id_nat")
        runs = ids.rle_id()
        last_run = runs[-1]
        previous = self.pending[0][_ROW][1] if self.pending else None
        continues = previous == ids[0]
        head = int((runs == 0).sum()) if continues else 0
        if continues and not self.keys.isdisjoint(keys[:head].to_list()):
            return None
        tail = len(ids) - int((runs == last_run).sum())
        activities = lines.select(ACTIVITY_COLUMNS)
        self._tally(strings, lines.height)
        closed: list[Row] = []
        if continues and last_run == 0:  # the whole batch continues the pending person
            self.pending += _pending(lines)
            self.keys.update(keys.to_list())
            return activities, lines.clear().select(_SINGLE_OUT), closed
        if self.pending:
            closed.append(_merge_lines(self.pending + (_pending(lines[:head]) if continues else [])))
        self.pending = _pending(lines[tail:])
        self.keys = set(keys[tail:].to_list())
        # a person's lines are consecutive: one alone differs from both neighbours' (no grouping needed), and the
        # others' runs ascend (a grouping of sorted keys, no hashing)
        middle = lines[head:tail].with_columns(runs[head:tail].set_sorted().alias("run"))
        persons = middle.lazy().with_columns(_ALONE.alias("alone"))
        singles = persons.filter("alone").select(_SINGLE_OUT)
        several = persons.filter(~pl.col("alone")).group_by("run", maintain_order=True).agg(_MERGED).select(
            PERSON_COLUMNS)
        return activities, pl.concat([singles, several]).collect(), closed

    def _tally(self, strings: pl.DataFrame, accepted: int) -> None:
        """Count the words of the batch's word strings (names, a line's words) and filter-token strings, given
        with the lines carrying them, as they come (the words of a part are far fewer than its distinct
        strings: a lower peak of memory)."""
        self.tallies.append(_word_counts(strings))
        self.accepted += accepted
        if len(self.tallies) >= _TALLY_EVERY:
            self.tallies = [_summed(self.tallies)]

    def vocabulary(self) -> dict[str, int]:
        """:meth:`ActivityBatches.vocabulary` of every batch, whichever path took it."""
        counted = [_word_counts(pl.DataFrame({"value": list(counts), "facet": [facet] * len(counts),
                                        "lines": list(counts.values())}, schema=_STRINGS))
                   for counts, facet in ((self.counts, False), (self.facet_counts, True))]
        self.counts.clear()
        self.facet_counts.clear()
        words = _summed([*self.tallies, *counted])
        self.tallies = []
        vocabulary = dict(zip(words.get_column("word").to_list(), words.get_column("lines").to_list(), strict=True))
        vocabulary[TOTAL_WORD] = self.accepted
        return vocabulary


_STRINGS = {"value": pl.String, "facet": pl.Boolean, "lines": pl.Int64}
_COUNTED = frozenset({"family_norm", "given_norm", "words"})  # directory_words: names, words (and the filter tokens)


def _word_counts(strings: pl.DataFrame) -> pl.DataFrame:
    """(word, lines) from (string, is a filter-token string, lines): each word once per string it is in, a
    filter token as ``~`` + token (:func:`directory.batch.vocabulary`)."""
    return (strings.lazy().with_columns(pl.col("value").str.split(" ").list.unique()).explode("value")
            .filter(pl.col("value") != "")
            .select(pl.when(pl.col("facet")).then(pl.lit(FACET_WORD) + pl.col("value")).otherwise(pl.col("value"))
                    .alias("word"), pl.col("lines").cast(pl.Int64))
            .group_by("word").agg(pl.col("lines").sum()).collect())


def _summed(tallies: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(tallies).group_by("word").agg(pl.col("lines").sum())


# polars' read_csv takes data beginning like this for a compressed stream (gzip, zlib, zstd) and inflates it (or
# fails with OSError): a batch whose first line begins so (a line "x^…") is left to the reference parser
COMPRESSED = (b"\x1f\x8b", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x28\xb5\x2f\xfd")


def _read(data: bytes, positions: list[int]) -> pl.DataFrame | None:
    """The values at ``positions`` of lines of ``|``-separated values (the caller knows each line has the
    header's field count) as a table of strings (``column_<position>``); ``None`` when the lines are not UTF-8
    text, or begin as polars would take for a compressed stream (:data:`COMPRESSED`)."""
    if data.startswith(COMPRESSED):
        return None
    try:
        table = pl.read_csv(io.BytesIO(data), separator="|", quote_char=None, has_header=False, infer_schema=False,
                            empty_string_is_null=False, raise_if_empty=True, columns=positions)
    except (pl.exceptions.PolarsError, OSError):  # OSError: a decompression polars would attempt all the same
        return None
    return table if table.width == len(positions) and not sum(table.null_count().row(0)) else None


def frame_of(rows: list[Row], columns: Sequence[str]) -> pl.DataFrame:
    """Staging rows (tuples) as a frame: the line number an integer, the rest strings."""
    schema = {column: pl.Int64 if column == "line_no" else pl.String for column in columns}
    return pl.DataFrame(rows, schema=schema, orient="row")


class FrameScratch:
    """A parsing process's own staging tables for a SQLite import: a throwaway database file (no journal, no
    sync: it dies with the import) that the import's connection attaches and copies from in one statement.
    Written through ADBC's SQLite driver: a frame's columns go into the table without a Python object per
    value (3 µs a line instead of 9 for ``rows()`` and ``sqlite3``'s ``executemany``); tuples (the batches
    :class:`~directory.batch.ActivityBatches` parses) become a frame first. The file is an ordinary SQLite
    database. Errors are raised as ``sqlite3.Error``, which the parsing process reports."""

    def __init__(self, path: str) -> None:
        import adbc_driver_manager  # noqa: PLC0415 - a parsing process's, for SQLite only
        import adbc_driver_sqlite  # noqa: PLC0415

        self.manager = adbc_driver_manager
        with self._errors():
            self.database = adbc_driver_sqlite.connect(path)
            self.connection = adbc_driver_manager.AdbcConnection(self.database)
            for pragma in ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF"):
                self._run(pragma, rows=True)  # outside a transaction, as SQLite requires
            self.connection.set_options(**{"adbc.connection.autocommit": "false"})
            for name, columns in (("stg_activity", ACTIVITY_COLUMNS), ("stg_person", PERSON_COLUMNS)):
                self._run(f"CREATE TABLE {name} ({definitions(columns, sqlite=True)})")

    def write(self, name: str, rows: Staged) -> None:
        if isinstance(rows, bytes):
            raise TypeError("a SQLite staging file takes rows or a frame")
        columns = ACTIVITY_COLUMNS if name == "stg_activity" else PERSON_COLUMNS
        frame = rows if isinstance(rows, pl.DataFrame) else frame_of(rows, columns)
        if not frame.height:
            return
        with self._errors():
            statement = self.manager.AdbcStatement(self.connection)
            statement.set_options(**{"adbc.ingest.target_table": name, "adbc.ingest.mode": "adbc.ingest.mode.append"})
            statement.bind_stream(frame.select(columns).__arrow_c_stream__())
            statement.execute_update()
            statement.close()

    def close(self) -> None:
        with self._errors():
            self.connection.commit()
            self.connection.close()
            self.database.close()

    def _run(self, sql: str, *, rows: bool = False) -> None:
        statement = self.manager.AdbcStatement(self.connection)
        statement.set_sql_query(sql)
        if rows:  # a PRAGMA answers with a row
            statement.execute_query()
        else:
            statement.execute_update()
        statement.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self.manager.Error as error:
            raise sqlite3.OperationalError(str(error)) from error


def _escaped(data: bytes) -> bool:
    """Lines holding a character that ``COPY`` text escapes (line ends aside: a value holds none)."""
    return b"\\" in data or b"\t" in data


def _text(frame: pl.DataFrame, escaped: bool) -> bytes:
    """:func:`directory.staging.copy_text` of a frame: values separated by tabs, a backslash, tab, line feed or
    carriage return escaped when ``escaped`` says a value may hold one (rare). Text, not CSV: the server parses
    it faster (0.4 against 0.6 s of its CPU for 200,000 activity rows)."""
    if not frame.height:
        return b""
    if escaped:
        strings = [name for name, kind in frame.schema.items() if kind == pl.String]
        frame = frame.with_columns([pl.col(name).str.replace_all("\\", "\\\\", literal=True)
                                    .str.replace_all("\t", "\\t", literal=True)
                                    .str.replace_all("\n", "\\n", literal=True)
                                    .str.replace_all("\r", "\\r", literal=True) for name in strings])
    out = io.BytesIO()
    frame.write_csv(out, include_header=False, separator="\t", quote_style="never", line_terminator="\n")
    return out.getvalue()


def _pending(lines: pl.DataFrame) -> list[tuple[Row, str, str, str]]:
    """Lines as :class:`ActivityBatches` keeps its pending person's: (person row, words, tokens, specialty)."""
    rows = lines.select(_SINGLE_OUT).rows()
    extra = lines.select("words", "facets", "specialty").rows()
    return [(row, *rest) for row, rest in zip(rows, extra, strict=True)]


# The person rows' columns (directory.staging.PERSON_COLUMNS) as expressions over a batch's line columns
# (_line_columns): a one-line person's, and a several-line person's in a group_by of their lines.
_NAMES = pl.concat_str(["family_norm", "given_norm"], separator=" ")
_RUN = pl.col("run")
_ALONE = (_RUN.shift(1) != _RUN).fill_null(True) & (_RUN.shift(-1) != _RUN).fill_null(True)  # a one-line person's
_SINGLE_OUT = [
    *PERSON_COLUMNS[:10], pl.concat_str([_NAMES, "id_nat"], separator=" ").alias("sort_key"), *PERSON_COLUMNS[11:14],
    pl.col("specialty").alias("specialties"), pl.concat_str([_NAMES, "words"], separator=" ").alias("doc"), "facets",
]
_MERGED = [
    *[pl.col(name).first() for name in PERSON_COLUMNS[:10]], pl.concat_str([_NAMES, "id_nat"], separator=" ")
    .first().alias("sort_key"), *[pl.col(name).first() for name in PERSON_COLUMNS[11:14]],
    pl.col("specialty").filter(pl.col("specialty") != "").unique().sort().str.join(";").alias("specialties"),
    pl.concat_str([_NAMES.first(), _sorted_unique(pl.col("words").str.join(" "), " ")], separator=" ").alias("doc"),
    _sorted_unique(pl.col("facets").str.join(" "), " ").alias("facets"),
]


@dataclass(frozen=True, slots=True)
class _Columns:
    """How a batch's lines become named columns: ``plain`` expressions over the table, ``distinct`` ones, each a
    key and the Python function (cached, :mod:`directory.batch`'s own) that derives the column's value from it,
    called once per distinct key of the batch: most lines share their family name, their words' labels and city
    with other lines of the batch or an earlier one, so these values cost a few Python calls per batch and
    :func:`directory.text.fold` stays the one folding; and ``tokens``, the values the filter tokens are made of
    (:func:`_tokens`)."""

    plain: list[pl.Expr]
    distinct: list[tuple[str, pl.Expr, Callable[[str], str] | int]]
    tokens: list[tuple[str, pl.Expr]]  # (prefix, value): profession, specialty, postal code, department, city

    def of(self, table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The lines' columns, and the lines carrying each word string and filter token (``_STRINGS``: by
        distinct key, from the keys' codes)."""
        keys = table.select([key.alias(name) for name, key, _ in self.distinct]
                            + [value.alias(prefix) for prefix, value in self.tokens])
        derived, strings = [], []
        for name, _, derive in self.distinct:
            key = keys.get_column(name)
            values = key.unique(maintain_order=True)
            codes = key.cast(pl.Enum(values)).to_physical()
            if isinstance(derive, int):  # a name folded to at most that many characters
                column = values.to_frame(name).select(fold(pl.col(name)).str.slice(0, derive)).to_series()
            else:
                column = pl.Series(name, list(map(derive, values.to_list())), pl.String)
            derived.append(column.gather(codes))
            if name in _COUNTED:
                counts = codes.value_counts(name="lines")
                strings.append(pl.DataFrame({"value": column.gather(counts.get_column(codes.name)),
                                             "facet": False, "lines": counts.get_column("lines")}))
        facets, tokens = _tokens(keys, [prefix for prefix, _ in self.tokens])
        derived.append(facets)
        counts = pl.concat([token.alias("value") for token in tokens]).drop_nulls().value_counts(name="lines")
        strings.append(counts.select("value", pl.lit(True).alias("facet"), "lines"))
        tallied = pl.concat([frame.cast(_STRINGS) for frame in strings])  # type: ignore[arg-type]
        return table.select(self.plain).with_columns(derived), tallied


def _tokens(keys: pl.DataFrame, prefixes: list[str]) -> tuple[pl.Series, list[pl.Series]]:
    """The lines' filter tokens (``facets``: :func:`directory.batch._facets`, in the same sorted order) and
    each kind of token as a column (null where a line has none): each value squashed once per distinct value of
    the batch (:func:`directory.staging.facet`, cached), the pairs and the joined string by polars. A line's
    tokens are distinct (each kind has its own prefix), so the lines carrying a token are its count over the
    kinds' columns."""
    kinds = {}
    for prefix in prefixes:
        key = keys.get_column(prefix)
        values = key.unique(maintain_order=True)
        tokens = pl.Series(prefix, [_token(prefix, value) for value in values.to_list()], pl.String)
        kinds[prefix] = tokens.gather(key.cast(pl.Enum(values)).to_physical())
    job = kinds["p"]
    places = [kinds[prefix] for prefix in "cdv"]
    paired = pl.select([pl.concat_str([job, pl.lit(PAIR), place]).alias("p" + place.name) for place in places])
    ordered = [*places[:2], job, *paired.get_columns(), kinds["s"], places[2]]
    joined = pl.select(pl.concat_str(ordered, separator=" ", ignore_nulls=True).fill_null("").alias("facets"))
    return joined.to_series(), ordered


@functools.lru_cache(maxsize=16_384)
def _token(prefix: str, value: str) -> str | None:
    return facet(prefix, value) or None


_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o", "ł": "l"}
BEYOND = r"[^\x00-\x{24F}]"  # what polars may fold otherwise than directory.text.fold


def fold(column: pl.Expr) -> pl.Expr:
    """:func:`directory.text.fold` of each value without a character above U+024F (``_valid`` sees to it:
    polars' Unicode tables give fold's result for every character up to U+024F, checked one by one, not for
    all the others, combining marks of class 0 for one)."""
    return (column.str.replace_many(list(_LIGATURES), list(_LIGATURES.values())).str.normalize("NFKD")
            .str.replace_all(r"\p{Mn}", "").str.to_lowercase().str.replace_all(r"[^a-z0-9]+", " ")
            .str.strip_chars(" "))


@functools.lru_cache(maxsize=16_384)
def _words_of(key: str) -> str:
    """:func:`directory.batch._words` of a ``profession label|specialty label|city`` key (cached by key: one
    string per entry instead of three)."""
    return _words.__wrapped__(*key.split("|"))


@functools.lru_cache(maxsize=8)
def _line_columns(positions: Sequence[int], width: int) -> _Columns:
    """Each line's values by name (``_ACTIVITY_KEYS``; a column missing from the file's generation reads empty)
    and what is derived from them: folded names, words, filter tokens, specialty, structure key, addresses and
    the activity key's identity (digested in Python)."""
    def value(key: str) -> pl.Expr:
        position = positions[_ACTIVITY_KEYS.index(key)]
        return pl.col(f"column_{position}") if position < width else pl.lit("", pl.String)

    v = {key: value(key) for key in _ACTIVITY_KEYS}
    structure = (pl.when(v["technical_id"] != "").then(v["technical_id"])
                 .when(v["finess_site"] != "").then(pl.lit("F") + v["finess_site"])
                 .when(v["siret"] != "").then(pl.lit("S") + v["siret"]).otherwise(pl.lit("")))
    passed = [v[key].alias(key) for key in _ACTIVITY_KEYS if key not in _DERIVED_ONLY]
    plain = [
        *passed,
        pl.when(v["specialty_code"] != "").then(pl.concat_str([v["specialty_code"], v["specialty_label"]],
                                                              separator="=")).otherwise(pl.lit("")).alias("specialty"),
        structure.alias("structure_key"),
        _joined(v["number"], v["repetition"], v["street_type"], v["street"]).alias("address"),
        _joined(v["complement"], v["place"], v["distribution"], v["cedex"]).alias("address_complement"),
        pl.concat_str([v["id_nat"], structure, v["mode_code"], v["sector_code"], v["function_code"],
                       v["genre_code"], v["specialty_code"]], separator="|").alias("identity"),
    ]

    def joined(*keys: str) -> pl.Expr:  # values hold no "|": one key for several columns
        return pl.concat_str([v[key] for key in keys], separator="|")

    distinct: list[tuple[str, pl.Expr, Callable[[str], str] | int]] = [
        ("family_norm", v["family"], _NAME_WIDTH), ("given_norm", v["given"], _NAME_WIDTH),
        ("structure_norm", v["structure_name"], 300),
        ("words", joined("profession_label", "specialty_label", "city"), _words_of),
    ]
    tokens = [("p", v["profession_code"]), ("s", v["specialty_code"]), ("c", v["postal_code"]),
              ("d", v["department"]), ("v", v["city"])]
    return _Columns(plain, distinct, tokens)


# Python's str.isspace() characters (what the reference parser strips): Unicode White_Space and \x1c-\x1f. A
# value is checked by stripping them from its ends (a third less CPU than one regular expression for both ends)
BLANKS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
          "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_FOLDED = frozenset({"family", "given", "structure_name"})  # folded by polars
_ID_NAT = "^(?:" + _IDNAT_PS.pattern.replace(r"\d", "[0-9]") + ")$"  # policies.identifiers', ASCII digits only


def _valid(header: Header) -> pl.Expr:
    """True when every value of a table passes :func:`directory.batch.line_pattern`'s checks (the idNat's digits
    ASCII only, a stricter test) and no name polars folds holds a character above U+024F."""
    checks = []
    for position, (key, limit) in used_columns(header).items():
        column = pl.col(f"column_{position}")
        if key == "id_nat":
            checks.append(column.str.contains(_ID_NAT))
        else:
            checks.append((column.str.len_chars() <= limit) & (column.str.strip_chars(BLANKS) == column))
            if key in _FOLDED:
                checks.append(~column.str.contains(BEYOND))
    return pl.all_horizontal(checks).all()


_DERIVED_ONLY = frozenset({"number", "repetition", "street_type", "street", "complement", "place", "distribution",
                           "cedex"})
