"""STARTTLS, LOGIN and AUTHENTICATE PLAIN with SASL-IR (RFC 3501 §6.2, RFC 4616, RFC 4959).

Passwords are checked by the shared authenticator (argon2 with a verification cache and failure throttling);
nothing here logs a password or an address.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from mail_gateway.imap.errors import AuthenticationFailed, ProtocolError
from mail_gateway.imap.handlers.common import Action, Reply, State
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol.response import Continuation, ok

if TYPE_CHECKING:
    from mail_gateway.imap.session import Session

# RFC 5530 response codes by authenticator outcome.
_CODES = {"throttled": "UNAVAILABLE", "suspended": "AUTHORIZATIONFAILED", "patient": "AUTHORIZATIONFAILED"}


async def starttls(session: Session, command: c.StartTls) -> Reply:
    if session.tls_active or not session.starttls_available:
        raise ProtocolError("STARTTLS is not available on this connection")
    return Reply([ok(command.tag, "Begin TLS negotiation now")], Action.STARTTLS)


async def login(session: Session, command: c.Login) -> Reply:
    if not session.secure:
        # RFC 3501 §6.2.3 and §11.1 (LOGINDISABLED): no password over an unprotected connection.
        raise AuthenticationFailed("use STARTTLS before LOGIN", "PRIVACYREQUIRED")
    return await _verify(session, command.tag, command.user, command.password)


async def authenticate(session: Session, command: c.Authenticate) -> Reply:
    if command.mechanism != "PLAIN":
        raise AuthenticationFailed(f"mechanism {command.mechanism[:20]} is not supported", "CANNOT")
    if not session.secure:
        raise AuthenticationFailed("use STARTTLS before AUTHENTICATE", "PRIVACYREQUIRED")
    if command.initial is None:
        session.pending_sasl = command.tag
        return Reply([Continuation(b"")], Action.SASL)
    return await _plain(session, command.tag, command.initial)


async def sasl_response(session: Session, tag: bytes, line: bytes) -> Reply:
    if line.strip() == b"*":  # RFC 3501 §6.2.2: the client cancels
        raise ProtocolError("authentication cancelled")
    return await _plain(session, tag, line.strip())


async def _plain(session: Session, tag: bytes, encoded: bytes) -> Reply:
    try:
        data = b"" if encoded == b"=" else base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("the SASL response is not base64") from None
    parts = data.split(b"\0")
    if len(parts) != 3:
        raise ProtocolError("PLAIN wants authzid NUL authcid NUL password (RFC 4616 §2)")
    authzid, user, password = parts
    if authzid and authzid != user:
        raise AuthenticationFailed("acting as another user is not allowed", "AUTHORIZATIONFAILED")
    return await _verify(session, tag, user, password)


async def _verify(session: Session, tag: bytes, user: bytes, password: bytes) -> Reply:
    try:
        address = user.decode("utf-8")
        secret = password.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthenticationFailed("the address or the password is wrong") from None
    outcome = await session.verifier.verify_password(address, secret, session.remote_ip)
    if outcome.mailbox is None:
        raise AuthenticationFailed(outcome.message, _CODES.get(outcome.reason, "AUTHENTICATIONFAILED"))
    session.account = outcome.mailbox
    session.state = State.AUTHENTICATED
    caps = " ".join(session.capabilities())
    return Reply([ok(tag, "logged in", f"CAPABILITY {caps}")])
