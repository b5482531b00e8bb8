"""The conversation rules on the SMTP paths: real SMTP clients against the real server, and the handler's
patient-sender check as the pipeline calls it."""

from __future__ import annotations

import email
import email.policy
import imaplib
import smtplib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mail_gateway.delivery.headers import header_fields
from mail_gateway.delivery.routing import Message, Sender
from patient_inbox.accounts import change_state
from policies.patient_lifecycle import Event
from tests.gateway import RunningGateway
from tests.patient_inbox.factories import World, make_patient, make_professional, professional_message, submit
from tests.patient_inbox.test_browser import DOCTOR, add_doctor, add_patient, doctor_message, send

MX = Sender(channel="mx", peer_ip="192.0.2.10", tls=True)


def test_a_patient_cannot_log_in_over_smtp(gateway: RunningGateway) -> None:
    _, address, _ = add_patient(gateway)
    with smtplib.SMTP("127.0.0.1", gateway.ports["smtp_submission"], timeout=30) as client:
        client.starttls(context=gateway.client_tls())
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(address, "any password at all")
    assert b"web inbox" in refused.value.smtp_error


def test_a_patient_cannot_log_in_over_imap(gateway: RunningGateway) -> None:
    _, address, _ = add_patient(gateway)
    client = imaplib.IMAP4_SSL("127.0.0.1", gateway.ports["imaps"], ssl_context=gateway.client_tls(), timeout=30)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="web inbox"):
            client.login(address, "any password at all")
    finally:
        client.shutdown()


def test_refusals_over_smtp_say_why(gateway: RunningGateway) -> None:
    add_doctor(gateway)
    ins_closed, closed, _ = add_patient(gateway)
    ins_opposed, opposed, _ = add_patient(gateway)
    _, other, _ = add_patient(gateway)

    async def states() -> None:
        assert gateway.database is not None
        now = datetime.now(UTC)
        async with gateway.database.write() as session:
            await change_state(session, ins_closed, Event.ACTIVATE, now)
            await change_state(session, ins_closed, Event.CLOSE, now)
            await change_state(session, ins_opposed, Event.OPPOSE, now)

    gateway.run(states())
    for address, fragment in ((closed, b"est ferme"), (opposed, b"oppose")):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(gateway, doctor_message(address, "Bonjour"), address)
        code, text = refused.value.recipients[address]
        assert code == 550 and text.startswith(b"5.2.1") and fragment in text

    # patient to patient through the MX (a forged patient sender): refused after DATA with the reason
    raw = f"From: {other}\r\nTo: {closed}\r\nSubject: coucou\r\nMessage-ID: <p2p@x>\r\n\r\nbonjour\r\n".encode()
    _, target, _ = add_patient(gateway)
    with smtplib.SMTP("127.0.0.1", gateway.ports["smtp_mx"], timeout=30) as client:
        client.starttls(context=gateway.client_tls())
        with pytest.raises(smtplib.SMTPDataError) as refused_data:
            client.sendmail(other, [target], raw)
    assert refused_data.value.smtp_code == 550
    assert b"5.7.1" in refused_data.value.smtp_error and b"autre patient" in refused_data.value.smtp_error
    assert gateway.inbox(DOCTOR) == []


def test_patient_initiated_mail_through_the_mx_is_refused(gateway: RunningGateway) -> None:
    add_doctor(gateway)
    _, patient, _ = add_patient(gateway)
    raw = (f"From: {patient}\r\nTo: {DOCTOR}\r\nSubject: question\r\nMessage-ID: <pi@x>\r\n\r\nbonjour\r\n").encode()
    with smtplib.SMTP("127.0.0.1", gateway.ports["smtp_mx"], timeout=30) as client:
        client.starttls(context=gateway.client_tls())
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused)):
            client.sendmail(patient, [DOCTOR], raw)


def as_message(mail_from: str, recipients: list[str], raw: bytes) -> Message:
    return Message(mail_from, tuple(recipients), raw, header_fields(raw))


async def test_patient_sender_rules_give_their_reasons(world: World, tmp_path: Path) -> None:
    """What the handler answers for mail claiming a patient sender (patient-initiated, extra recipients,
    closed conversation), as the pipeline asks it with every recipient."""
    doctor = await make_professional(world.database)
    stranger = await make_professional(world.database)
    patient = await make_patient(world.database)
    first = professional_message(doctor, [patient.address])
    await submit(world, doctor, [patient.address], first)
    first_id = email.message_from_bytes(first, policy=email.policy.default)["Message-ID"]

    def from_patient(to: list[str], extra: str = "") -> bytes:
        return (
            f"From: {patient.address}\r\nTo: {', '.join(to)}\r\nSubject: Re\r\nMessage-ID: <r{len(extra)}@x>\r\n"
            f"{extra}\r\nmerci\r\n"
        ).encode()

    cases = [
        ([doctor.address], "", "ne peut pas commencer"),
        ([doctor.address, stranger.address], f"In-Reply-To: {first_id}\r\n", "sans ajouter de destinataire"),
        ([doctor.address], f"In-Reply-To: {first_id}\r\n", "depuis sa messagerie sante en ligne"),
    ]
    for to, extra, reason in cases:
        refusal = await world.handler.check_message(MX, as_message(patient.address, to, from_patient(to, extra)), to)
        assert refusal is not None and refusal.enhanced == "5.7.1", (to, extra)
        assert reason in refusal.text, refusal.text
    fin = professional_message(doctor, [patient.address], subject="[FIN]", extra={"In-Reply-To": first_id})
    await submit(world, doctor, [patient.address], fin)
    to = [doctor.address]
    raw = from_patient(to, f"In-Reply-To: {first_id}\r\n")
    refusal = await world.handler.check_message(MX, as_message(patient.address, to, raw), to)
    assert refusal is not None and "cloturee" in refusal.text
    # the web inbox's own submission is not refused by this check (its rules ran before submitting)
    web = Sender(channel="web", principal=patient.address)
    assert await world.handler.check_message(web, as_message(patient.address, to, raw), to) is None
