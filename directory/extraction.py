"""Parsing of the public directory extractions: pure functions over bytes, bounded, never trusting a line.

Two file kinds (DOMAIN.md): the practitioner activity extraction (``PS_LibreAcces_Personne_activite``, one line
per activity, 52 or 56 columns depending on its generation) and the mailbox extraction
(``Extraction_Correspondance_MSSante``, 31 columns). Both are ``|``-separated with one header line and a trailing
``|``; recent files are UTF-8, older ones latin-1. Columns are found by header name (folded, so that
``Code Département`` and ``Code département`` are the same column), never by position.

A bad line becomes a :class:`Rejected` with its line number and a reason and the import goes on; only a header
that is not one of ours raises :class:`~directory.errors.ExtractionError`.
"""

from __future__ import annotations

import codecs
import enum
import functools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from directory.errors import ExtractionError
from directory.text import fold
from policies.addresses import address_problem
from policies.identifiers import is_idnat_ps

MAX_LINE = 16 * 1024  # the longest real lines are under 1 KiB; anything longer is garbage
MAX_FIELD = 1000
MAX_COLUMNS = 200
BOM = b"\xef\xbb\xbf"


class Kind(enum.StrEnum):
    ACTIVITY = "activity"
    MAILBOX = "mailbox"


class Activity(NamedTuple):
    """One line of the activity extraction: a person's exercise at one place."""

    line_no: int
    id_type: str
    id_pp: str
    id_nat: str
    civility: str
    title: str
    family: str
    given: str
    profession_code: str
    profession_label: str
    category_code: str
    specialty_code: str
    specialty_label: str
    mode_code: str
    siret: str
    siren: str
    finess_site: str
    finess_legal: str
    technical_id: str
    structure_name: str
    address: str
    address_complement: str
    postal_code: str
    commune_code: str
    city: str
    department: str
    phone: str
    email: str
    sector_code: str
    function_code: str
    genre_code: str


class MailboxEntry(NamedTuple):
    """One line of the mailbox extraction: a mailbox and its owner as published."""

    line_no: int
    kind: str
    address: str
    domain: str
    id_nat: str
    id_pp: str
    structure_id: str
    service: str
    civility: str
    family: str
    given: str
    profession_code: str
    profession_label: str
    specialty_code: str
    specialty_label: str
    dematerialised: bool
    structure_name: str
    address_lines: str
    postal_code: str
    department: str
    country: str


class Rejected(NamedTuple):
    line_no: int
    reason: str
    raw: str


Record = Activity | MailboxEntry | Rejected

# canonical key -> accepted header names (folded); the first generation that used each spelling is irrelevant.
_ACTIVITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_type": ("type d identifiant pp",),
    "id_pp": ("identifiant pp",),
    "id_nat": ("identification nationale pp",),
    "civility": ("code civilite",),
    "title": ("code civilite d exercice",),
    "family": ("nom d exercice",),
    "given": ("prenom d exercice",),
    "profession_code": ("code profession",),
    "profession_label": ("libelle profession",),
    "category_code": ("code categorie professionnelle",),
    "specialty_code": ("code savoir faire",),
    "specialty_label": ("libelle savoir faire",),
    "mode_code": ("code mode exercice",),
    "siret": ("numero siret site",),
    "siren": ("numero siren site",),
    "finess_site": ("numero finess site",),
    "finess_legal": ("numero finess etablissement juridique",),
    "technical_id": ("identifiant technique de la structure",),
    "structure_name": ("raison sociale site",),
    "number": ("numero voie coord structure",),
    "repetition": ("indice repetition voie coord structure",),
    "street_type": ("libelle type de voie coord structure",),
    "street": ("libelle voie coord structure",),
    "complement": ("complement destinataire coord structure",),
    "place": ("complement point geographique coord structure",),
    "distribution": ("mention distribution coord structure",),
    "cedex": ("bureau cedex coord structure",),
    "postal_code": ("code postal coord structure",),
    "commune_code": ("code commune coord structure",),
    "city": ("libelle commune coord structure",),
    "phone": ("telephone coord structure",),
    "email": ("adresse e mail coord structure",),
    "department": ("code departement coord structure", "code departement structure"),
    "sector_code": ("code secteur d activite",),
    "function_code": ("code fonction", "code role"),
    "genre_code": ("code genre d activite", "code genre activite"),
}
_ACTIVITY_REQUIRED = ("id_nat", "family", "profession_code")

