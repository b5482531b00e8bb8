"""PostgreSQL: the ordered copy's words and filter tokens by display position, so that a word's rows are read in
display order.

SQLite has FTS5 for this (``directory_search_fts``, rowid = ``pos``). PostgreSQL's GIN indexes only give
bitmaps, so a search page that wants the first rows of a common word in display order would read them all. Here
each word of the copy's ``doc`` and each filter token of its ``facets`` has its positions
(``directory_search_persons.pos``) in ascending order, cut in chunks of :data:`CHUNK`:
``directory_search_postings (word, first_pos, last_pos, positions int[])``, primary key ``(word, first_pos)``. A
search reads the chunks of a word that overlap a range of positions and unnests them
(:mod:`directory.search_ordered`). ``directory_search_vocabulary (word, lines)`` lists every word and token with
the number of rows holding it: how many rows a word, or the words a prefix starts, bring.

Both are rebuilt from the copy after each activity import that changed it (:func:`rebuild`), in the import's
transaction; migration ``0009_directory_search_postings`` creates them and fills them once in SQL.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CHUNK = 256  # positions per row: a chunk is ~1 KiB, stored inline (no TOAST), unnested in a few microseconds
READ_BATCH = 20_000  # copy rows read per round trip while building

POSTINGS = "directory_search_postings"
VOCABULARY = "directory_search_vocabulary"
# The tables themselves: migration 0009_directory_search_postings (which can also fill them from SQL alone).


def chunks(positions: dict[str, array[int]]) -> Iterator[tuple[str, int, int, list[int]]]:
    """The rows of ``directory_search_postings`` for these words' ascending positions, in key order."""
    for word in sorted(positions):
        found = positions[word]
        for start in range(0, len(found), CHUNK):
            part = found[start:start + CHUNK]
            yield word, part[0], part[-1], part.tolist()


def collect(rows: Sequence[Any], positions: dict[str, array[int]]) -> None:
    """Add each ``(pos, doc, facets)`` row's distinct words and tokens to ``positions`` (rows come in ascending
    ``pos``)."""
    for pos, doc, facets in rows:
        for word in {*doc.split(), *facets.split()}:
            found = positions.get(word)
            if found is None:
                positions[word] = found = array("i")
            found.append(pos)


async def rebuild(connection: AsyncConnection) -> None:
    """Replace both tables from the ordered copy (PostgreSQL, in the caller's transaction). The copy is read in
    ``pos`` order by keyset batches; the positions are held as 4-byte arrays (about 4 bytes a posting: ~100 MiB
    for 2 million activity lines) and written with COPY."""
    await connection.execute(text(f"TRUNCATE {POSTINGS}, {VOCABULARY}"))
    positions: dict[str, array[int]] = {}
    last = 0
    while True:
        rows = (await connection.execute(text(
            "SELECT pos, doc, facets FROM directory_search_persons WHERE pos > :last ORDER BY pos LIMIT :size"
        ), {"last": last, "size": READ_BATCH})).all()
        if not rows:
            break
        collect(rows, positions)
        last = int(rows[-1][0])
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(POSTINGS, records=chunks(positions),
                                       columns=["word", "first_pos", "last_pos", "positions"])
    await driver.copy_records_to_table(VOCABULARY, records=sorted((w, len(p)) for w, p in positions.items()),
                                       columns=["word", "lines"])
