"""The patient's journey through the web pages, with a real HTTP client and the real pipeline behind."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from sqlalchemy import select

from mail_gateway.store.contents import read_contents
from mail_gateway.store.models import Folder, FolderMessage, MessageContent
from patient_inbox.config import PatientSettings
from patient_inbox.models import Conversation
from storage.blobs import BlobStore
from tests.patient_inbox.factories import (
    PDF,
    World,
    make_patient,
    make_professional,
    professional_message,
    submit,
)
from tests.patient_inbox.web_helpers import (
    activate,
    attachment_ids,
    client,
    conversation_ids,
    csrf_of,
    login,
    logout,
    make_app,
    participant_ids,
    text_of,
)


async def inbox_of(world: World, mailbox_id: int) -> list[bytes]:
    async with world.database.read() as session:
        rows = await session.execute(
            select(MessageContent.sha256)
            .join(FolderMessage, FolderMessage.content_id == MessageContent.id)
            .join(Folder, Folder.id == FolderMessage.folder_id)
            .where(Folder.mailbox_id == mailbox_id, Folder.name == "INBOX")
            .order_by(FolderMessage.uid)
        )
        names = [sha for (sha,) in rows.all()]
    return await read_contents(world.database, BlobStore(world.services.blobs.root), [(n, None) for n in names])


async def test_read_download_reply_and_closing(world: World, tmp_path: Path) -> None:
    doctor = await make_professional(world.database, name="Dr Claire Martin")
    patient = await make_patient(world.database)
    html_body = '<p>Bonjour,</p><p>Voici <b>vos résultats</b>. <a href="https://ch.example/info">Infos</a></p>'
    first = professional_message(doctor, [patient.address], subject="Vos résultats", html=html_body, pdf=PDF)
    await submit(world, doctor, [patient.address], first)
    first_id = email.message_from_bytes(first, policy=email.policy.default)["Message-ID"]

    async with client(make_app(world, tmp_path)) as http:
        secret = await activate(http, patient)
        await logout(http)
        response = await login(http, patient, secret)
        assert response.status_code == 303, response.text

        inbox = await http.get("/patient/messages")
        assert inbox.status_code == 200
        page = text_of(inbox.text)
        assert "Vos résultats" in page and "Dr Claire Martin" in page and "Non lu" in page
        [conversation_id] = conversation_ids(inbox.text)

        view = await http.get(f"/patient/conversations/{conversation_id}")
        assert view.status_code == 200
        assert "<b>vos résultats</b>" in view.text
        assert 'rel="noopener noreferrer nofollow"' in view.text
        assert doctor.address not in view.text  # the patient never sees the professional's address
        assert "Document PDF" in view.text
        assert view.headers["content-security-policy"].startswith("default-src 'none'")
        [attachment_id] = attachment_ids(view.text)
        download = await http.get(f"/patient/pieces-jointes/{attachment_id}")
        assert download.status_code == 200
        assert download.content == PDF
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["content-disposition"].startswith('attachment; filename="compte-rendu.pdf"')
        assert "Non lu" not in text_of((await http.get("/patient/messages")).text)

        reply = await http.post(
            f"/patient/conversations/{conversation_id}/reponse",
            data={"csrf": csrf_of(view.text), "to": participant_ids(view.text), "text": "Merci docteur !"},
            files={"files": ("question.txt", b"Une question\n", "text/plain")},
        )
        assert reply.status_code == 303, reply.text
        after = await http.get(reply.headers["location"])
        assert "Votre réponse a été envoyée." in after.text and "Merci docteur !" in after.text

        [received] = await inbox_of(world, doctor.id)
        message = email.message_from_bytes(received, policy=email.policy.default)
        assert message["In-Reply-To"] == first_id
        assert first_id in message["References"]
        assert message["Subject"] == "Re: Vos résultats"
        assert message["From"].addresses[0].addr_spec == patient.address
        assert message["X-MSSante-Conversation"]
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and body.get_content().strip() == "Merci docteur !"
        [attached] = list(message.iter_attachments())
        assert attached.get_filename() == "question.txt"

        # the professional replies to the patient's reply (threaded by their client), then closes
        reply_id = message["Message-ID"]
        answer = professional_message(doctor, [patient.address], subject="Re: Vos résultats",
                                      extra={"In-Reply-To": reply_id, "References": f"{first_id} {reply_id}"})
        await submit(world, doctor, [patient.address], answer)
        fin = professional_message(doctor, [patient.address], subject="[FIN]", extra={"In-Reply-To": reply_id})
        await submit(world, doctor, [patient.address], fin)
        async with world.database.read() as session:
            [conversation] = (await session.scalars(select(Conversation))).all()
        assert conversation.state == "closed"

        closed = await http.get(f"/patient/conversations/{conversation_id}")
        assert "reponse" not in closed.text and 'name="text"' not in closed.text
        assert "clôturée" in closed.text
        forged = await http.post(
            f"/patient/conversations/{conversation_id}/reponse",
            data={"csrf": csrf_of(closed.text), "to": participant_ids(view.text), "text": "Encore une question"},
        )
        assert forged.status_code == 403
        assert "clôturée par le professionnel" in forged.text
        assert len(await inbox_of(world, doctor.id)) == 1  # nothing more reached the professional


async def test_reply_to_someone_not_in_the_conversation_is_refused(world: World, tmp_path: Path) -> None:
    doctor = await make_professional(world.database)
    other_doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    await submit(world, doctor, [patient.address], professional_message(doctor, [patient.address]))
    await submit(world, other_doctor, [patient.address], professional_message(other_doctor, [patient.address]))
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        ids = conversation_ids((await http.get("/patient/messages")).text)
        first = await http.get(f"/patient/conversations/{ids[0]}")
        second = await http.get(f"/patient/conversations/{ids[1]}")
        foreign = participant_ids(second.text)
        for targets, sentence in [
            ([*participant_ids(first.text), *foreign], "sans ajouter de destinataire"),
            (["abc"], "sans ajouter de destinataire"),
            ([], "au moins un participant"),
        ]:
            response = await http.post(
                f"/patient/conversations/{ids[0]}/reponse",
                data={"csrf": csrf_of(first.text), "to": targets, "text": "Bonjour"},
            )
            assert response.status_code == 403, targets
            assert sentence in text_of(response.text)
        # patient-initiated: there is no conversation to answer (any other id is a 404)
        response = await http.post(
            "/patient/conversations/999999/reponse", data={"csrf": csrf_of(first.text), "to": ["1"], "text": "x"}
        )
        assert response.status_code == 404
    assert await inbox_of(world, doctor.id) == []
    assert await inbox_of(world, other_doctor.id) == []


async def test_inbox_is_paginated(world: World, tmp_path: Path) -> None:
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    for n in range(23):
        await submit(world, doctor, [patient.address],
                     professional_message(doctor, [patient.address], subject=f"Message {n:02d}"))
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        first = await http.get("/patient/messages")
        assert len(conversation_ids(first.text)) == 20
        assert "page 1 sur 2" in first.text and "Message 22" in first.text
        second = await http.get("/patient/messages?page=2")
        assert len(conversation_ids(second.text)) == 3
        assert "Message 00" in second.text
        assert "Page précédente" in second.text
        beyond = await http.get("/patient/messages?page=99")
        assert conversation_ids(beyond.text) == conversation_ids(second.text)
        assert "page 2 sur 2" in beyond.text


async def test_reply_limits_are_enforced_with_clear_messages(world: World, tmp_path: Path) -> None:
    world.services.settings = PatientSettings(notify_smarthost="", reply_max_attachments=2, reply_max_bytes=4096)
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    await submit(world, doctor, [patient.address], professional_message(doctor, [patient.address]))
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        [conversation_id] = conversation_ids((await http.get("/patient/messages")).text)
        view = await http.get(f"/patient/conversations/{conversation_id}")
        url = f"/patient/conversations/{conversation_id}/reponse"
        base = {"csrf": csrf_of(view.text), "to": participant_ids(view.text)}
        empty = await http.post(url, data={**base, "text": "   "})
        assert empty.status_code == 422 and "Écrivez un message" in text_of(empty.text)
        many = await http.post(url, data={**base, "text": "x"},
                               files=[("files", (f"f{n}.txt", b"x", "text/plain")) for n in range(3)])
        assert many.status_code == 422 and "2 fichiers au plus" in text_of(many.text)
        flood = await http.post(url, data={**base, "text": "x"},
                                files=[("files", (f"f{n}.txt", b"x", "text/plain")) for n in range(10)])
        assert flood.status_code == 422 and "2 fichiers au plus" in text_of(flood.text)
        big = await http.post(url, data={**base, "text": "gros"},
                              files={"files": ("gros.pdf", b"%PDF" + b"0" * 5000, "application/pdf")})
        assert big.status_code == 422 and "trop lourdes" in text_of(big.text)
        assert "gros" in big.text  # the draft is kept
    assert await inbox_of(world, doctor.id) == []
