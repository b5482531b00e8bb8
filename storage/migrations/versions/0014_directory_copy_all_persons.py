"""Directory: the search's ordered copy holds every person (an ``active`` column says which are active), and the
person table loses its own search indexes.

Searches already read the copy and its word index (SQLite ``directory_search_fts``, PostgreSQL
``directory_search_postings``); what still read the person table in display order or by word (the FHIR API's
searches over active and inactive persons, searches with one-letter words or a mailbox condition alone) now
read the copy too. So the persons' two display-order indexes, SQLite's persons' full-text index (table and
triggers) and PostgreSQL's GIN index of the names go: a first load of the national file no longer builds them
(SQLite: 6-7 s of indexes and 5 s of full-text index at 2,000,000 lines; PostgreSQL: 10 s and 4 s).

The copy is filled again here, with its word index, only when some person is inactive (otherwise it holds every
person already). Going back restores the indexes and a copy of the active persons.

Revision ID: 0014_directory_copy_all_persons
Revises: 0013_directory_person_fts_lean
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_directory_copy_all_persons"
down_revision = "0013_directory_person_fts_lean"
branch_labels = None
depends_on = None

COPY = "directory_search_persons"
SORT_INDEXES = {
    "ix_directory_persons_family_sort": ["family_norm", "sort_key"],
    "ix_directory_persons_sort_key": ["sort_key", "family_norm", "active"],
}
PERSON_TRIGGERS = ("insert", "delete", "update")
NAMES_GIN = ("CREATE INDEX ix_directory_persons_names_tsv ON directory_persons "
             "USING gin (to_tsvector('simple'::regconfig, family_norm || ' ' || given_norm))")
CHUNK = 256  # directory.postings.CHUNK when this was written (a migration keeps its own copy of the layout)
POSTINGS_FILL = (
    "INSERT INTO directory_search_postings (word, first_pos, last_pos, positions) "  # noqa: S608
    "SELECT word, min(pos), max(pos), array_agg(pos ORDER BY pos) FROM ("
    f"SELECT word, pos, (row_number() OVER (PARTITION BY word ORDER BY pos) - 1) / {CHUNK} AS chunk FROM ("
    f"SELECT DISTINCT word, pos FROM {COPY}, unnest(string_to_array(doc || ' ' || facets, ' ')) AS word "
    "WHERE word <> '') AS pairs) AS numbered GROUP BY word, chunk",
    "INSERT INTO directory_search_vocabulary (word, lines) "
    "SELECT word, sum(cardinality(positions)) FROM directory_search_postings GROUP BY word",
)


def _refill(every: bool) -> None:
    """The copy (every person, or the active ones) numbered in display order, and its word index."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    order = "sort_key || ''" if sqlite else "sort_key"
    op.execute(f"DELETE FROM {COPY}")  # noqa: S608
    active = ", active" if every else ""
    op.execute(f"INSERT INTO {COPY} (sort_key, id, pos, family_norm, doc, facets{active}) "  # noqa: S608
               f"SELECT sort_key, id, row_number() OVER (ORDER BY {order}), family_norm, doc, facets{active} "
               f"FROM directory_persons {'' if every else 'WHERE active '}ORDER BY {order}")
    if sqlite:
        op.execute("INSERT INTO directory_search_fts(directory_search_fts) VALUES ('delete-all')")
        op.execute(f"INSERT INTO directory_search_fts(rowid, words) SELECT pos, doc || ' ' || facets FROM {COPY}")  # noqa: S608
    else:
        op.execute("TRUNCATE directory_search_postings, directory_search_vocabulary")
        for statement in POSTINGS_FILL:
            op.execute(statement)
        for table in (COPY, "directory_search_postings", "directory_search_vocabulary"):
            op.execute(f"ANALYZE {table}")


def _some_inactive() -> bool:
    return op.get_bind().execute(sa.text("SELECT 1 FROM directory_persons WHERE NOT active LIMIT 1")).first() is not None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in PERSON_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS directory_persons_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS directory_person_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_directory_persons_names_tsv")
    for name in SORT_INDEXES:
        op.drop_index(name, table_name="directory_persons")
    op.add_column(COPY, sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    if _some_inactive():
        _refill(every=True)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    inactive = _some_inactive()
    op.execute(f"ALTER TABLE {COPY} DROP COLUMN active")
    if inactive:
        _refill(every=False)
    for name, columns in SORT_INDEXES.items():
        op.create_index(name, "directory_persons", columns)
    if sqlite:
        delete = ("INSERT INTO directory_person_fts(directory_person_fts, rowid, doc) "
                  "VALUES ('delete', old.id, old.doc);")
        insert = "INSERT INTO directory_person_fts(rowid, doc) VALUES (new.id, new.doc);"
        op.execute("CREATE VIRTUAL TABLE directory_person_fts USING fts5(doc, content='directory_persons', "
                   "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3', detail=column, "
                   "columnsize=0)")
        op.execute(f"CREATE TRIGGER directory_persons_fts_insert AFTER INSERT ON directory_persons BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER directory_persons_fts_delete AFTER DELETE ON directory_persons BEGIN {delete} END")
        op.execute(f"CREATE TRIGGER directory_persons_fts_update AFTER UPDATE OF doc ON directory_persons "
                   f"BEGIN {delete} {insert} END")
        op.execute("INSERT INTO directory_person_fts(directory_person_fts) VALUES ('rebuild')")
    else:
        op.execute(NAMES_GIN)
