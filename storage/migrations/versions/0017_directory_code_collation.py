"""Directory, PostgreSQL: identifier columns compared byte by byte (``COLLATE "C"``).

The persons' idNat and RPPS/ADELI, the structures' key and FINESS site, the activities' key, idNat and structure
key, the mailboxes' address, domain, idNat and structure id are ASCII codes. Under the database's default
collation (a libc locale, even ``C.UTF-8``) PostgreSQL compares them through the locale and without abbreviated
keys: sorting them, which is what building their indexes does, took twice as long (2,000,000 activity keys:
2.2-3.1 s against 1.0-1.4 s). Equality is the same under any deterministic collation, so every lookup and join
finds the same rows; the staging tables already use ``"C"``. ``directory.models.Code``. Nothing on SQLite
(which compares bytes). Downgrade gives the columns the database's default collation back.

Revision ID: 0017_directory_code_collation
Revises: 0016_directory_activities_key
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0017_directory_code_collation"
down_revision = "0016_directory_activities_key"
branch_labels = None
depends_on = None

COLUMNS = {  # table: {column: length}
    "directory_persons": {"id_nat": 12, "id_pp": 12},
    "directory_structures": {"key": 40, "finess_site": 9},
    "directory_activities": {"key": 40, "id_nat": 12, "structure_key": 40},
    "directory_mailboxes": {"address": 254, "domain": 255, "id_nat": 12, "structure_id": 20},
}


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in COLUMNS.items():  # one statement a table: its indexes on them are built once
        changes = ", ".join(f'ALTER COLUMN {column} TYPE varchar({length}) COLLATE "{collation}"'
                            for column, length in columns.items())
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