_MAILBOX_COLUMNS: dict[str, tuple[str, ...]] = {
    "kind": ("type de bal",),
    "address": ("adresse bal",),
    "id_pp": ("identifiant pp",),
    "id_nat": ("identification nationale pp",),
    "structure_id": ("identification structure",),
    "service": ("service de rattachement",),
    "civility": ("civilite d exercice",),
    "family": ("nom d exercice",),
    "given": ("prenom d exercice",),
    "profession_code": ("code profession",),
    "profession_label": ("libelle profession",),
    "specialty_code": ("code savoir faire",),
    "specialty_label": ("libelle savoir faire",),
    "dematerialised": ("dematerialisation",),
    "structure_name": ("raison sociale structure bal",),
    "line_1": ("complement localisation structure bal",),
    "line_2": ("complement distribution structure bal",),
    "line_3": ("numero voie structure bal",),
    "line_4": ("complement numero voie structure bal",),
    "line_5": ("type voie structure bal",),
    "line_6": ("libelle voie structure bal",),
    "line_7": ("lieu dit structure bal",),
    "line_8": ("ligne acheminement structure bal",),
    "postal_code": ("code postal structure bal",),
    "department": ("departement structure bal",),
    "country": ("pays structure bal",),
}
_MAILBOX_REQUIRED = ("kind", "address")
MAILBOX_KINDS = frozenset({"PER", "ORG", "APP", "CAB"})


@dataclass(frozen=True, slots=True, eq=False)
class Header:
    """Where each canonical column sits in this file, and what the file is."""

    kind: Kind
    columns: int
    positions: dict[str, int]

    def get(self, fields: list[str], key: str) -> str:
        position = self.positions.get(key)
        return fields[position].strip() if position is not None else ""

    def getter(self, keys: tuple[str, ...]) -> Callable[[list[str]], tuple[str, ...]]:
        """A fast reader of ``keys`` in order; a column the file lacks reads the empty field the caller appends
        one past the last."""
        return operator.itemgetter(*(self.positions.get(key, self.columns) for key in keys))


