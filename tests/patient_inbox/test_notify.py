"""Content-free notifications through the configured relay (a local aiosmtpd server)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

from patient_inbox.config import PatientSettings
from patient_inbox.conversations import inbox_page
from storage.engine import Database
from tests.patient_inbox.factories import build_world, make_patient, make_professional, professional_message, submit
from tests.patient_inbox.relay import smtp_relay


async def test_a_new_message_sends_a_notification_without_any_content(database: Database, tmp_path: Path) -> None:
    with smtp_relay() as (smarthost, relay):
        world = build_world(
            database, tmp_path, PatientSettings(notify_smarthost=smarthost, public_url="https://patient.example")
        )
        try:
            doctor = await make_professional(database, name="Dr Claire Martin")
            patient = await make_patient(database)
            raw = professional_message(
                doctor, [patient.address], subject="Résultats de biopsie", text="Diagnostic confidentiel"
            )
            await submit(world, doctor, [patient.address], raw)
            await world.services.notifier.drain()
        finally:
            await world.close()
        captured = await asyncio.to_thread(relay.wait_for, 1)
    [notice] = captured
    assert notice.recipients == [patient.email]
    assert notice.mail_from == f"ne-pas-repondre@{world.services.patient_domain}"
    message = email.message_from_bytes(notice.data, policy=email.policy.default)
    assert message["Subject"] == "Nouveau message dans votre messagerie santé"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = notice.data.decode("utf-8", "replace") + str(body.get_content())
    for secret in ("biopsie", "Diagnostic", "Claire", "Martin", doctor.address, patient.ins):
        assert secret not in text
    assert "https://patient.example" in text


async def test_an_unreachable_relay_does_not_fail_delivery(database: Database, tmp_path: Path) -> None:
    world = build_world(database, tmp_path, PatientSettings(notify_smarthost="127.0.0.1:9"))
    try:
        doctor = await make_professional(database)
        patient = await make_patient(database)
        await submit(world, doctor, [patient.address], professional_message(doctor, [patient.address]))
        await world.services.notifier.drain()
        page = await inbox_page(database, patient.id, 1)
        assert page.total == 1  # delivered although the notification could not be sent
    finally:
        await world.close()
