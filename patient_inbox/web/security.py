"""Web security primitives: the signing key, CSRF tokens, cookies and response headers.

- The key is ``<data_dir>/patient-web.key`` (:mod:`patient_inbox.keys`), shared by every process and node of
  the data directory, so a restart does not log everyone out.
- CSRF tokens are ``HMAC(key, cookie)``: bound to the session cookie once logged in, to a random pre-session
  cookie before. A form without the right token gets 403. Both cookies are ``__Host-`` prefixed (Secure, path
  ``/``, no Domain), HttpOnly and SameSite=Strict.
- Pages forbid every script, frame and remote load through Content-Security-Policy; downloads are sandboxed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.responses import Response

SESSION_COOKIE = "__Host-mss-patient"
PRE_COOKIE = "__Host-mss-pre"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
DOWNLOAD_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """What the sessions table stores instead of the cookie value."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(key: bytes, cookie_value: str) -> str:
    return hmac.new(key, b"csrf\0" + cookie_value.encode(), hashlib.sha256).hexdigest()


def csrf_ok(key: bytes, cookie_value: str | None, submitted: object) -> bool:
    if not cookie_value or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(csrf_token(key, cookie_value), submitted)


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")


def secure_headers(response: Response, headers: dict[str, str] = PAGE_HEADERS) -> Response:
    for name, value in headers.items():
        response.headers[name] = value
    return response
