"""Security of the patient pages: CSRF, cookie rotation, isolation between patients, lockout, idle timeout."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from mail_gateway.delivery.routing import Sender
from mail_gateway.errors import DeliveryRefused
from patient_inbox.credentials import open_totp
from patient_inbox.models import PatientAccount, WebSession
from patient_inbox.web import sessions
from patient_inbox.web.security import token_id
from tests.patient_inbox.factories import (
    PATIENT_PASSWORD,
    PDF,
    World,
    make_patient,
    make_professional,
    professional_message,
    submit,
    totp_now,
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
    post_form,
    text_of,
)

SESSION = "__Host-mss-patient"
PRE = "__Host-mss-pre"


async def test_forms_without_a_valid_csrf_token_get_403(world: World, tmp_path: Path) -> None:
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    await submit(world, doctor, [patient.address], professional_message(doctor, [patient.address]))
    async with client(make_app(world, tmp_path)) as http:
        await http.get("/patient/connexion")
        for data in ({}, {"csrf": ""}, {"csrf": "0" * 64}):
            response = await http.post("/patient/connexion", data={**data, "ins": patient.ins, "password": "x"})
            assert response.status_code == 403
            assert "Formulaire expiré" in response.text
        await activate(http, patient)
        [conversation_id] = conversation_ids((await http.get("/patient/messages")).text)
        view = await http.get(f"/patient/conversations/{conversation_id}")
        response = await http.post(
            f"/patient/conversations/{conversation_id}/reponse",
            data={"to": participant_ids(view.text), "text": "sans jeton"},
        )
        assert response.status_code == 403
        response = await http.post("/patient/deconnexion", data={})
        assert response.status_code == 403
        assert (await http.get("/patient/messages")).status_code == 200  # still logged in
    # a token from another visitor's cookie is worthless
    async with client(make_app(world, tmp_path)) as other:
        response = await other.post(
            f"/patient/conversations/{conversation_id}/reponse", data={"csrf": csrf_of(view.text), "text": "x"}
        )
        assert response.status_code == 303 and response.headers["location"] == "/patient/connexion"


async def test_cookies_are_secure_and_the_session_is_rotated_at_login(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        first = await http.get("/patient/activation")
        set_cookie = first.headers["set-cookie"]
        assert set_cookie.startswith(f"{PRE}=")
        for attribute in ("HttpOnly", "Path=/", "SameSite=strict", "Secure"):
            assert attribute.lower() in set_cookie.lower()
        pre = http.cookies[PRE]
        secret = await activate(http, patient)
        after_activation = http.cookies[SESSION]
        assert PRE not in http.cookies
        assert after_activation != pre
        await logout(http)
        assert SESSION not in http.cookies
        await login(http, patient, secret)
        assert http.cookies[SESSION] != after_activation
        logged_in = http.cookies[SESSION]
        await logout(http)
    async with client(make_app(world, tmp_path)) as stale:
        stale.cookies.set(SESSION, logged_in)
        response = await stale.get("/patient/messages")
        assert response.status_code == 303


async def test_a_fixed_session_token_is_worthless_after_login(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        secret = await activate(http, patient)
        await logout(http)
        # an attacker plants a token (here: a made-up one) before the victim logs in
        http.cookies.set(SESSION, "planted-token", domain="testserver.local")
        response = await login(http, patient, secret)
        assert response.status_code == 303
        assert http.cookies[SESSION] != "planted-token"
        assert (await http.get("/patient/messages")).status_code == 200


async def test_another_patients_conversation_and_attachment_are_404(world: World, tmp_path: Path) -> None:
    doctor = await make_professional(world.database)
    alice = await make_patient(world.database)
    bob = await make_patient(world.database)
    await submit(world, doctor, [alice.address], professional_message(doctor, [alice.address], pdf=PDF))
    await submit(world, doctor, [bob.address], professional_message(doctor, [bob.address]))
    app = make_app(world, tmp_path)
    async with client(app) as as_alice:
        await activate(as_alice, alice)
        [alice_conversation] = conversation_ids((await as_alice.get("/patient/messages")).text)
        alice_view = await as_alice.get(f"/patient/conversations/{alice_conversation}")
        [alice_attachment] = attachment_ids(alice_view.text)
    async with client(app) as as_bob:
        await activate(as_bob, bob)
        [bob_conversation] = conversation_ids((await as_bob.get("/patient/messages")).text)
        bob_view = await as_bob.get(f"/patient/conversations/{bob_conversation}")
        for url in (
            f"/patient/conversations/{alice_conversation}",
            f"/patient/pieces-jointes/{alice_attachment}",
            "/patient/conversations/424242",
            "/patient/pieces-jointes/424242",
        ):
            response = await as_bob.get(url)
            assert response.status_code == 404, url
            assert "Page introuvable" in response.text
            assert "Bonjour" not in response.text
        response = await as_bob.post(
            f"/patient/conversations/{alice_conversation}/reponse",
            data={"csrf": csrf_of(bob_view.text), "to": participant_ids(alice_view.text), "text": "intrus"},
        )
        assert response.status_code == 404


async def test_repeated_failures_lock_the_account(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        secret = await activate(http, patient)
        await logout(http)
        for _ in range(5):
            response = await post_form(
                http, "/patient/connexion", "/patient/connexion",
                {"ins": patient.ins, "password": "mauvais mot de passe", "code": "123456"},
            )
            assert response.status_code == 200
            assert "ne correspondent pas" in text_of(response.text)
        # the right password and code are now refused too, with the reason
        response = await login(http, patient, secret)
        assert response.status_code == 429
        assert "bloqué pendant 15 minutes" in text_of(response.text)


async def test_a_wrong_one_time_code_fails_and_a_code_cannot_be_replayed(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        secret = await activate(http, patient)
        await logout(http)
        code = totp_now(secret, time.time() + 30)
        fields = {"ins": patient.ins, "password": PATIENT_PASSWORD}
        wrong = await post_form(http, "/patient/connexion", "/patient/connexion",
                                {**fields, "code": f"{(int(code) + 1) % 1_000_000:06d}"})
        assert "ne correspondent pas" in text_of(wrong.text)
        ok = await post_form(http, "/patient/connexion", "/patient/connexion", {**fields, "code": code})
        assert ok.status_code == 303
        await logout(http)
        replay = await post_form(http, "/patient/connexion", "/patient/connexion", {**fields, "code": code})
        assert replay.status_code == 200 and "ne correspondent pas" in text_of(replay.text)


async def test_many_failures_from_one_address_are_throttled(world: World, tmp_path: Path) -> None:
    world.services.ip_failures.limit = 3
    async with client(make_app(world, tmp_path)) as http:
        for n in range(3):
            unknown = await make_patient(world.database)
            response = await post_form(
                http, "/patient/connexion", "/patient/connexion",
                {"ins": unknown.ins, "password": f"essai {n}", "code": "000000"},
            )
            assert response.status_code == 200
        response = await post_form(
            http, "/patient/connexion", "/patient/connexion", {"ins": "x", "password": "y", "code": "000000"}
        )
        assert response.status_code == 429
        assert "Patientez" in text_of(response.text)


async def test_an_idle_session_expires(world: World, tmp_path: Path) -> None:
    """The row says idle: with the session cache off, every page reads the row and sees it."""
    world.services.web_sessions = sessions.SessionCache(0)
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        assert (await http.get("/patient/messages")).status_code == 200
        long_ago = datetime.now(UTC) - timedelta(seconds=world.services.settings.patient_session_idle + 5)
        async with world.database.write() as session:
            await session.execute(update(WebSession).values(last_seen_at=long_ago))
        response = await http.get("/patient/messages")
        assert response.status_code == 303
        assert response.headers["location"] == "/patient/connexion?motif=expiree"
        page = await http.get(response.headers["location"])
        assert "expiré" in page.text


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def test_a_cached_session_still_expires_when_idle(world: World, tmp_path: Path) -> None:
    clock = MovableClock()
    world.services.clock = clock
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        assert (await http.get("/patient/messages")).status_code == 200
        assert len(world.services.web_sessions) == 1  # the page above put it in the cache
        clock.offset = timedelta(seconds=world.services.settings.patient_session_idle + 5)
        response = await http.get("/patient/messages")
        assert response.status_code == 303
        assert response.headers["location"] == "/patient/connexion?motif=expiree"
        clock.offset = timedelta(0)
        assert (await http.get("/patient/messages")).status_code == 303  # ended, not just stale
    async with world.database.read() as session:
        assert (await session.scalars(select(WebSession.id))).all() == []


async def test_a_cached_session_expires_at_its_maximum_age(world: World, tmp_path: Path) -> None:
    clock = MovableClock()
    world.services.clock = clock
    world.services.settings = world.services.settings.model_copy(
        update={"patient_session_idle": 10 * 3600.0, "patient_session_max_age": 3600.0}
    )
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        for minutes in (0, 20, 40):  # pages every 20 minutes: never idle; each touches the row
            clock.offset = timedelta(minutes=minutes)
            assert (await http.get("/patient/messages")).status_code == 200
        clock.offset = timedelta(minutes=61)
        response = await http.get("/patient/messages")
        assert response.status_code == 303 and response.headers["location"].endswith("motif=expiree")


async def test_logout_forgets_a_cached_session_at_once(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    app = make_app(world, tmp_path)
    async with client(app) as http:
        await activate(http, patient)
        assert (await http.get("/patient/messages")).status_code == 200
        token = http.cookies[SESSION]
        assert len(world.services.web_sessions) == 1
        await logout(http)
        assert len(world.services.web_sessions) == 0
    async with client(app) as stolen:
        stolen.cookies.set(SESSION, token)
        assert (await stolen.get("/patient/messages")).status_code == 303


async def test_a_session_ended_by_another_process_is_refused_within_the_cache_ttl(
    world: World, tmp_path: Path
) -> None:
    clock = MovableClock()
    world.services.clock = clock
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        assert (await http.get("/patient/messages")).status_code == 200
        async with world.database.write() as session:  # another node logs this session out
            await session.execute(delete(WebSession))
        clock.offset = timedelta(seconds=world.services.settings.patient_session_cache + 0.5)
        response = await http.get("/patient/messages")
        assert response.status_code == 303 and response.headers["location"] == "/patient/connexion"


async def test_a_touch_that_finds_the_session_gone_logs_out(world: World, tmp_path: Path) -> None:
    """A cache longer than the touch interval still notices, at the touch, that the row is gone."""
    clock = MovableClock()
    world.services.clock = clock
    world.services.web_sessions = sessions.SessionCache(3600)
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        assert (await http.get("/patient/messages")).status_code == 200
        async with world.database.write() as session:
            await session.execute(delete(WebSession))
        assert (await http.get("/patient/messages")).status_code == 200  # trusted from memory meanwhile
        clock.offset = sessions.TOUCH_EVERY + timedelta(seconds=1)
        response = await http.get("/patient/messages")
        assert response.status_code == 303 and response.headers["location"] == "/patient/connexion"
        assert len(world.services.web_sessions) == 0


async def test_activation_code_is_checked_and_single_use(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        fields = {"code": "AAAA-BBBB-CCCC", "ins": patient.ins, "birth_date": patient.birth_date.isoformat()}
        wrong = await post_form(http, "/patient/activation", "/patient/activation", fields)
        assert wrong.status_code == 200 and "ne correspondent pas" in text_of(wrong.text)
        other_birth = {**fields, "code": patient.activation_code, "birth_date": "1990-01-01"}
        wrong = await post_form(http, "/patient/activation", "/patient/activation", other_birth)
        assert "ne correspondent pas" in text_of(wrong.text)
        # lower case and without dashes is accepted
        typed = patient.activation_code.replace("-", "").lower()
        ok = await post_form(http, "/patient/activation", "/patient/activation", {**fields, "code": typed})
        assert ok.status_code == 303
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
        await logout(http)
        again = await post_form(
            http, "/patient/activation", "/patient/activation",
            {"code": patient.activation_code, "ins": patient.ins, "birth_date": patient.birth_date.isoformat()},
        )
        assert again.status_code == 200 and "ne correspondent pas" in text_of(again.text)


async def test_a_weak_password_is_refused_in_french(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        await post_form(
            http, "/patient/activation", "/patient/activation",
            {"code": patient.activation_code, "ins": patient.ins, "birth_date": patient.birth_date.isoformat()},
        )
        response = await post_form(
            http, "/patient/activation/mot-de-passe", "/patient/activation/mot-de-passe",
            {"password": "court", "password2": "court"},
        )
        assert "au moins 12 caractères" in text_of(response.text)
        response = await post_form(
            http, "/patient/activation/mot-de-passe", "/patient/activation/mot-de-passe",
            {"password": "assez long mais", "password2": "différent du premier"},
        )
        assert "différents" in text_of(response.text)
        # the enrolment pages are not reachable without the activation step
    async with client(make_app(world, tmp_path)) as anonymous:
        response = await anonymous.get("/patient/activation/double-authentification")
        assert response.status_code == 303 and response.headers["location"] == "/patient/activation"


async def test_opposition_refuses_mail_afterwards(world: World, tmp_path: Path) -> None:
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        fields = {"code": patient.activation_code, "ins": patient.ins, "birth_date": patient.birth_date.isoformat()}
        unconfirmed = await post_form(http, "/patient/opposition", "/patient/opposition", fields)
        assert "Cochez la case" in text_of(unconfirmed.text)
        done = await post_form(http, "/patient/opposition", "/patient/opposition", {**fields, "confirm": "oui"})
        assert done.status_code == 200 and "opposition est enregistrée" in text_of(done.text)
        again = await post_form(http, "/patient/activation", "/patient/activation", fields)
        assert "opposé" in text_of(again.text)
    raw = professional_message(doctor, [patient.address])
    sender = Sender(channel="submission", mailbox=doctor)
    try:
        await world.pipeline.submit(sender, doctor.address, [patient.address], raw)
    except DeliveryRefused as refusal:
        assert refusal.enhanced == "5.2.1" and "oppose" in refusal.text
    else:
        raise AssertionError("mail to an opposed space was accepted")


async def test_many_stale_sessions_at_once_do_not_exhaust_the_connection_pool(world: World, tmp_path: Path) -> None:
    """Each request touches its session (a write); it must not hold a read connection meanwhile, or twenty
    concurrent requests wait on each other for the pool until they time out."""
    doctor = await make_professional(world.database)
    patient = await make_patient(world.database)
    await submit(world, doctor, [patient.address], professional_message(doctor, [patient.address]))
    app = make_app(world, tmp_path)
    async with client(app) as http:
        await activate(http, patient)
        [conversation_id] = conversation_ids((await http.get("/patient/messages")).text)
    now = datetime.now(UTC)
    tokens = [
        await sessions.start(world.database, account_id=patient.id, stage=sessions.FULL, now=now) for _ in range(20)
    ]
    async with world.database.write() as session:
        await session.execute(update(WebSession).values(last_seen_at=now - timedelta(minutes=5)))

    async def one(token: str, url: str) -> int:
        async with client(app) as browser:
            browser.cookies.set(SESSION, token)
            return (await browser.get(url)).status_code

    for url in ("/patient/messages", f"/patient/conversations/{conversation_id}"):
        codes = await asyncio.wait_for(asyncio.gather(*(one(token, url) for token in tokens)), timeout=25)
        assert codes == [200] * 20
        async with world.database.write() as session:
            await session.execute(update(WebSession).values(last_seen_at=now - timedelta(minutes=5)))


async def test_dead_sessions_are_removed_at_the_next_login(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    old = [
        await sessions.start(world.database, account_id=patient.id, stage=sessions.FULL, now=long_ago)
        for _ in range(3)
    ]
    async with client(make_app(world, tmp_path)) as http:
        await activate(http, patient)
    async with world.database.read() as session:
        ids = set((await session.scalars(select(WebSession.id))).all())
    assert not {token_id(token) for token in old} & ids
    assert len(ids) == 1  # the session of the activation that just happened


async def test_the_totp_secret_is_sealed_in_the_database(world: World, tmp_path: Path) -> None:
    patient = await make_patient(world.database)
    async with client(make_app(world, tmp_path)) as http:
        secret = await activate(http, patient)
    async with world.database.read() as session:
        stored = await session.scalar(select(PatientAccount.totp_secret).where(PatientAccount.id == patient.id))
    assert stored is not None and secret not in stored
    assert open_totp(world.services.sealing_key, patient.id, stored) == secret
    assert oct((tmp_path / "patient-secrets.key").stat().st_mode & 0o777) == "0o600"
