"""What every patient page handler needs: the shared services, the signing key, the visitor's session, CSRF.

The services are the ones the composition root registered with the pipeline (found through the patient
domain's handler), so web replies use exactly the objects the SMTP side uses.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from patient_inbox.keys import WEB_KEY, load_key
from patient_inbox.services import PatientServices
from patient_inbox.web import sessions
from patient_inbox.web.render import render
from patient_inbox.web.security import (
    PAGE_HEADERS,
    PRE_COOKIE,
    SESSION_COOKIE,
    csrf_ok,
    csrf_token,
    new_token,
    set_cookie,
)


class PageError(Exception):
    """Stops a handler with a ready response (403 for CSRF, 404, a redirect to the login page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def get_services(request: Request) -> PatientServices:
    state = request.app.state
    found: PatientServices | None = getattr(state, "patient_services", None)
    if found is not None:
        return found
    runtime = getattr(state, "runtime", None)
    handler = runtime.pipeline.handlers.get(state.settings.patient_domain) if runtime is not None else None
    services = getattr(handler, "services", None)
    if not isinstance(services, PatientServices):
        raise RuntimeError("the patient domain handler is not registered with the delivery pipeline")
    state.patient_services = services
    return services


def get_key(request: Request, services: PatientServices) -> bytes:
    key: bytes | None = getattr(request.app.state, "patient_web_key", None)
    if key is None:
        key = load_key(services.data_dir, WEB_KEY)
        request.app.state.patient_web_key = key
    return key


def redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    return response


def error_page(status: int, heading: str, message: str, **context: Any) -> Response:
    return render("error.html", {"title": heading, "heading": heading, "message": message, **context}, status)


def not_found(**context: Any) -> PageError:
    return PageError(
        error_page(404, "Page introuvable", "Ce que vous cherchez n'existe pas ou n'est pas accessible.", **context)
    )


def forbidden() -> PageError:
    return PageError(
        error_page(
            403,
            "Formulaire expiré",
            "Pour votre sécurité, ce formulaire n'est plus valable. Revenez à la page précédente, rechargez-la "
            "et recommencez.",
        )
    )


@dataclass
class Visit:
    """One request's view of the visitor: services, key, time, and the session if any."""

    request: Request
    services: PatientServices
    key: bytes
    now: datetime
    current: sessions.Current | None
    expired: bool
    pre_token: str | None  # the pre-session cookie, issued when a form is shown to an anonymous visitor
    new_pre: bool = False

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.services.settings.patient_session_max_age)

    @property
    def cookie_value(self) -> str | None:
        return self.current.token if self.current is not None else self.pre_token

    def csrf(self) -> str:
        if self.cookie_value is None:
            self.pre_token = new_token()
            self.new_pre = True
        assert self.cookie_value is not None
        return csrf_token(self.key, self.cookie_value)

    def finish(self, response: Response) -> Response:
        if self.new_pre and self.pre_token is not None:
            set_cookie(response, PRE_COOKIE, self.pre_token)
        return response

    def page(self, template: str, context: dict[str, Any], status: int = 200) -> Response:
        signed_in = self.current is not None and self.current.session.stage == sessions.FULL
        base = {"csrf": self.csrf(), "signed_in": signed_in}
        return self.finish(render(template, {**base, **context}, status))

    async def form(self, *, max_files: int = 0, max_fields: int = 50) -> FormData:
        """The submitted form, after checking its CSRF token (403 otherwise)."""
        form = await self.request.form(max_files=max_files, max_fields=max_fields)
        if not csrf_ok(self.key, self.cookie_value, form.get("csrf")):
            await form.close()
            raise forbidden()
        return form

    def client_ip(self) -> str:
        return self.request.client.host if self.request.client is not None else "unknown"


async def visit(request: Request) -> Visit:
    """The visitor of this request.

    Call it before opening any database session of your own: it may write (touch or end the web session), and
    a request holding one pooled connection while waiting for another deadlocks the pool under load.
    """
    services = get_services(request)
    limits = services.settings
    now = services.clock()
    current, expired = await sessions.load(
        services.database,
        request.cookies.get(SESSION_COOKIE),
        now=now,
        idle=timedelta(seconds=limits.patient_session_idle),
        max_age=timedelta(seconds=limits.patient_session_max_age),
        cache=services.web_sessions,
    )
    return Visit(request, services, get_key(request, services), now, current, expired, request.cookies.get(PRE_COOKIE))


def signed_in(visit: Visit) -> sessions.Current:
    """The logged-in session, or a redirect to the login page (saying why when the session expired)."""
    if visit.current is None or visit.current.session.stage != sessions.FULL:
        raise PageError(redirect("/patient/connexion?motif=expiree" if visit.expired else "/patient/connexion"))
    return visit.current


P = ParamSpec("P")


def guarded(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Turn a :class:`PageError` raised anywhere in ``handler`` into its response."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except PageError as error:
            return error.response

    return wrapper
