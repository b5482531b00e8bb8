"""Directory: a profession/place pair of filter tokens is written ``p10:c69003`` (it was ``p10c69003``).

SQLite's word index (FTS5, ``unicode61``) splits a pair on the colon, so it holds no pair term: it has the
pair's two tokens already and intersects them, in display order, when a search filters on both. The pairs
were 6 of the 14 million tokens of the 2,000,000-line benchmark and more than a third of the index's fill at
each import. PostgreSQL's postings (words split on spaces) keep each pair whole, its short positions list
being what makes "doctors in 69003" fast there. (``directory.staging.PAIR``.)

Upgrade rewrites the stored filter tokens: the persons' and the ordered copy's ``facets`` (each string's
tokens in sorted order, as the import writes them), the word counts (``~`` + token), and on PostgreSQL the
words of the postings and of their vocabulary (their positions do not change); SQLite's word index is filled
again from the copy. A pair is recognised as a profession token (``p…``) made of another profession token
and a place token (``c…``, ``d…``, ``v…``) that the stored filter tokens also hold. Downgrade removes the
colons and fills SQLite's word index again (its pair terms come back).

Revision ID: 0015_directory_facet_pairs
Revises: 0014_directory_copy_all_persons
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015_directory_facet_pairs"
down_revision = "0014_directory_copy_all_persons"
branch_labels = None
depends_on = None

PAIR = ":"  # directory.staging.PAIR when this was written (a migration keeps its own copy of the format)
TABLES = ("directory_persons", "directory_search_persons")
WORD_TABLES = ("directory_search_postings", "directory_search_vocabulary")  # PostgreSQL
FACET_WORD = "~"  # directory.batch.FACET_WORD: a filter token's word count is that of "~" + token
# PostgreSQL: the ordered copy's facets are its person's (the copy is rebuilt from the persons whenever one
# changes): taken from the rewritten persons rather than rewritten a second time
COPY_FACETS = ("UPDATE directory_search_persons AS c SET facets = p.facets FROM directory_persons AS p "
               "WHERE p.id = c.id AND c.facets <> p.facets")
FTS_FILL = ("INSERT INTO directory_search_fts(directory_search_fts) VALUES ('delete-all')",
            "INSERT INTO directory_search_fts(rowid, words) SELECT pos, doc || ' ' || facets FROM directory_search_persons")


def pairs(tokens: set[str]) -> dict[str, str]:
    """Each pair among ``tokens`` (``p10c69003``) and how it is written now (``p10:c69003``)."""
    jobs = {token for token in tokens if token.startswith("p")}
    places = {token for token in tokens if token[:1] in ("c", "d", "v")}
    found = {}
    for token in jobs:
        for cut in range(2, len(token)):
            if token[cut] in "cdv" and token[:cut] in jobs and token[cut:] in places:
                found[token] = token[:cut] + PAIR + token[cut:]
                break
    return found


def rewritten(facets: str, renamed: dict[str, str]) -> str:
    return " ".join(sorted(renamed.get(token, token) for token in facets.split(" ")))


def _sqlite_upgrade(connection: Any) -> None:
    """In SQL functions of the migration's connection: the tokens gathered in one pass, then every string
    rewritten in the next (no row is fetched through the driver)."""
    driver = connection.connection.dbapi_connection
    tokens: set[str] = set()

    def gather(facets: str) -> int:
        tokens.update(facets.split(" "))
        return 0

    renamed: dict[str, str] = {}
    functions = {"mssante_facet_tokens": gather, "mssante_facet_pairs": lambda facets: rewritten(facets, renamed),
                 "mssante_facet_pair": lambda token: renamed.get(token, token)}
    for name, function in functions.items():
        driver.create_function(name, 1, function)
    try:
        connection.execute(sa.text("SELECT sum(mssante_facet_tokens(facets)) FROM directory_persons"))
        renamed.update(pairs(tokens))
        if not renamed:
            return
        for table in TABLES:  # the copy's too (reading them from the persons row by row took 30 s instead of 23)
            op.execute(f"UPDATE {table} SET facets = mssante_facet_pairs(facets) WHERE facets <> ''")  # noqa: S608
        op.execute(f"UPDATE directory_words SET word = '{FACET_WORD}' || mssante_facet_pair(substr(word, 2)) "  # noqa: S608
                   f"WHERE word LIKE '{FACET_WORD}p%'")
        for statement in FTS_FILL:
            op.execute(statement)
    finally:  # the connection goes back to the pool: without its functions (and what they hold)
        for name in functions:
            driver.create_function(name, 1, None)


def _postgresql_upgrade(connection: Any) -> None:
    """The tokens gathered by the server, the pairs' new names in a temporary table, every string rewritten
    with them in SQL."""
    tokens = {str(row[0]) for row in connection.execute(sa.text(
        "SELECT DISTINCT token FROM directory_persons, unnest(string_to_array(facets, ' ')) AS token"))}
    renamed = pairs(tokens)
    if not renamed:
        return
    op.execute('CREATE TEMP TABLE facet_pairs (old text COLLATE "C" PRIMARY KEY, new text COLLATE "C" NOT NULL) '
               "ON COMMIT DROP")
    connection.execute(sa.text("INSERT INTO facet_pairs SELECT * FROM unnest(CAST(:old AS text[]), CAST(:new AS text[]))"),
                       {"old": list(renamed), "new": list(renamed.values())})
    op.execute(
        "UPDATE directory_persons AS t SET facets = f.facets FROM ("
        'SELECT x.id, string_agg(coalesce(m.new, x.token), \' \' ORDER BY coalesce(m.new, x.token) COLLATE "C") '
        "AS facets FROM (SELECT id, unnest(string_to_array(facets, ' ')) AS token FROM directory_persons "
        "WHERE facets <> '') AS x LEFT JOIN facet_pairs AS m ON m.old = x.token GROUP BY x.id) AS f "
        "WHERE f.id = t.id AND f.facets <> t.facets"
    )
    op.execute(COPY_FACETS)
    for table in WORD_TABLES:
        op.execute(f"UPDATE {table} AS w SET word = m.new FROM facet_pairs AS m WHERE w.word = m.old")  # noqa: S608
    op.execute(f"UPDATE directory_words AS w SET word = '{FACET_WORD}' || m.new FROM facet_pairs AS m "  # noqa: S608
               f"WHERE w.word = '{FACET_WORD}' || m.old")
    for table in (*TABLES, *WORD_TABLES):
        op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        _sqlite_upgrade(connection)
    else:
        _postgresql_upgrade(connection)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    words = ("directory_words",) if sqlite else ("directory_words", *WORD_TABLES)
    for table in TABLES:
        op.execute(f"UPDATE {table} SET facets = replace(facets, '{PAIR}', '') WHERE facets LIKE '%{PAIR}%'")  # noqa: S608
    for table in words:
        op.execute(f"UPDATE {table} SET word = replace(word, '{PAIR}', '') WHERE word LIKE '%{PAIR}%'")  # noqa: S608
    if sqlite:
        for statement in FTS_FILL:
            op.execute(statement)
