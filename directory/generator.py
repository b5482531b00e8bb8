"""Generate both public extractions in their real formats, with realistic French data and the real quirks.

Tests, the demo and the bench use it, so it is deterministic for a seed and streams its output (two million
lines are written without holding them). Quirks reproduced: one header line, a trailing ``|`` on every line,
many empty fields, upper-case exercise names with accents, particles, apostrophes and hyphens, several
activity lines for one person, ADELI and RPPS identifiers side by side, both column generations (52 and 56)
and both encodings (UTF-8 and latin-1).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from directory import generator_data as data
from directory.text import fold, squash

ACTIVITY_HEADER_56 = (
    "Type d'identifiant PP", "Identifiant PP", "Identification nationale PP", "Code civilité d'exercice",
    "Libellé civilité d'exercice", "Code civilité", "Libellé civilité", "Nom d'exercice", "Prénom d'exercice",
    "Code profession", "Libellé profession", "Code catégorie professionnelle", "Libellé catégorie professionnelle",
    "Code type savoir-faire", "Libellé type savoir-faire", "Code savoir-faire", "Libellé savoir-faire",
    "Code mode exercice", "Libellé mode exercice", "Numéro SIRET site", "Numéro SIREN site", "Numéro FINESS site",
    "Numéro FINESS établissement juridique", "Identifiant technique de la structure", "Raison sociale site",
    "Enseigne commerciale site", "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)", "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)", "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)", "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)", "Bureau cedex (coord. structure)", "Code postal (coord. structure)",
    "Code commune (coord. structure)", "Libellé commune (coord. structure)", "Code pays (coord. structure)",
    "Libellé pays (coord. structure)", "Téléphone (coord. structure)", "Téléphone 2 (coord. structure)",
    "Télécopie (coord. structure)", "Adresse e-mail (coord. structure)", "Code Département (coord. structure)",
    "Libellé Département (coord. structure)", "Ancien identifiant de la structure", "Autorité d'enregistrement",
    "Code secteur d'activité", "Libellé secteur d'activité", "Code section tableau pharmaciens",
    "Libellé section tableau pharmaciens", "Code fonction", "Libellé fonction", "Code genre d'activité",
    "Libellé genre d'activité",
)
ACTIVITY_HEADER_52 = ACTIVITY_HEADER_56[:52]
MAILBOX_HEADER = (
    "Type de BAL", "Adresse BAL", "Type Identifiant PP", "Identifiant PP", "Identification nationale PP",
    "Type identifiant structure", "Identification Structure", "Service de rattachement", "Civilité d'exercice",
    "Nom d'exercice", "Prénom d'exercice", "Catégorie profession", "Libellé de catégorie profession",
    "Code Profession", "Libellé Profession", "Code savoir-faire", "Libellé savoir-faire", "Dématérialisation",
    "Raison Sociale structure BAL", "Enseigne commerciale structure BAL", "Complément localisation structure BAL",
    "Complément distribution structure BAL", "Numéro Voie structure BAL", "Complément Numéro Voie structure BAL",
    "Type Voie structure BAL", "Libellé Voie structure BAL", "Lieu-dit structure BAL",
    "Ligne Acheminement structure BAL", "Code postal structure BAL", "Département structure BAL",
    "Pays structure BAL",
)
LINES_PER_PERSON = 1.32  # 75 % one activity, 18 % two, 7 % three


@dataclass(frozen=True, slots=True)
class Place:
    city: str
    postal_code: str
    commune_code: str

    @property
    def department(self) -> str:
        if self.commune_code.startswith(("2A", "2B", "97")):
            return self.commune_code[:3] if self.commune_code.startswith("97") else self.commune_code[:2]
        return self.postal_code[:2]


@dataclass(frozen=True, slots=True)
class Structure:
    technical_id: str
    name: str
    siret: str
    finess_site: str
    finess_legal: str
    sector: str
    place: Place
    number: str
    street_type: tuple[str, str]
    street: str
    phone: str
    domain: str


@dataclass(frozen=True, slots=True)
class Generated:
    activity_path: Path
    mailbox_path: Path
    persons: int
    activity_lines: int
    mailbox_lines: int


class _World:
    """The seeded random state and the pools of places and structures persons draw from."""

    def __init__(self, seed: int, persons: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        rng = self.rng
        villages = [
            Place(rng.choice(data.VILLAGE_STARTS) + rng.choice(data.VILLAGE_ENDS), *self._codes(rng))
            for _ in range(max(50, min(3000, persons // 20)))
        ]
        self.places = [Place(*city) for city in data.CITIES] + villages
        self.place_weights = [30] * len(data.CITIES) + [1] * len(villages)
        self.hospitals = [self._structure(index, establishment=True) for index in range(max(5, persons // 150))]
        self.cabinets = [self._structure(index, establishment=False) for index in range(max(10, persons // 3))]
        self.professions = data.PROFESSIONS
        self.profession_weights = [weight for _, _, weight, _ in data.PROFESSIONS]
        self.family_weights = [1 / (rank + 1) ** 0.5 for rank in range(len(data.FAMILY_NAMES))]

    @staticmethod
    def _codes(rng: random.Random) -> tuple[str, str]:
        department = rng.choice(data.DEPARTMENTS)
        if department in ("2A", "2B"):
            return f"20{rng.randint(1, 2)}{rng.randint(0, 9)}0", f"{department}{rng.randint(1, 366):03d}"
        if len(department) == 3:
            return f"{department}{rng.randint(0, 9)}0", f"{department}{rng.randint(1, 34):02d}"
        return f"{department}{rng.randint(0, 9)}{rng.randint(0, 9)}0", f"{department}{rng.randint(1, 999):03d}"

    def place(self) -> Place:
        return self.rng.choices(self.places, self.place_weights)[0]

    def _structure(self, index: int, *, establishment: bool) -> Structure:
        rng = self.rng
        place = self.place()
        siren = f"{rng.randint(100_000_000, 999_999_999)}"
        siret = siren + f"{rng.randint(1, 99999):05d}"
        if establishment:
            kind = rng.choice(data.HOSPITAL_KINDS)
            name = f"{kind} {rng.choice(('de ', 'du Val de ', 'Saint-Joseph de ', ''))}{place.city}"
            finess = f"{place.department[:2]}{rng.randint(0, 9_999_999):07d}"
            legal = f"{place.department[:2]}{rng.randint(0, 9_999_999):07d}"
            technical, sector = f"F{finess}", rng.choice(("SA01", "SA02", "SA05"))
            domain = f"{squash(kind)[:4]}-{squash(place.city)[:20]}-{index}.mssante.fr"
        else:
            name = rng.choice(("Cabinet médical ", "Cabinet infirmier ", "Cabinet ", "Maison de santé ", ""))
            name += rng.choice(("des Lilas", "du Centre", "de la Gare", f"{place.city}", "Pasteur", "Voltaire"))
            finess, legal, technical = "", "", f"R1{index:013d}"
            sector, domain = rng.choice(("SA07", "SA08")), ""
        phone = f"0{rng.randint(1, 5)}{rng.randint(10_000_000, 99_999_999)}"
        if rng.random() < 0.1:
            phone = " ".join(phone[i : i + 2] for i in range(0, 10, 2))  # quirk: spaces in some numbers
        return Structure(
            technical, name.strip(), siret, finess, legal, sector, place, str(rng.randint(1, 180)),
            rng.choice(data.STREET_TYPES), rng.choice(data.STREETS), phone, domain,
        )

    def family(self) -> str:
        rng = self.rng
        if rng.random() < 0.25:
            return rng.choices(data.FAMILY_NAMES, self.family_weights)[0]
        name = rng.choice(data.NAME_STARTS) + rng.choice(data.NAME_MIDDLES) + rng.choice(data.NAME_ENDS)
        return (rng.choice(data.PARTICLES) + name).upper()

    def given(self) -> tuple[str, str]:
        if self.rng.random() < 0.5:
            return "M", self.rng.choice(data.MALE_GIVEN)
        return "MME", self.rng.choice(data.FEMALE_GIVEN)


def _activity_lines(
    world: _World, index: int, header_size: int, used: set[str]
) -> tuple[list[list[str]], list[str] | None]:
    """The activity lines of person ``index`` and their PER mailbox line, if they have one."""
    rng = world.rng
    code, label, _, mailbox_share = rng.choices(world.professions, world.profession_weights)[0]
    adeli = code not in ("10", "21", "40", "50") and rng.random() < 0.3
    number = (index * 7919 + 12345) % 10**10
    id_type, id_pp = ("0", f"{number % 10**9:09d}") if adeli else ("8", f"1{number:010d}")
    id_nat = id_type + id_pp
    civility, given = world.given()
    family = world.family()
    title = "DR" if code in ("10", "40") and rng.random() < 0.9 else ""
    if code == "10" and rng.random() < 0.05:
        title = "PR"
    specialty: tuple[str, str, int] = ("", "", 1)
    if code == "10":
        specialty = rng.choices(data.DOCTOR_SPECIALTIES, [w for _, _, w in data.DOCTOR_SPECIALTIES])[0]
    elif code == "40":
        specialty = rng.choices(data.DENTIST_SPECIALTIES, [w for _, _, w in data.DENTIST_SPECIALTIES])[0]
    count = rng.choices((1, 2, 3), (75, 18, 7))[0]
    lines: list[list[str]] = []
    first_structure: Structure | None = None
    for _ in range(count):
        salaried = rng.random() < (0.45 if code in ("10", "21") else 0.6)
        structure = rng.choice(world.hospitals if salaried else world.cabinets)
        if structure is first_structure or any(line[23] == structure.technical_id for line in lines):
            continue  # the same place twice is one activity: the real file lists it once
        first_structure = first_structure or structure
        place = structure.place
        email = "" if rng.random() < 0.7 else f"contact@{squash(structure.name)[:20] or 'cabinet'}.fr"
        if email and rng.random() < 0.2:
            email = email.upper()
        line = [
            id_type, id_pp, id_nat, title, {"DR": "Docteur", "PR": "Professeur"}.get(title, ""), civility,
            {"M": "Monsieur", "MME": "Madame"}[civility], family, given, code, label, "C", "Civil",
            "S" if specialty[0] else "", "Spécialité ordinale" if specialty[0] else "", specialty[0], specialty[1],
            "S" if salaried else "L", "Salarié" if salaried else "Libéral",
            structure.siret, structure.siret[:9], structure.finess_site, structure.finess_legal,
            structure.technical_id, structure.name, "", "", "", structure.number,
            "B" if rng.random() < 0.03 else "", structure.street_type[0], structure.street_type[1], structure.street,
            "", "", place.postal_code, place.commune_code, place.city, "", "", structure.phone, "", "", email,
            place.department, "", "", "", structure.sector, "", "", "", f"FON-{rng.randint(1, 9):02d}", "",
            "GENR01", "Activité standard",
        ]
        lines.append(line[:header_size])
    mailbox: list[str] | None = None
    if rng.random() < mailbox_share and first_structure is not None:
        domain = first_structure.domain or data.MAILBOX_DOMAINS.get(code, data.DEFAULT_MAILBOX_DOMAIN)
        local = f"{fold(given).replace(' ', '-')}.{fold(family).replace(' ', '-')}"
        address = f"{local}@{domain}"
        if address in used or rng.random() < 0.3:
            address = f"{local}.{id_pp[-6:]}@{domain}"
        used.add(address)
        mailbox = _mailbox_line(
            "PER", address, id_type, id_pp, id_nat, "", title, family, given, code, label, specialty[:2],
            first_structure, rng.random() < 0.6,
        )
    return lines, mailbox


def _mailbox_line(
    kind: str, address: str, id_type: str, id_pp: str, id_nat: str, service: str, title: str, family: str,
    given: str, code: str, label: str, specialty: tuple[str, str], structure: Structure, dematerialised: bool,
) -> list[str]:
    structure_type, structure_id = ("1", "1" + structure.finess_site) if structure.finess_site else (
        "3", "3" + structure.siret)
    place = structure.place
    return [
        kind, address, id_type, id_pp, id_nat, structure_type, structure_id, service, title, family, given,
        "C" if id_nat else "", "Civil" if id_nat else "", code, label, specialty[0], specialty[1],
        "True" if dematerialised else "False", structure.name, "", "", "", structure.number, "",
        structure.street_type[1], structure.street, "", f"{place.postal_code} {place.city.upper()}",
        place.postal_code, place.department, "France",
    ]


def _structure_mailboxes(world: _World) -> Iterator[list[str]]:
    rng = world.rng
    for structure in world.hospitals:
        for service in rng.sample(data.SERVICES, rng.randint(1, 3)):
            address = f"{fold(service).replace(' ', '-')}@{structure.domain}"
            yield _mailbox_line("ORG", address, "", "", "", service, "", "", "", "", "", ("", ""), structure, True)
        if rng.random() < 0.3:
            yield _mailbox_line(
                "APP", f"resultats-labo@{structure.domain}", "", "", "", "Laboratoire", "", "", "", "", "", ("", ""),
                structure, True,
            )
    for structure in world.cabinets[: len(world.cabinets) // 20]:
        slug = squash(structure.name)[:30] or "cabinet"
        address = f"{slug}.{structure.technical_id[-6:]}@cabinet.mssante.fr"
        yield _mailbox_line("CAB", address, "", "", "", "", "", "", "", "", "", ("", ""), structure, False)


def extraction_line(header: tuple[str, ...], values: dict[str, str]) -> str:
    """One line of an extraction with this header (its column names), ``values`` by column name (the others
    empty), ending with ``|`` as the real files do; no line break."""
    unknown = set(values) - set(header)
    if unknown:
        raise ValueError(f"not columns of this extraction: {', '.join(sorted(unknown))}")
    return "|".join(values.get(name, "") for name in header) + "|"


def _write(out: TextIO, fields: list[str] | tuple[str, ...]) -> None:
    out.write("|".join(fields) + "|\n")  # the real files end every line with "|"


def generate(
    out_dir: Path, *, persons: int, seed: int = 0, generation: int = 56, encoding: str = "utf-8",
    stamp: str = "202611230000", max_lines: int | None = None,
) -> Generated:
    """Write ``PS_LibreAcces_Personne_activite_<stamp>.txt`` and ``Extraction_Correspondance_MSSante_<stamp>.txt``.

    ``max_lines`` stops the activity file at that many data lines (the bench asks for an exact line count).
    """
    if generation not in (52, 56):
        raise ValueError("generation is 52 or 56 columns")
    header = ACTIVITY_HEADER_56 if generation == 56 else ACTIVITY_HEADER_52
    out_dir.mkdir(parents=True, exist_ok=True)
    world = _World(seed, persons)
    activity_path = out_dir / f"PS_LibreAcces_Personne_activite_{stamp}.txt"
    mailbox_path = out_dir / f"Extraction_Correspondance_MSSante_{stamp}.txt"
    written = mailboxes = generated = 0
    used: set[str] = set()  # PER addresses given so far: an address is unique in the real file too
    with (
        activity_path.open("w", encoding=encoding, errors="replace", newline="") as activities,
        mailbox_path.open("w", encoding=encoding, errors="replace", newline="") as mailbox_file,
    ):
        _write(activities, header)
        _write(mailbox_file, MAILBOX_HEADER)
        for index in range(persons):
            if max_lines is not None and written >= max_lines:
                break
            lines, mailbox = _activity_lines(world, index, len(header), used)
            generated += 1
            for line in lines[: None if max_lines is None else max_lines - written]:
                _write(activities, line)
                written += 1
            if mailbox is not None:
                _write(mailbox_file, mailbox)
                mailboxes += 1
        for line in _structure_mailboxes(world):
            _write(mailbox_file, line)
            mailboxes += 1
    return Generated(activity_path, mailbox_path, generated, written, mailboxes)
