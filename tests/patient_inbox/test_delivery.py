"""Professionals' mail to patients through the real delivery pipeline: filing, threading, closing, refusals."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select

from mail_gateway.delivery.routing import Sender
from mail_gateway.errors import DeliveryRefused
from mail_gateway.store.models import Folder, FolderMessage, MessageContent
from patient_inbox.accounts import change_state, find_by_ins
from patient_inbox.conversations import (
    attachments_of,
    conversation_messages,
    get_attachment,
    get_conversation,
    inbox_page,
    participants,
    read_thread,
)
from patient_inbox.errors import NotFound
from patient_inbox.models import Attachment, Conversation
from policies.patient_lifecycle import Event
from storage.blobs import BlobStore
from tests.patient_inbox.factories import (
    PATIENT_DOMAIN,
    PDF,
    World,
    make_patient,
    make_professional,
    new_ins,
    professional_message,
    submit,
)


async def conversations_of(world: World, patient_id: int) -> list[Conversation]:
    async with world.database.read() as session:
        rows = await session.scalars(select(Conversation).where(Conversation.patient_id == patient_id))
        return list(rows.all())


async def test_a_professional_opens_a_conversation_with_a_pdf(world: World) -> None:
    doctor = await make_professional(world.database)
    nurse = await make_professional(world.database, name="Infirmière Anne Durand")
    patient = await make_patient(world.database)
    raw = professional_message(doctor, [patient.address], cc=[nurse.address], pdf=PDF)
    await submit(world, doctor, [patient.address, nurse.address], raw)

    [conversation] = await conversations_of(world, patient.id)
    assert conversation.state == "open"
    assert conversation.unread == 1
    assert conversation.last_author == doctor.display_name
    async with world.database.read() as session:
        people = await participants(session, conversation.id)
        [message] = await conversation_messages(session, conversation.id)
        attachments = list((await session.scalars(select(Attachment))).all())
    assert {p.address for p in people} == {doctor.address, nurse.address}
    assert {p.display_name for p in people} == {doctor.display_name, nurse.display_name}
    [pdf] = attachments
    assert (pdf.filename, pdf.content_type, pdf.size) == ("compte-rendu.pdf", "application/pdf", len(PDF))
    assert BlobStore(world.services.blobs.root).get(pdf.sha256, verify=True) == PDF
    assert BlobStore(world.services.blobs.root).get(message.sha256, verify=True).endswith(raw)


async def test_replies_thread_into_the_conversation_and_fin_closes_it(world: World) -> None:
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    first = professional_message(doctor, [patient.address])
    await submit(world, doctor, [patient.address], first)
    first_id = email.message_from_bytes(first, policy=email.policy.default)["Message-ID"]
    follow = professional_message(doctor, [patient.address], subject="Re: suite", extra={"In-Reply-To": first_id})
    await submit(world, doctor, [patient.address], follow)
    [conversation] = await conversations_of(world, patient.id)
    assert conversation.unread == 2

    fin = professional_message(doctor, [patient.address], subject="[FIN]", extra={"References": first_id})
    await submit(world, doctor, [patient.address], fin)
    [conversation] = await conversations_of(world, patient.id)
    assert conversation.state == "closed"
    assert conversation.closed_at is not None

    # writing again in the closed thread opens a new conversation
    again = professional_message(doctor, [patient.address], subject="Nouveau", extra={"In-Reply-To": first_id})
    await submit(world, doctor, [patient.address], again)
    states = sorted(c.state for c in await conversations_of(world, patient.id))
    assert states == ["closed", "open"]


async def test_x_mss_mes_fin_closes_a_new_conversation_at_once(world: World) -> None:
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    raw = professional_message(doctor, [patient.address], subject="Résultats", extra={"X-MSS-MES": "FIN"})
    await submit(world, doctor, [patient.address], raw)
    [conversation] = await conversations_of(world, patient.id)
    assert conversation.state == "closed"


async def test_threading_never_crosses_patients(world: World) -> None:
    doctor = await make_professional(world.database)
    alice = await make_patient(world.database)
    bob = await make_patient(world.database)
    first = professional_message(doctor, [alice.address])
    await submit(world, doctor, [alice.address], first)
    [alice_conversation] = await conversations_of(world, alice.id)
    first_id = email.message_from_bytes(first, policy=email.policy.default)["Message-ID"]
    forged = professional_message(
        doctor,
        [bob.address],
        extra={"In-Reply-To": first_id, "X-MSSante-Conversation": alice_conversation.token},
    )
    await submit(world, doctor, [bob.address], forged)
    [bob_conversation] = await conversations_of(world, bob.id)
    assert bob_conversation.id != alice_conversation.id
    async with world.database.read() as session:
        assert len(await conversation_messages(session, alice_conversation.id)) == 1


async def test_one_message_to_two_patients_gives_each_their_own_conversation(world: World) -> None:
    doctor = await make_professional(world.database)
    alice = await make_patient(world.database)
    bob = await make_patient(world.database)
    both = [alice.address, bob.address]
    await submit(world, doctor, both, professional_message(doctor, both))
    [a] = await conversations_of(world, alice.id)
    [b] = await conversations_of(world, bob.id)
    assert a.id != b.id
    async with world.database.read() as session:
        assert {p.address for p in await participants(session, a.id)} == {doctor.address}


async def expect_refusal(world: World, sender: Sender, mail_from: str, to: list[str], raw: bytes) -> DeliveryRefused:
    with pytest.raises(DeliveryRefused) as caught:
        await world.pipeline.submit(sender, mail_from, to, raw)
    return caught.value


async def test_mail_to_opposed_closed_and_unknown_spaces_is_refused_with_its_reason(world: World) -> None:
    doctor = await make_professional(world.database)
    closed = await make_patient(world.database)
    opposed = await make_patient(world.database)
    now = datetime.now(UTC)
    async with world.database.write() as session:
        await change_state(session, closed.ins, Event.ACTIVATE, now)
        await change_state(session, closed.ins, Event.CLOSE, now)
        await change_state(session, opposed.ins, Event.OPPOSE, now)
    sender = Sender(channel="submission", mailbox=doctor)
    refusal = await expect_refusal(world, sender, doctor.address, [closed.address],
                                   professional_message(doctor, [closed.address]))
    assert (refusal.code, refusal.enhanced) == (550, "5.2.1")
    assert "ferme" in refusal.text
    refusal = await expect_refusal(world, sender, doctor.address, [opposed.address],
                                   professional_message(doctor, [opposed.address]))
    assert (refusal.code, refusal.enhanced) == (550, "5.2.1")
    assert "oppose" in refusal.text
    unknown = f"{new_ins()}@{PATIENT_DOMAIN}"
    refusal = await expect_refusal(world, sender, doctor.address, [unknown], professional_message(doctor, [unknown]))
    assert (refusal.code, refusal.enhanced) == (550, "5.1.1")
    assert refusal.text.isascii()


async def test_reopening_restores_the_conversations(world: World) -> None:
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    await submit(world, doctor, [patient.address], professional_message(doctor, [patient.address]))
    now = datetime.now(UTC) + timedelta(weeks=7)
    async with world.database.write() as session:
        await change_state(session, patient.ins, Event.CLOSE, now)
    async with world.database.write() as session:
        await change_state(session, patient.ins, Event.REOPEN, now)
        account = await find_by_ins(session, patient.ins)
        assert account is not None and account.state == "active"
    page = await inbox_page(world.database, patient.id, 1)
    assert page.total == 1


async def test_patient_to_patient_is_refused_on_the_web_and_mx_paths(world: World) -> None:
    alice = await make_patient(world.database)
    bob = await make_patient(world.database)
    raw = (
        f"From: {alice.address}\r\nTo: {bob.address}\r\nSubject: coucou\r\nMessage-ID: <x@y>\r\n\r\nbonjour\r\n"
    ).encode()
    web = Sender(channel="web", principal=alice.address)
    refusal = await expect_refusal(world, web, alice.address, [bob.address], raw)
    assert refusal.enhanced == "5.7.1" and "autre patient" in refusal.text
    mx = Sender(channel="mx", peer_ip="192.0.2.1", tls=True)
    refusal = await expect_refusal(world, mx, alice.address, [bob.address], raw)
    assert refusal.enhanced == "5.7.1" and "autre patient" in refusal.text
    assert await conversations_of(world, bob.id) == []


async def test_the_professional_copy_is_in_the_professionals_inbox_too(world: World) -> None:
    doctor = await make_professional(world.database)
    nurse = await make_professional(world.database)
    patient = await make_patient(world.database)
    raw = professional_message(doctor, [patient.address], cc=[nurse.address])
    await submit(world, doctor, [patient.address, nurse.address], raw)
    async with world.database.read() as session:
        count = await session.scalar(
            select(MessageContent.id)
            .join(FolderMessage, FolderMessage.content_id == MessageContent.id)
            .join(Folder, Folder.id == FolderMessage.folder_id)
            .where(Folder.mailbox_id == nurse.id)
        )
        assert count is not None
        conversation = (await conversations_of(world, patient.id))[0]
        assert (await get_conversation(session, patient.id, conversation.id)).id == conversation.id


async def test_the_migration_creates_the_patient_tables(world: World) -> None:
    async with world.database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert {
        "patient_accounts", "patient_conversations", "patient_participants", "patient_messages",
        "patient_attachments", "patient_sessions",
    } <= tables


async def test_the_conversation_page_reads_what_the_orm_reads_and_only_for_its_patient(world: World) -> None:
    """read_thread (two plain statements) gives the professionals, messages and attachments the ORM reads give,
    in the same order; another patient's conversation or an unknown id is NotFound."""
    doctor = await make_professional(world.database)
    nurse = await make_professional(world.database, name="Infirmière Anne Durand")
    patient = await make_patient(world.database)
    other = await make_patient(world.database, ins=new_ins())
    first = professional_message(doctor, [patient.address], cc=[nurse.address], pdf=PDF)
    await submit(world, doctor, [patient.address, nurse.address], first)
    first_id = email.message_from_bytes(first, policy=email.policy.SMTP)["Message-ID"]
    follow_up = professional_message(doctor, [patient.address], pdf=PDF + b"%2", text="Suite.\n",
                                     extra={"In-Reply-To": first_id, "References": first_id})
    await submit(world, doctor, [patient.address], follow_up)
    [conversation] = await conversations_of(world, patient.id)

    thread = await read_thread(world.database, patient.id, conversation.id)
    async with world.database.read() as session:
        people = await participants(session, conversation.id)
        messages = await conversation_messages(session, conversation.id)
        files = await attachments_of(session, [m.id for m in messages])
    assert (thread.id, thread.subject, thread.state, thread.unread) == (
        conversation.id, conversation.subject, conversation.state, conversation.unread)
    assert [(p.id, p.display_name, p.profession, p.structure) for p in thread.people] == [
        (p.id, p.display_name, p.profession, p.structure) for p in people]
    assert len(messages) == 2 and len(thread.people) == 2
    assert [(m.id, m.author_id, m.sha256, m.received_at) for m in thread.messages] == [
        (m.id, m.author_id, m.sha256, m.received_at) for m in messages]
    assert [[(f.id, f.filename, f.content_type, f.size) for f in m.files] for m in thread.messages] == [
        [(f.id, f.filename, f.content_type, f.size) for f in files[m.id]] for m in messages]
    assert [len(m.files) for m in thread.messages] == [1, 1]
    too_large = 10**20  # from a URL: no row has it, and the database would refuse to compare it
    for patient_id, conversation_id in ((other.id, conversation.id), (patient.id, conversation.id + 1000),
                                        (patient.id, too_large), (patient.id, -1)):
        with pytest.raises(NotFound):
            await read_thread(world.database, patient_id, conversation_id)
    async with world.database.read() as session:
        for getter in (get_conversation, get_attachment):
            with pytest.raises(NotFound):
                await getter(session, patient.id, too_large)
