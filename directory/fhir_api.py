"""FHIR R4 read API: ``/fhir/Practitioner``, ``/fhir/PractitionerRole``, ``/fhir/Organization``.

Search returns ``searchset`` Bundles paged by an opaque ``_cursor`` in the ``next`` link (keyset paging, so a
page never shifts when rows change); ``_count`` defaults to 50 like the national directory and is capped at
100. String parameters (``family``, ``given``, ``name``) follow FHIR string matching, case- and
accent-insensitive and starting with the value, extended to the start of any word of the name (``pierre``
finds Jean-Pierre, ``fontaine`` finds DE LA FONTAINE). An unknown parameter is an error (FHIR strict handling) and every
error is an ``OperationOutcome``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, Integer, TextClause, column, exists, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from directory import fhir
from directory.errors import InvalidQuery, NotFound
from directory.models import Activity, Mailbox, Person, SearchPerson, Structure
from directory.problems import FhirRoute
from directory.search_query import decode_cursor, encode_cursor
from directory.search_sql import PREFIX_INDEXED, Binder
from directory.text import fold, words
from storage.engine import Database

router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)
DEFAULT_COUNT = 50
MAX_COUNT = 100
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 id datatype
_COMMON = {"_count", "_cursor", "_format", "active"}
FHIR_JSON = "application/fhir+json"

Condition = ColumnElement[bool] | TextClause


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _params(request: Request, allowed: set[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed | _COMMON:
            raise InvalidQuery(name, f"the search parameter {name!r} is not supported here")
        if name in params:
            raise InvalidQuery(name, f"{name} is given more than once")
        if len(value) > 256:
            raise InvalidQuery(name, f"{name} is longer than 256 characters")
        params[name] = value
    return params


def _count(params: dict[str, str]) -> int:
    raw = params.get("_count", str(DEFAULT_COUNT))
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidQuery("_count", "_count must be a positive whole number")
    return min(int(raw), MAX_COUNT)


def _active(params: dict[str, str]) -> bool | None:
    value = params.get("active")
    if value is None:
        return None
    if value not in ("true", "false"):
        raise InvalidQuery("active", "active is true or false")
    return value == "true"


def _token(value: str) -> str:
    """The value of a token parameter, ``system|value`` or ``value``."""
    return value.rpartition("|")[2].strip()


def _string(value: str, columns: list[Any], parameter: str) -> tuple[list[str], Condition]:
    """FHIR string match: the folded words (read from the copy's word index, see :func:`_in_display_order`), and
    starts-with on a column (the check on each candidate)."""
    folded = fold(value)
    if not folded:
        raise InvalidQuery(parameter, f"{parameter} must contain letters or digits")
    starts = or_(*(condition for column in columns for condition in (
        column.like(f"{folded}%"), column.like(f"% {folded}%"))))
    return words(value)[:8], starts


_FTS = table("directory_search_fts", column("rowid"))


def _in_display_order(sqlite: bool, terms: list[str], after: str | None) -> Any:
    """The persons in display order, read from the search's copy of them (every person, active or not) and
    joined to the person table by id. Words of the names are read from the copy's word index in that same order
    (its positions), so that a page stops as soon as it is full: SQLite's FTS5 yields rowids (``pos``) in order;
    PostgreSQL's postings are sorted first, then joined in order. A one-letter word is only checked on the rows
    (it starts words of most rows: SQLite has no prefix index for it, and PostgreSQL would sort millions of
    positions). ``after``: the cursor's key; the page starts at the first position above it."""
    joined = Person.id == SearchPerson.id
    indexed = sorted({term for term in terms if len(term) >= PREFIX_INDEXED})
    bind = Binder("fhir")
    start = None if after is None else bind.pos_of(after, strictly=True)
    if sqlite and indexed:
        where = [bind.fts(indexed), *([] if start is None else [f"directory_search_fts.rowid >= {start}"])]
        return (select(Person).select_from(_FTS).join(SearchPerson, SearchPerson.pos == _FTS.c.rowid)
                .join(Person, joined).where(text(" AND ".join(where)).bindparams(**bind.parameters))
                .order_by(_FTS.c.rowid))
    if indexed:  # PostgreSQL: the candidates' positions sorted, then the rows joined in that order
        positions = bind.postings([(term, False) for term in indexed], low=start)
        found = (text(f"SELECT pos FROM ({positions}) AS x ORDER BY pos").bindparams(**bind.parameters)  # noqa: S608
                 .columns(column("pos", Integer)).subquery("d"))
        return (select(Person).select_from(found).join(SearchPerson, SearchPerson.pos == found.c.pos)
                .join(Person, joined).order_by(found.c.pos))
    statement = select(Person).join(SearchPerson, joined).order_by(SearchPerson.pos)
    if start is None:
        return statement
    return statement.where(text(f"directory_search_persons.pos >= {start}").bindparams(**bind.parameters))


def _fingerprint(params: dict[str, str]) -> str:
    return fold(repr(sorted((k, v) for k, v in params.items() if k not in ("_cursor", "_count"))))[-24:] or "all"


def _bundle(request: Request, params: dict[str, str], resources: list[dict[str, Any]], cursor: str | None
            ) -> JSONResponse:
    base = str(request.base_url).rstrip("/") + "/fhir"
    self_url = str(request.url)
    next_url = None
    if cursor is not None:
        next_url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?" + urlencode(
            {**params, "_cursor": cursor})
    return JSONResponse(fhir.bundle(resources, base, self_url, next_url), media_type=FHIR_JSON)


