"""Getting in and out: login (password + one-time code), activation in three steps, opposition, logout.

Every failure of a secret says the same generic sentence (no hint whether the INS exists). Failures count per
account (lockout, :mod:`policies.patient_access`) and per client IP (throttling); both stop the attempt
before any secret is checked.
"""

from __future__ import annotations

from datetime import date

import structlog
from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from patient_inbox import accounts
from patient_inbox.credentials import new_totp_secret, provisioning_uri, qr_svg
from patient_inbox.errors import AccountLocked, AuthenticationFailed, InvalidIdentity, LifecycleRefused
from patient_inbox.models import PatientAccount
from patient_inbox.web import sessions
from patient_inbox.web.context import PageError, Visit, guarded, redirect, visit
from patient_inbox.web.render import STATIC
from patient_inbox.web.security import PRE_COOKIE, SESSION_COOKIE, clear_cookie, set_cookie
from policies.ins import normalise_ins

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/patient", include_in_schema=False)

THROTTLED = "Trop de tentatives ont échoué depuis votre connexion Internet. Patientez quelques minutes et réessayez."
INFO = {
    "expiree": "Votre session a expiré après une période d'inactivité. Connectez-vous à nouveau.",
    "deconnecte": "Vous êtes déconnecté. À bientôt.",
}


def _text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _throttled(v: Visit) -> bool:
    return v.services.ip_failures.check(f"ip:{v.client_ip()}", v.now.timestamp()) is not None


def _count_ip_failure(v: Visit) -> None:
    v.services.ip_failures.record(f"ip:{v.client_ip()}", v.now.timestamp())


def _enter(v: Visit, response: Response, token: str) -> Response:
    """Set the new session cookie and drop the pre-session one (the old values are now worthless)."""
    set_cookie(response, SESSION_COOKIE, token)
    clear_cookie(response, PRE_COOKIE)
    return response


@router.get("/")
@router.get("")
async def home() -> Response:
    return redirect("/patient/messages")


