"""Directory: the activities' key is unique through an index, no longer a table constraint.

SQLite cannot drop a table constraint, so a first load had to insert the 2,000,000 activity lines of the
national file in key order for the constraint's index to grow at its end: the helper process that builds them
(``directory.aggregate``) sorted the lines' wide rows (8 s), and the import waited for it. A unique index is
dropped and built once after the rows like the other indexes, so the lines go in as they come and the index
is built from their keys alone. The same unique index on PostgreSQL (its first load drops and builds it too).
SQLite rebuilds the table (its rows are copied, the constraint left out); PostgreSQL swaps the constraint for
the index. Downgrade does the reverse.

Revision ID: 0016_directory_activities_key
Revises: 0015_directory_facet_pairs
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0016_directory_activities_key"
down_revision = "0015_directory_facet_pairs"
branch_labels = None
depends_on = None

TABLE = "directory_activities"
NAME = "uq_directory_activities_key"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(TABLE, recreate="always") as batch:
            batch.drop_constraint(NAME, type_="unique")
    else:
        op.drop_constraint(NAME, TABLE, type_="unique")
    op.create_index(NAME, TABLE, ["key"], unique=True)


def downgrade() -> None:
    op.drop_index(NAME, table_name=TABLE)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(TABLE, recreate="always") as batch:
            batch.create_unique_constraint(NAME, ["key"])
    else:
        op.create_unique_constraint(NAME, TABLE, ["key"])