def detect_encoding(sample: bytes) -> str:
    """``utf-8`` when the sample decodes as UTF-8 (a character cut at the end is fine), else ``latin-1``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample.removeprefix(BOM), final=False)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def decode_line(raw: bytes, encoding: str) -> str:
    """The line as text without its end of line; a stray latin-1 line in a UTF-8 file still reads."""
    raw = raw.rstrip(b"\r\n")
    if encoding == "utf-8":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return raw.decode("latin-1")


def _split(text: str) -> list[str]:
    fields = text.split("|")
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()  # the trailing "|" every line carries
    return fields


def parse_header(raw: bytes, encoding: str) -> Header:
    """Recognise the file kind from its header line; raise :class:`ExtractionError` for anything else."""
    if len(raw) > MAX_LINE:
        raise ExtractionError("the first line is too long to be the header of a directory extraction")
    text = decode_line(raw.removeprefix(BOM), encoding)
    names = [fold(name) for name in _split(text)]
    if len(names) > MAX_COLUMNS:
        raise ExtractionError(f"the header has {len(names)} columns; a directory extraction has at most 56")
    index = {name: position for position, name in reversed(list(enumerate(names)))}
    for kind, table, required in (
        (Kind.MAILBOX, _MAILBOX_COLUMNS, _MAILBOX_REQUIRED),
        (Kind.ACTIVITY, _ACTIVITY_COLUMNS, _ACTIVITY_REQUIRED),
    ):
        positions = {
            key: index[alias] for key, aliases in table.items() for alias in aliases if alias in index
        }
        if all(key in positions for key in required):
            return Header(kind=kind, columns=len(names), positions=positions)
    raise ExtractionError(
        "this file is neither a practitioner activity extraction (PS_LibreAcces_Personne_activite) nor a "
        "mailbox extraction (Extraction_Correspondance_MSSante): its first line does not have their column names"
    )


def _fields(header: Header, line_no: int, raw: bytes, encoding: str) -> list[str] | Rejected:
    text = decode_line(raw, encoding)
    if len(raw) > MAX_LINE:
        return Rejected(line_no, f"the line is longer than {MAX_LINE} bytes", text[:200])
    fields = _split(text)
    if len(fields) != header.columns:
        return Rejected(line_no, f"expected {header.columns} fields, found {len(fields)}", text)
    if max(map(len, fields)) > MAX_FIELD:
        return Rejected(line_no, f"a field is longer than {MAX_FIELD} characters", text[:200])
    fields.append("")  # what a column missing from this generation reads as
    return fields


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


_ACTIVITY_KEYS = (
    "id_type", "id_pp", "id_nat", "civility", "title", "family", "given", "profession_code", "profession_label",
    "category_code", "specialty_code", "specialty_label", "mode_code", "siret", "siren", "finess_site",
    "finess_legal", "technical_id", "structure_name", "number", "repetition", "street_type", "street", "complement",
    "place", "distribution", "cedex", "postal_code", "commune_code", "city", "department", "phone", "email",
    "sector_code", "function_code", "genre_code",
)


@functools.lru_cache(maxsize=16)
def _activity_getter(header: Header) -> Callable[[list[str]], tuple[str, ...]]:
    return header.getter(_ACTIVITY_KEYS)


# The longest value each column may hold (the widths of directory.models); a longer value rejects the line.
ACTIVITY_LIMITS = (
    2, 12, 12, 8, 8, 200, 200, 4, 100, 4, 10, 200, 4, 14, 9, 9, 9, 40, 300, 100, 20, 100, 250, 100, 100, 100, 100,
    10, 10, 200, 4, 40, 254, 10, 10, 10,
)
MAILBOX_LIMITS = {
    "kind": 3, "id_nat": 12, "id_pp": 12, "structure_id": 20, "service": 200, "civility": 8, "family": 200,
    "given": 200, "profession_code": 4, "profession_label": 100, "specialty_code": 10, "specialty_label": 200,
    "structure_name": 300, "postal_code": 10, "department": 4, "country": 60,
    **{f"line_{n}": 100 for n in range(1, 9)},
}


def _too_long(values: list[str], keys: tuple[str, ...], limits: tuple[int, ...]) -> str | None:
    if not any(map(operator.gt, map(len, values), limits)):
        return None
    name = next(key for key, value, limit in zip(keys, values, limits, strict=True) if len(value) > limit)
    return f"the {name.replace('_', ' ')} is longer than {limits[keys.index(name)]} characters"


def parse_activity(header: Header, line_no: int, raw: bytes, encoding: str) -> Activity | Rejected:
    fields = _fields(header, line_no, raw, encoding)
    if isinstance(fields, Rejected):
        return fields
    v = list(map(str.strip, _activity_getter(header)(fields)))
    problem = _too_long(v, _ACTIVITY_KEYS, ACTIVITY_LIMITS)
    if problem is not None:
        return Rejected(line_no, problem, "|".join(fields[:-1]))
    id_nat = v[2]
    if not is_idnat_ps(id_nat):
        reason = f"Identification nationale PP {id_nat[:20]!r} is not an RPPS or ADELI idNat"
        return Rejected(line_no, reason, "|".join(fields[:-1]))
    if not fold(v[5]):
        return Rejected(line_no, "Nom d'exercice is empty", "|".join(fields[:-1]))
    return Activity._make([line_no, *v[:19], _join(*v[19:23]), _join(*v[23:27]), *v[27:]])


def parse_mailbox(header: Header, line_no: int, raw: bytes, encoding: str) -> MailboxEntry | Rejected:
    fields = _fields(header, line_no, raw, encoding)
    if isinstance(fields, Rejected):
        return fields
    get = header.get
    kind = get(fields, "kind").upper()
    if kind not in MAILBOX_KINDS:
        return Rejected(line_no, f"Type de BAL {kind[:10]!r} is not PER, ORG, APP or CAB", "|".join(fields[:-1]))
    address = get(fields, "address").lower()
    problem = address_problem(address)
    if problem:
        return Rejected(line_no, f"Adresse BAL: {problem}", "|".join(fields[:-1]))
    id_nat = get(fields, "id_nat")
    structure_id = get(fields, "structure_id")
    if kind == "PER" and not is_idnat_ps(id_nat):
        return Rejected(line_no, "a PER mailbox needs the owner's RPPS or ADELI idNat", "|".join(fields[:-1]))
    if kind != "PER" and not structure_id and not is_idnat_ps(id_nat):
        reason = f"a {kind} mailbox needs its structure (Identification Structure)"
        return Rejected(line_no, reason, "|".join(fields[:-1]))
    for key, limit in MAILBOX_LIMITS.items():
        if len(get(fields, key)) > limit:
            return Rejected(line_no, f"the {key.replace('_', ' ')} is longer than {limit} characters",
                            "|".join(fields[:-1]))
    flag = get(fields, "dematerialised").lower()
    return MailboxEntry(
        line_no, kind, address, address.rpartition("@")[2], id_nat if is_idnat_ps(id_nat) else "",
        get(fields, "id_pp"), structure_id, get(fields, "service"), get(fields, "civility"), get(fields, "family"),
        get(fields, "given"), get(fields, "profession_code"), get(fields, "profession_label"),
        get(fields, "specialty_code"), get(fields, "specialty_label"), flag in ("true", "vrai", "1", "o", "oui"),
        get(fields, "structure_name"),
        _join(*(get(fields, f"line_{n}") for n in range(1, 9))),
        get(fields, "postal_code"), get(fields, "department"), get(fields, "country"),
    )


def parse_line(header: Header, line_no: int, raw: bytes, encoding: str) -> Record:
    if header.kind is Kind.ACTIVITY:
        return parse_activity(header, line_no, raw, encoding)
    return parse_mailbox(header, line_no, raw, encoding)


def iter_records(lines: Iterable[bytes], encoding: str | None = None) -> Iterator[Record]:
    """Every record of a whole file given as lines (header first); the encoding is guessed from the header
    and the first lines when not given."""
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        raise ExtractionError("the file is empty")
    if encoding is None:
        encoding = detect_encoding(first)
    header = parse_header(first, encoding)
    for line_no, raw in enumerate(iterator, start=2):
        if raw.strip(b"\r\n"):
            yield parse_line(header, line_no, raw, encoding)
