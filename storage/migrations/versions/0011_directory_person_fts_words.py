"""Directory, SQLite: the persons' full-text index keeps their words only (``doc``), not their filter tokens.

Every search with a filter reads its tokens from the ordered copy's word index (``directory_search_fts``), so
indexing them again here only cost each import's rebuild of this index (its larger half). Re-created as it was
in ``0003_directory`` with one column, its triggers likewise, and rebuilt from the persons already there.

Revision ID: 0011_directory_person_fts_words
Revises: 0010_directory_no_facets_gin
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0011_directory_person_fts_words"
down_revision = "0010_directory_no_facets_gin"
branch_labels = None
depends_on = None

TRIGGERS = ("insert", "delete", "update")


def _create(columns: list[str]) -> None:
    listed = ", ".join(columns)
    old = ", ".join(f"old.{column}" for column in columns)
    new = ", ".join(f"new.{column}" for column in columns)
    delete = (f"INSERT INTO directory_person_fts(directory_person_fts, rowid, {listed}) "  # noqa: S608
              f"VALUES ('delete', old.id, {old});")
    insert = f"INSERT INTO directory_person_fts(rowid, {listed}) VALUES (new.id, {new});"  # noqa: S608
    op.execute(f"CREATE VIRTUAL TABLE directory_person_fts USING fts5({listed}, content='directory_persons', "
               "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')")
    op.execute(f"CREATE TRIGGER directory_persons_fts_insert AFTER INSERT ON directory_persons BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER directory_persons_fts_delete AFTER DELETE ON directory_persons BEGIN {delete} END")
    op.execute(f"CREATE TRIGGER directory_persons_fts_update AFTER UPDATE OF {listed} ON directory_persons "
               f"BEGIN {delete} {insert} END")
    op.execute("INSERT INTO directory_person_fts(directory_person_fts) VALUES ('rebuild')")


def _drop() -> None:
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS directory_persons_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS directory_person_fts")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _drop()
        _create(["doc"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _drop()
        _create(["doc", "facets"])
