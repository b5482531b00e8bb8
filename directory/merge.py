"""Set-based merge of a staged extraction into the directory tables, with the counts of the report.

For each table: rows whose content changed are updated (and reactivated), new rows inserted, rows the
extraction no longer lists deactivated, and ``last_seen`` moved to the extraction date. Re-importing the same
file matches every row and changes nothing. All columns are NOT NULL (empty fields are empty strings), so
``<>`` compares values the same way on SQLite and PostgreSQL.

Persons and structures are aggregated from the activity lines (one line per activity): word lists are
deduplicated and sorted by ``dir_words`` (a Python function on SQLite, a ``pg_temp`` SQL function on
PostgreSQL) so that the derived text is the same whatever order the lines came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.base import UTCDateTime

PERSON_COLUMNS = (
    "id_type", "id_pp", "civility", "title", "family", "given", "family_norm", "given_norm", "sort_key",
    "profession_code", "profession_label", "category_code", "specialties", "doc", "facets",
)
STRUCTURE_COLUMNS = (
    "name", "name_norm", "siret", "siren", "finess_site", "finess_legal", "technical_id", "address",
    "address_complement", "postal_code", "commune_code", "city", "department", "phone", "sector_code",
)
ACTIVITY_COLUMNS = (
    "id_nat", "structure_key", "mode_code", "specialty_code", "specialty_label", "siret", "siren", "finess_site",
    "finess_legal", "technical_id", "structure_name", "address", "address_complement", "postal_code",
    "commune_code", "city", "department", "phone", "email", "sector_code", "function_code", "genre_code",
)
MAILBOX_COLUMNS = (
    "kind", "domain", "id_nat", "structure_id", "service", "civility", "family", "given", "profession_code",
    "profession_label", "specialty_code", "specialty_label", "dematerialised", "structure_name", "address_lines",
    "postal_code", "department", "country",
)


@dataclass(slots=True)
class Counts:
    inserted: int = 0
    updated: int = 0
    deactivated: int = 0


def dir_words(value: str | None, separator: str) -> str:
    """Distinct non-empty items of ``value`` sorted (byte order) and joined again."""
    if not value:
        return ""
    return separator.join(sorted({item.strip() for item in value.split(separator)} - {""}))


_PG_DIR_WORDS = """
CREATE OR REPLACE FUNCTION pg_temp.dir_words(value text, sep text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(array_to_string(ARRAY(
    SELECT DISTINCT btrim(item) COLLATE "C" FROM unnest(string_to_array(value, sep)) AS item WHERE btrim(item) <> ''
    ORDER BY 1), sep), '')
$$
"""


class Merger:
    """The merge statements of one import, on its connection, for one extraction date."""

    def __init__(self, connection: AsyncConnection, seen: date, now: datetime) -> None:
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.params: dict[str, Any] = {"seen": seen, "now": now}
        self.temp = "temp." if self.sqlite else ""

    async def prepare(self) -> None:
        if self.sqlite:
            raw = await self.connection.get_raw_connection()
            await raw.driver_connection.create_function("dir_words", 2, dir_words, deterministic=True)  # type: ignore[union-attr]
        else:
            await self.connection.execute(text(_PG_DIR_WORDS))

    async def run(self, sql: str) -> int:
        types: dict[str, Any] = {"seen": Date(), "now": UTCDateTime()}
        used = [name for name in types if f":{name}" in sql]
        statement = text(sql).bindparams(*(bindparam(name, type_=types[name]) for name in used))
        result = await self.connection.execute(statement, {name: self.params[name] for name in used})
        return int(getattr(result, "rowcount", 0) or 0)

    def _words(self, column: str, separator: str) -> str:
        function = "dir_words" if self.sqlite else "pg_temp.dir_words"
        aggregate = "group_concat" if self.sqlite else "string_agg"
        return f"{function}({aggregate}({column}, '{separator}'), '{separator}')"

    def _create_as(self, name: str, select: str) -> str:
        if self.sqlite:
            return f"CREATE TEMP TABLE {name} AS {select}"
        return f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {select}"

    async def duplicates(self, staging: str, key: str) -> list[tuple[int, str]]:
        """Remove the lines whose key an earlier line already had; return them for the rejects file."""
        await self.run(f"CREATE INDEX {self.temp}ix_{staging}_key ON {staging} ({key}, line_no)")
        later = (
            f"EXISTS (SELECT 1 FROM {self.temp}{staging} AS first WHERE first.{key} = {staging}.{key} "  # noqa: S608
            f"AND first.line_no < {staging}.line_no)"
        )
        result = await self.connection.execute(
            text(f"SELECT line_no, {key} FROM {self.temp}{staging} WHERE {later} ORDER BY line_no")  # noqa: S608
        )
        rows = [(int(row[0]), str(row[1])) for row in result]
        if rows:
            await self.run(f"DELETE FROM {self.temp}{staging} WHERE {later}")  # noqa: S608
        return rows

    async def stage_persons(self) -> None:
        select = f"""
            SELECT id_nat, MIN(id_type) AS id_type, MIN(id_pp) AS id_pp, MIN(civility) AS civility,
                   MIN(title) AS title, MIN(family) AS family, MIN(given) AS given, MIN(family_norm) AS family_norm,
                   MIN(given_norm) AS given_norm,
                   MIN(family_norm) || ' ' || MIN(given_norm) || ' ' || id_nat AS sort_key,
                   MIN(profession_code) AS profession_code, MIN(profession_label) AS profession_label,
                   MIN(category_code) AS category_code, {self._words("spec_pair", ";")} AS specialties,
                   MIN(family_norm) || ' ' || MIN(given_norm) || ' ' || {self._words("words", " ")} AS doc,
                   {self._words("facets", " ")} AS facets
            FROM {self.temp}stg_activity GROUP BY id_nat
        """  # noqa: S608
        await self.run(self._create_as("stg_person", select))
        await self.run(f"CREATE INDEX {self.temp}ix_stg_person_id_nat ON stg_person (id_nat)")

    async def stage_structures(self) -> None:
        columns = ", ".join(
            f"MIN({'structure_name' if c == 'name' else 'structure_norm' if c == 'name_norm' else c}) AS {c}"
            for c in STRUCTURE_COLUMNS
        )
        select = (
            f"SELECT structure_key AS key, {columns} FROM {self.temp}stg_activity "  # noqa: S608
            "WHERE structure_key <> '' GROUP BY structure_key"
        )
        await self.run(self._create_as("stg_structure", select))
        await self.run(f"CREATE INDEX {self.temp}ix_stg_structure_key ON stg_structure (key)")

    async def merge(self, target: str, staging: str, key: str, columns: tuple[str, ...]) -> Counts:
        s = f"{self.temp}{staging}"
        changed = " OR ".join(f"{target}.{column} <> s.{column}" for column in columns)
        assignments = ", ".join(f"{column} = s.{column}" for column in columns)
        counts = Counts()
        counts.updated = await self.run(
            f"UPDATE {target} SET {assignments}, active = true, last_seen = :seen, updated_at = :now "  # noqa: S608
            f"FROM {s} AS s WHERE {target}.{key} = s.{key} AND ({changed} OR NOT {target}.active)"
        )
        await self.run(
            f"UPDATE {target} SET last_seen = :seen WHERE last_seen < :seen "  # noqa: S608
            f"AND EXISTS (SELECT 1 FROM {s} AS s WHERE s.{key} = {target}.{key})"
        )
        listed = ", ".join(f"s.{column}" for column in columns)
        counts.inserted = await self.run(
            f"INSERT INTO {target} ({key}, {', '.join(columns)}, active, last_seen, updated_at) "  # noqa: S608
            f"SELECT s.{key}, {listed}, true, :seen, :now FROM {s} AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE t.{key} = s.{key})"
        )
        counts.deactivated = await self.run(
            f"UPDATE {target} SET active = false, updated_at = :now WHERE active "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE s.{key} = {target}.{key})"
        )
        return counts

    async def drop(self, *staging: str) -> None:
        if self.sqlite:
            for name in staging:
                await self.run(f"DROP TABLE IF EXISTS temp.{name}")