async def _mailboxes_of_persons(session: AsyncSession, ids: list[str]) -> dict[str, list[Mailbox]]:
    found: dict[str, list[Mailbox]] = {}
    if ids:
        statement = select(Mailbox).where(Mailbox.id_nat.in_(ids), Mailbox.active.is_(True)).order_by(Mailbox.address)
        for box in await session.scalars(statement):
            found.setdefault(box.id_nat, []).append(box)
    return found


@router.get("/Practitioner", summary="Search practitioners (FHIR searchset Bundle)")
async def search_practitioners(request: Request) -> JSONResponse:
    params = _params(request, {"identifier", "family", "given", "name", "mailbox-mss"})
    count = _count(params)
    active = _active(params)
    async with _database(request).read() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        conditions: list[Condition] = []
        if "identifier" in params:
            value = _token(params["identifier"])
            persons = select(Person.sort_key).where(or_(Person.id_nat == value, Person.id_pp == value))
            conditions.append(SearchPerson.sort_key.in_(persons))  # the copy's primary key
        terms: list[str] = []
        for name, columns in (("family", [SearchPerson.family_norm]), ("given", [Person.given_norm]),
                              ("name", [SearchPerson.family_norm, Person.given_norm])):
            if name in params:
                found, starts = _string(params[name], columns, name)
                terms += found
                conditions.append(starts)
        if "mailbox-mss" in params:
            address = _token(params["mailbox-mss"]).lower()
            owners = select(Person.sort_key).where(Person.id_nat.in_(select(Mailbox.id_nat).where(
                Mailbox.address == address)))
            conditions.append(SearchPerson.sort_key.in_(owners))
        if active is not None:
            conditions.append(SearchPerson.active.is_(active))
        fingerprint = _fingerprint(params)
        after = decode_cursor(params["_cursor"], fingerprint)[1] if "_cursor" in params else None
        if after is not None:
            conditions.append(SearchPerson.sort_key > after)
        statement = _in_display_order(sqlite, terms, after).where(*conditions).limit(count + 1)
        rows = list(await session.scalars(statement))
        page = rows[:count]
        boxes = await _mailboxes_of_persons(session, [person.id_nat for person in page])
    cursor = encode_cursor(0, page[-1].sort_key, fingerprint) if len(rows) > count else None
    resources = [fhir.practitioner(person, boxes.get(person.id_nat, [])) for person in page]
    return _bundle(request, params, resources, cursor)


def _checked_id(resource_id: str) -> str:
    if not _ID.fullmatch(resource_id):
        raise InvalidQuery("id", "a FHIR id is 1 to 64 letters, digits, '-' or '.'")
    return resource_id


@router.get("/Practitioner/{resource_id}", summary="Read a practitioner by idNat")
async def read_practitioner(request: Request, resource_id: str) -> JSONResponse:
    resource_id = _checked_id(resource_id)
    async with _database(request).read() as session:
        person = (await session.scalars(select(Person).where(Person.id_nat == resource_id))).first()
        if person is None:
            raise NotFound(f"Practitioner/{resource_id} is not known")
        boxes = await _mailboxes_of_persons(session, [person.id_nat])
    return JSONResponse(fhir.practitioner(person, boxes.get(person.id_nat, [])), media_type=FHIR_JSON)


def _int_id(value: str, parameter: str, prefix: str) -> int:
    value = value.removeprefix(prefix)
    if not value.isdigit() or len(value) > 18:
        raise InvalidQuery(parameter, f"{parameter} must be {prefix}<number>")
    return int(value)


def _role_query() -> Any:
    return (
        select(Activity, Person, Structure.id)
        .outerjoin(Person, Person.id_nat == Activity.id_nat)
        .outerjoin(Structure, Structure.key == Activity.structure_key)
    )


