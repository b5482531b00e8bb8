"""The directory's JSON API: practitioner search with cursor pagination, exact lookups, address resolution.

``GET /api/directory/practitioners`` searches; ``GET /api/directory/practitioners/{identifier}`` looks up an
idNat, RPPS, ADELI or mailbox address; ``GET /api/directory/mailboxes?q=`` finds addresses containing a
fragment and ``GET /api/directory/mailboxes/{address}`` resolves an address to its owner. Errors are RFC 9457
problems; ``limit`` above 100 is capped.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from directory.errors import NotFound
from directory.mailbox_search import find_mailboxes
from directory.problems import Problem, ProblemRoute
from directory.resolve import Resolver
from directory.search import lookup, search
from directory.search_query import DEFAULT_LIMIT, MAX_LIMIT, Practitioner, SearchQuery
from storage.engine import Database

router = APIRouter(prefix="/api/directory", tags=["directory"], route_class=ProblemRoute)
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": Problem, "description": "a parameter is malformed (RFC 9457 problem)"},
    404: {"model": Problem, "description": "nothing has this identifier (RFC 9457 problem)"},
}


class PlaceOut(BaseModel):
    structure: str
    address: str
    postal_code: str
    city: str
    department: str
    phone: str
    mode: str = Field(description="L liberal, S salaried, B volunteer")


class PractitionerOut(BaseModel):
    id_nat: str = Field(description="national id: 8 + RPPS or 0 + ADELI")
    id_type: str
    id_pp: str
    civility: str
    title: str
    family: str
    given: str
    profession_code: str
    profession_label: str
    specialties: list[tuple[str, str]]
    active: bool
    mailboxes: list[str]
    places: list[PlaceOut]


class PageOut(BaseModel):
    items: list[PractitionerOut]
    next_cursor: str | None = Field(description="pass as cursor= for the next page; null on the last page")
    limit: int


class MailboxOut(BaseModel):
    address: str
    mailbox_type: str
    display_name: str
    profession_label: str
    structure_name: str


class MailboxPageOut(BaseModel):
    items: list[MailboxOut]
    next_cursor: str | None
    limit: int


class OwnerOut(BaseModel):
    address: str
    mailbox_type: str
    kind: str
    id_nat: str
    structure_id: str
    display_name: str
    civility: str
    family: str
    given: str
    profession_code: str
    profession_label: str
    specialty_code: str
    specialty_label: str
    structure_name: str
    service: str
    dematerialised: bool
    active: bool


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def resolver_of(request: Request) -> Resolver:
    """The app's shared resolver (created on first use)."""
    state = request.app.state
    resolver: Resolver | None = getattr(state, "directory_resolver", None)
    if resolver is None:
        resolver = Resolver(_database(request))
        state.directory_resolver = resolver
    return resolver


def _out(practitioner: Practitioner) -> PractitionerOut:
    return PractitionerOut.model_validate(asdict(practitioner))


@router.get("/practitioners", response_model=PageOut, responses=ERRORS, summary="Search practitioners")
async def search_practitioners(
    request: Request,
    q: Annotated[str, Query(max_length=200, description="free text: names, profession, specialty, city")] = "",
    profession: Annotated[str | None, Query(description="profession code (TRE_G15), e.g. 10")] = None,
    specialty: Annotated[str | None, Query(description="specialty code, e.g. SM04")] = None,
    city: Annotated[str | None, Query(description="city name or its start")] = None,
    postal_code: Annotated[str | None, Query(description="postal code or its start")] = None,
    department: Annotated[str | None, Query(description="department code, e.g. 69 or 2A")] = None,
    mailbox: Annotated[str | None, Query(description="exact MSSanté mailbox address")] = None,
    has_mailbox: Annotated[bool | None, Query(description="only practitioners with (or without) a mailbox")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(description=f"page size, capped at {MAX_LIMIT}")] = DEFAULT_LIMIT,
) -> PageOut:
    query = SearchQuery(q, profession, specialty, city, postal_code, department, mailbox, has_mailbox, cursor, limit)
    async with _database(request).read() as session:
        page = await search(session, query)
    return PageOut(items=[_out(item) for item in page.items], next_cursor=page.next_cursor, limit=page.limit)


@router.get("/practitioners/{identifier}", response_model=PractitionerOut, responses=ERRORS,
            summary="One practitioner by idNat, RPPS, ADELI or mailbox address")
async def get_practitioner(
    request: Request, identifier: Annotated[str, Path(max_length=254)]
) -> PractitionerOut:
    async with _database(request).read() as session:
        found = await lookup(session, identifier)
    if found is None:
        raise NotFound(f"no practitioner has the identifier {identifier!r}")
    return _out(found)


@router.get("/mailboxes", response_model=MailboxPageOut, responses=ERRORS,
            summary="Find mailbox addresses containing a fragment")
async def find_mailbox_addresses(
    request: Request,
    q: Annotated[str, Query(min_length=3, max_length=254, description="part of the address, e.g. cardio@chu")],
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(description=f"page size, capped at {MAX_LIMIT}")] = DEFAULT_LIMIT,
) -> MailboxPageOut:
    async with _database(request).read() as session:
        page = await find_mailboxes(session, q, cursor, limit)
    return MailboxPageOut(items=[MailboxOut.model_validate(asdict(item)) for item in page.items],
                          next_cursor=page.next_cursor, limit=page.limit)


@router.get("/mailboxes/{address}", response_model=OwnerOut, responses=ERRORS, summary="Resolve a mailbox address")
async def resolve_mailbox(request: Request, address: Annotated[str, Path(max_length=254)]) -> OwnerOut:
    owner = await resolver_of(request).resolve(address)
    if owner is None:
        raise NotFound(f"{address!r} is not a mailbox of the directory")
    return OwnerOut(display_name=owner.display_name, **asdict(owner))