@router.get("/static/style.css")
async def stylesheet() -> Response:
    return Response(
        (STATIC / "style.css").read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


# Login ----------------------------------------------------------------------------------------------------------


@router.get("/connexion")
@guarded
async def login_page(request: Request, motif: str = "") -> Response:
    v = await visit(request)
    if v.current is not None and v.current.session.stage == sessions.FULL:
        return redirect("/patient/messages")
    return v.page("login.html", {"title": "Connexion", "ins": "", "info": INFO.get(motif)})


@router.post("/connexion")
@guarded
async def login(request: Request) -> Response:
    v = await visit(request)
    form = await v.form()
    ins = normalise_ins(_text(form, "ins", 40)).upper()
    password = form.get("password")
    code = _text(form, "code", 20)

    def again(message: str, status: int = 200) -> Response:
        return v.page("login.html", {"title": "Connexion", "ins": ins, "errors": [message]}, status)

    if _throttled(v):
        return again(THROTTLED, 429)
    if not ins or not isinstance(password, str) or not password or not code:
        return again("Saisissez votre matricule INS, votre mot de passe et le code à usage unique.")
    try:
        account = await accounts.verify_login(
            v.services.database, ins=ins, password=password, totp_code=code, now=v.now,
            sealing_key=v.services.sealing_key,
        )
    except AccountLocked as error:
        return again(str(error), 429)
    except AuthenticationFailed as error:
        _count_ip_failure(v)
        log.info("patient.login_failed")
        return again(str(error))
    except LifecycleRefused as error:
        return again(error.sentence)
    token = await sessions.start(
        v.services.database, account_id=account.id, stage=sessions.FULL, now=v.now, replaces=v.cookie_value,
        max_age=v.max_age, cache=v.services.web_sessions,
    )
    log.info("patient.login", account_id=account.id)
    return _enter(v, redirect("/patient/messages"), token)


@router.post("/deconnexion")
@guarded
async def logout(request: Request) -> Response:
    v = await visit(request)
    await v.form()
    await sessions.end(v.services.database, v.current.token if v.current else None, v.services.web_sessions)
    response = redirect("/patient/connexion?motif=deconnecte")
    clear_cookie(response, SESSION_COOKIE)
    return response


# Activation and opposition --------------------------------------------------------------------------------------

ACTIVATION = {
    "title": "Activation",
    "heading": "Activer ma messagerie santé",
    "intro": "Étape 1 sur 3. Saisissez le code d'activation reçu par courrier, votre matricule INS et votre date "
    "de naissance.",
    "action": "/patient/activation",
    "submit": "Continuer",
    "confirm": False,
}
OPPOSITION = {
    "title": "Opposition",
    "heading": "M'opposer à la création de ma messagerie santé",
    "intro": "Vous pouvez refuser votre messagerie santé pendant 6 semaines après réception du courrier. "
    "Les professionnels de santé ne pourront alors pas vous y écrire. Vous pourrez changer d'avis plus tard.",
    "action": "/patient/opposition",
    "submit": "Confirmer mon opposition",
    "confirm": True,
}


def _identity_fields(form: FormData) -> tuple[str, str, date | None, list[str]]:
    code = _text(form, "code", 40)
    ins = normalise_ins(_text(form, "ins", 40)).upper()
    errors = []
    if not code:
        errors.append("Saisissez le code d'activation.")
    if not ins:
        errors.append("Saisissez votre matricule INS.")
    try:
        birth: date | None = date.fromisoformat(_text(form, "birth_date", 20))
    except ValueError:
        birth = None
        errors.append("Saisissez votre date de naissance, par exemple 14/07/1985.")
    return code, ins, birth, errors


@router.get("/activation")
@guarded
async def activation_page(request: Request) -> Response:
    v = await visit(request)
    return v.page("activation.html", {**ACTIVATION, "code": "", "ins": "", "birth_date": ""})


@router.get("/opposition")
@guarded
async def opposition_page(request: Request) -> Response:
    v = await visit(request)
    return v.page("activation.html", {**OPPOSITION, "code": "", "ins": "", "birth_date": ""})


async def _checked_identity(v: Visit, form: FormData, texts: dict[str, object]) -> PatientAccount:
    code, ins, birth, errors = _identity_fields(form)
    context = {**texts, "code": code, "ins": ins, "birth_date": birth.isoformat() if birth else ""}
    if _throttled(v):
        raise PageError(v.page("activation.html", {**context, "errors": [THROTTLED]}, 429))
    if errors or birth is None:
        raise PageError(v.page("activation.html", {**context, "errors": errors}))
    try:
        return await accounts.verify_activation(v.services.database, ins=ins, birth_date=birth, code=code, now=v.now)
    except AccountLocked as error:
        raise PageError(v.page("activation.html", {**context, "errors": [str(error)]}, 429)) from None
    except AuthenticationFailed as error:
        _count_ip_failure(v)
        raise PageError(v.page("activation.html", {**context, "errors": [str(error)]})) from None


@router.post("/activation")
@guarded
async def activation(request: Request) -> Response:
    v = await visit(request)
    form = await v.form()
    row = await _checked_identity(v, form, ACTIVATION)
    try:
        accounts.check_enrolment(row, v.now)
    except LifecycleRefused as error:
        return v.page("activation.html", {**ACTIVATION, "code": "", "ins": row.ins, "birth_date": "",
                                          "errors": [error.sentence]})
    token = await sessions.start(
        v.services.database, account_id=row.id, stage=sessions.ENROL, now=v.now, replaces=v.cookie_value,
        max_age=v.max_age, cache=v.services.web_sessions,
    )
    return _enter(v, redirect("/patient/activation/mot-de-passe"), token)


@router.post("/opposition")
@guarded
async def opposition(request: Request) -> Response:
    v = await visit(request)
    form = await v.form()
    code, ins, birth, _ = _identity_fields(form)
    if form.get("confirm") != "oui":
        context = {**OPPOSITION, "code": code, "ins": ins, "birth_date": birth.isoformat() if birth else ""}
        return v.page("activation.html", {**context, "errors": ["Cochez la case pour confirmer votre opposition."]})
    row = await _checked_identity(v, form, OPPOSITION)
    try:
        await accounts.oppose(v.services.database, ins=row.ins, birth_date=row.birth_date, code=code, now=v.now)
    except (LifecycleRefused, AuthenticationFailed) as error:
        return v.page("activation.html", {**OPPOSITION, "code": "", "ins": ins, "birth_date": "",
                                          "errors": [str(error)]})
    log.info("patient.opposed", account_id=row.id)
    return v.page(
        "done.html",
        {
            "title": "Opposition enregistrée",
            "heading": "Votre opposition est enregistrée",
            "message": "Votre messagerie santé ne sera pas créée et aucun professionnel ne pourra vous y écrire. "
            "Si vous changez d'avis, contactez le support.",
        },
    )


def _enrolling(v: Visit) -> sessions.Current:
    if v.current is None or v.current.session.stage != sessions.ENROL:
        raise PageError(redirect("/patient/activation"))
    return v.current


@router.get("/activation/mot-de-passe")
@guarded
async def password_page(request: Request) -> Response:
    v = await visit(request)
    _enrolling(v)
    return v.page("password.html", {"title": "Mot de passe"})


@router.post("/activation/mot-de-passe")
@guarded
async def password(request: Request) -> Response:
    v = await visit(request)
    current = _enrolling(v)
    form = await v.form()
    first, second = form.get("password"), form.get("password2")
    if not isinstance(first, str) or first != second:
        return v.page("password.html", {"title": "Mot de passe", "errors": ["Les deux mots de passe sont différents."]})
    try:
        await accounts.set_password(v.services.database, account_id=current.account.id, password=first, now=v.now)
    except (InvalidIdentity, LifecycleRefused) as error:
        return v.page("password.html", {"title": "Mot de passe", "errors": [str(error)]})
    return redirect("/patient/activation/double-authentification")


def _secret_groups(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@router.get("/activation/double-authentification")
@guarded
async def totp_page(request: Request) -> Response:
    v = await visit(request)
    current = _enrolling(v)
    if current.account.password_hash is None:
        return redirect("/patient/activation/mot-de-passe")
    secret = current.session.pending_totp
    if secret is None:
        secret = new_totp_secret()
        await sessions.set_pending_totp(v.services.database, current.token, secret)
    return _totp(v, current, secret, [])


def _totp(v: Visit, current: sessions.Current, secret: str, errors: list[str]) -> Response:
    uri = provisioning_uri(secret, current.account.ins)
    context = {"title": "Code à usage unique", "qr": qr_svg(uri), "secret_groups": _secret_groups(secret)}
    return v.page("totp.html", {**context, "errors": errors})


@router.post("/activation/double-authentification")
@guarded
async def totp(request: Request) -> Response:
    v = await visit(request)
    current = _enrolling(v)
    form = await v.form()
    secret = current.session.pending_totp
    if secret is None:
        return redirect("/patient/activation/double-authentification")
    try:
        account = await accounts.confirm_totp(
            v.services.database, account_id=current.account.id, totp_secret=secret,
            totp_code=_text(form, "code", 20), now=v.now, sealing_key=v.services.sealing_key,
        )
    except (AuthenticationFailed, LifecycleRefused) as error:
        return _totp(v, current, secret, [str(error)])
    token = await sessions.start(
        v.services.database, account_id=account.id, stage=sessions.FULL, now=v.now, replaces=current.token,
        max_age=v.max_age, cache=v.services.web_sessions,
    )
    log.info("patient.activated", account_id=account.id)
    return _enter(v, redirect("/patient/messages?bienvenue=1"), token)
