"""Directory, PostgreSQL: the ordered copy's words and filter tokens by display position (``directory_search_postings``) and its
vocabulary (``directory_search_vocabulary``), what SQLite's ``directory_search_fts`` is there: a word's rows
read in display order, so that a search page stops as soon as it is full (:mod:`directory.postings`).

Filled here from the copy a previous import left, then rebuilt by each activity import. Nothing on SQLite.

Revision ID: 0009_directory_search_postings
Revises: 0008_directory_search_fts
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

POSTINGS = "directory_search_postings"
VOCABULARY = "directory_search_vocabulary"
CHUNK = 256  # directory.postings.CHUNK when this was written (a migration keeps its own copy of the layout)
STATEMENTS = (
    f'CREATE TABLE {POSTINGS} (word text COLLATE "C" NOT NULL, first_pos integer NOT NULL, '
    "last_pos integer NOT NULL, positions integer[] NOT NULL, "
    f"CONSTRAINT pk_{POSTINGS} PRIMARY KEY (word, first_pos))",
    f'CREATE TABLE {VOCABULARY} (word text COLLATE "C" NOT NULL, lines integer NOT NULL, '
    f"CONSTRAINT pk_{VOCABULARY} PRIMARY KEY (word))",
    # each word's positions numbered in order and grouped by CHUNK
    f"INSERT INTO {POSTINGS} (word, first_pos, last_pos, positions) "  # noqa: S608
    "SELECT word, min(pos), max(pos), array_agg(pos ORDER BY pos) FROM ("
    f"SELECT word, pos, (row_number() OVER (PARTITION BY word ORDER BY pos) - 1) / {CHUNK} AS chunk FROM ("
    "SELECT DISTINCT word, pos FROM directory_search_persons, unnest(string_to_array(doc || ' ' || facets, ' ')) AS word "
    "WHERE word <> '') AS pairs) AS numbered GROUP BY word, chunk",
    f"INSERT INTO {VOCABULARY} (word, lines) "  # noqa: S608
    f"SELECT word, sum(cardinality(positions)) FROM {POSTINGS} GROUP BY word",
)

revision = "0009_directory_search_postings"
down_revision = "0008_directory_search_fts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)
    op.execute(f"ANALYZE {POSTINGS}")
    op.execute(f"ANALYZE {VOCABULARY}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(f"DROP TABLE {VOCABULARY}")
    op.execute(f"DROP TABLE {POSTINGS}")
