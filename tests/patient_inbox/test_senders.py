"""What the patient sees of a sender: the directory's name, profession and structure, else fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from directory.generator import MAILBOX_HEADER
from directory.importer import import_file
from mail_gateway.delivery.routing import Sender
from mail_gateway.errors import DeliveryRefused
from patient_inbox.models import Participant
from tests.directory.helpers import known_directory, mailbox_line, write_lines
from tests.patient_inbox.factories import World, make_patient, make_professional, professional_message, submit

REMOTE = "jean-pierre.martin@medecin.mssante.fr"


async def participant_rows(world: World) -> dict[str, Participant]:
    async with world.database.read() as session:
        return {p.address: p for p in (await session.scalars(select(Participant))).all()}


async def test_the_directory_names_a_remote_professional(world: World, tmp_path: Path) -> None:
    activity, mailboxes = known_directory(tmp_path)
    await import_file(world.database, activity)
    await import_file(world.database, mailboxes)
    patient = await make_patient(world.database)
    raw = (
        f'From: "J.-P. M." <{REMOTE}>\r\nTo: {patient.address}\r\nSubject: Bonjour\r\n'
        "Message-ID: <remote-1@medecin.mssante.fr>\r\n\r\nBonjour\r\n"
    ).encode()
    await world.pipeline.submit(Sender(channel="mx", peer_ip="192.0.2.7", tls=True), REMOTE, [patient.address], raw)
    person = (await participant_rows(world))[REMOTE]
    assert (person.display_name, person.profession, person.structure) == ("Jean-Pierre MARTIN", "Médecin", None)


async def test_fallbacks_without_a_directory_entry(world: World) -> None:
    doctor = await make_professional(world.database, name="Dr Anne Local")
    patient = await make_patient(world.database)
    unknown = "inconnu@autre-operateur.example"
    raw = professional_message(doctor, [patient.address], cc=[f"Dr Paul Distant <{unknown}>", "x@y.example"])
    await submit(world, doctor, [patient.address], raw)
    rows = await participant_rows(world)
    assert rows[doctor.address].display_name == "Dr Anne Local"  # our own mailbox's display name
    assert rows[unknown].display_name == "Dr Paul Distant"  # the header's display name
    assert rows["x@y.example"].display_name == "Professionnel de santé"  # never the address


async def test_a_cabinet_mailbox_of_another_operator_cannot_write_to_a_patient(world: World, tmp_path: Path) -> None:
    cabinet = "cabinet@cab-exemple.mssante.fr"
    extraction = write_lines(
        tmp_path / "cab" / "Extraction_Correspondance_MSSante_202611010000.txt",
        [
            "|".join(MAILBOX_HEADER) + "|",
            mailbox_line("CAB", cabinet, structure_id="1690000009", structure_name="Cabinet Exemple"),
            mailbox_line("PER", REMOTE, "810000000002", family="MARTIN", given="Jean-Pierre"),
        ],
    )
    await import_file(world.database, extraction)
    patient = await make_patient(world.database)
    mx = Sender(channel="mx", peer_ip="192.0.2.7", tls=True)

    def raw(author: str) -> bytes:
        return (
            f"From: {author}\r\nTo: {patient.address}\r\nSubject: Bonjour\r\nMessage-ID: <{author}>\r\n\r\nx\r\n"
        ).encode()

    with pytest.raises(DeliveryRefused) as refused:
        await world.pipeline.submit(mx, cabinet, [patient.address], raw(cabinet))
    assert refused.value.enhanced == "5.7.1" and "professionnel de sante" in refused.value.text
    await world.pipeline.submit(mx, REMOTE, [patient.address], raw(REMOTE))  # a PER mailbox may
    assert REMOTE in await participant_rows(world)
    assert cabinet not in await participant_rows(world)