@router.get("/PractitionerRole", summary="Search practitioner roles (one per activity)")
async def search_roles(request: Request) -> JSONResponse:
    params = _params(request, {"practitioner", "organization", "mailbox-mss"})
    count = _count(params)
    active = _active(params)
    conditions: list[Condition] = []
    if "practitioner" in params:
        conditions.append(Activity.id_nat == params["practitioner"].removeprefix("Practitioner/"))
    if "organization" in params:
        conditions.append(Structure.id == _int_id(params["organization"], "organization", "Organization/"))
    if "mailbox-mss" in params:
        address = _token(params["mailbox-mss"]).lower()
        conditions.append(exists().where(Mailbox.id_nat == Activity.id_nat, Mailbox.address == address))
    if active is not None:
        conditions.append(Activity.active.is_(active))
    fingerprint = _fingerprint(params)
    if "_cursor" in params:
        after = decode_cursor(params["_cursor"], fingerprint)[1]
        conditions.append(Activity.id > _int_id(after, "_cursor", ""))
    async with _database(request).read() as session:
        rows = (await session.execute(_role_query().where(*conditions).order_by(Activity.id).limit(count + 1))).all()
    page = rows[:count]
    cursor = encode_cursor(0, str(page[-1][0].id), fingerprint) if len(rows) > count else None
    return _bundle(request, params, [fhir.practitioner_role(*row) for row in page], cursor)


@router.get("/PractitionerRole/{resource_id}", summary="Read a practitioner role")
async def read_role(request: Request, resource_id: str) -> JSONResponse:
    number = _int_id(_checked_id(resource_id), "id", "")
    async with _database(request).read() as session:
        row = (await session.execute(_role_query().where(Activity.id == number))).first()
    if row is None:
        raise NotFound(f"PractitionerRole/{resource_id} is not known")
    return JSONResponse(fhir.practitioner_role(*row), media_type=FHIR_JSON)


async def _structure_mailboxes(session: AsyncSession, structures: list[Structure]) -> dict[str, list[Mailbox]]:
    ids = {f"1{s.finess_site}" for s in structures if s.finess_site} | {f"3{s.siret}" for s in structures if s.siret}
    found: dict[str, list[Mailbox]] = {}
    if ids:
        statement = select(Mailbox).where(
            Mailbox.structure_id.in_(ids), Mailbox.kind != "PER", Mailbox.active.is_(True)
        ).order_by(Mailbox.address)
        for box in await session.scalars(statement):
            found.setdefault(box.structure_id, []).append(box)
    return found


def _organization(structure: Structure, boxes: dict[str, list[Mailbox]]) -> dict[str, Any]:
    own = boxes.get(f"1{structure.finess_site}", []) if structure.finess_site else []
    own = own or (boxes.get(f"3{structure.siret}", []) if structure.siret else [])
    return fhir.organization(structure, own)


@router.get("/Organization", summary="Search organisations (structures)")
async def search_organizations(request: Request) -> JSONResponse:
    params = _params(request, {"identifier", "name"})
    count = _count(params)
    active = _active(params)
    conditions: list[Condition] = []
    if "identifier" in params:
        value = _token(params["identifier"])
        conditions.append(or_(
            Structure.key == value, Structure.finess_site == value, Structure.siret == value,
            Structure.finess_site == value[1:] if value.startswith("1") else Structure.siret == value[1:],
        ))
    if "name" in params:
        folded = fold(params["name"])
        if not folded:
            raise InvalidQuery("name", "name must contain letters or digits")
        conditions.append(Structure.name_norm.like(f"{folded}%"))
    if active is not None:
        conditions.append(Structure.active.is_(active))
    fingerprint = _fingerprint(params)
    if "_cursor" in params:
        conditions.append(Structure.id > _int_id(decode_cursor(params["_cursor"], fingerprint)[1], "_cursor", ""))
    async with _database(request).read() as session:
        rows = list(await session.scalars(select(Structure).where(*conditions).order_by(Structure.id).limit(count + 1)))
        page = rows[:count]
        boxes = await _structure_mailboxes(session, page)
    cursor = encode_cursor(0, str(page[-1].id), fingerprint) if len(rows) > count else None
    return _bundle(request, params, [_organization(structure, boxes) for structure in page], cursor)


@router.get("/Organization/{resource_id}", summary="Read an organisation")
async def read_organization(request: Request, resource_id: str) -> JSONResponse:
    number = _int_id(_checked_id(resource_id), "id", "")
    async with _database(request).read() as session:
        structure = (await session.scalars(select(Structure).where(Structure.id == number))).first()
        if structure is None:
            raise NotFound(f"Organization/{resource_id} is not known")
        boxes = await _structure_mailboxes(session, [structure])
    return JSONResponse(_organization(structure, boxes), media_type=FHIR_JSON)
