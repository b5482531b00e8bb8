"""Password authentication for SMTP submission and IMAP, shared by both.

- argon2 verification runs in a worker thread: it is slow by design and must not stall the event loop.
- Like Dovecot's auth cache, a successful verification is remembered for ``cache_ttl`` seconds under a keyed
  hash (HMAC-SHA256 with a per-process random key) of address and password, so reconnecting clients do not pay
  argon2 each time; the password itself is never kept. Such a login reads the mailbox from the short-lived
  mailbox cache (5 s), so a suspension takes effect within seconds, and a password change once the verification
  cache entry expires (``cache_ttl``).
- Failures are counted per address and per IP within a sliding window; past the limit, attempts are refused
  without checking the password until the window frees a slot.
- Certificate login (SASL EXTERNAL, RFC 4422 Appendix A): the client certificate of the TLS handshake, checked
  against the health PKI by :mod:`certs`, is mapped to the mailbox its owner holds (idNat for a person,
  structure id for an organisation); an authorisation identity picks one mailbox when the owner has several.
- An unknown address costs the same argon2 work as a wrong password, so timing does not reveal which
  addresses exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import select

from certs import CertificateLogin
from mail_gateway.passwords import hash_password, verify_password
from mail_gateway.store.cache import MailboxCache
from mail_gateway.store.mailboxes import MailboxInfo
from mail_gateway.store.models import Mailbox
from policies.addresses import normalise, split
from policies.rate_limits import FailureWindow
from storage.engine import Database
from storage.ttl_cache import Missing, TtlCache

log = structlog.get_logger(__name__)

_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class AuthOutcome:
    """The result of a login attempt. ``reason`` is one of ok, invalid, throttled, suspended, patient."""

    mailbox: MailboxInfo | None
    reason: str
    message: str

    @property
    def ok(self) -> bool:
        return self.mailbox is not None


INVALID = "the address or the password is wrong"


class Authenticator:
    def __init__(
        self,
        database: Database,
        *,
        max_failures: int = 5,
        failure_window: float = 300.0,
        cache_ttl: float = 60.0,
        cache_size: int = 10_000,
        patient_domain: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        mailboxes: MailboxCache | None = None,
    ) -> None:
        self.database = database
        self.failures = FailureWindow(max_failures, failure_window)
        self.patient_domain = patient_domain
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._cache: TtlCache[bytes, int] = TtlCache(ttl=cache_ttl, max_entries=cache_size)  # key -> mailbox id
        # Mailbox rows for logins whose password verification is cached: no database read at all then.
        self.mailboxes = mailboxes or MailboxCache(database, clock=clock)

    def _cache_key(self, address: str, password: str) -> bytes:
        material = address.encode() + b"\0" + password.encode("utf-8", "surrogateescape")
        return hmac.new(self._key, material, hashlib.sha256).digest()

    async def verify_password(self, address: str, password: str, remote_ip: str) -> AuthOutcome:
        address = normalise(address)
        now = self.clock()
        for key in (f"addr:{address}", f"ip:{remote_ip}"):
            throttled = self.failures.check(key, now)
            if throttled is not None:
                log.info("auth.throttled", scope=key.split(":")[0], retry_after=round(throttled.retry_after))
                return AuthOutcome(
                    None,
                    "throttled",
                    f"too many failed logins; try again in {int(throttled.retry_after) + 1} seconds",
                )
        if self.patient_domain and split(address)[1] == self.patient_domain:
            return AuthOutcome(
                None, "patient", "patient mailboxes have no IMAP or SMTP access; use the web inbox"
            )
        cache_key = self._cache_key(address, password)
        cached = self._cache.get(cache_key, now)
        mailbox = None if isinstance(cached, Missing) else await self.mailboxes.get(address)
        if mailbox is not None and cached == mailbox.id:
            verified = True
        else:
            async with self.database.read() as session:
                row = await session.scalar(select(Mailbox).where(Mailbox.address == address))
                mailbox = MailboxInfo.of(row) if row is not None else None
                password_hash = row.password_hash if row is not None else None
            verified = await asyncio.to_thread(verify_password, password_hash or _DUMMY_HASH, password)
            verified = verified and password_hash is not None and mailbox is not None
        if not verified or mailbox is None:
            self.failures.record(f"addr:{address}", now)
            self.failures.record(f"ip:{remote_ip}", now)
            log.info("auth.failed", known=mailbox is not None)
            return AuthOutcome(None, "invalid", INVALID)
        self._cache.put(cache_key, mailbox.id, now)
        if mailbox.state != "active":
            return AuthOutcome(None, "suspended", "this mailbox is suspended; contact your operator")
        self.failures.clear(f"addr:{address}")
        return AuthOutcome(mailbox, "ok", "authenticated")


_KINDS_FOR_CERTIFICATE = {"PER": ("PER",), "ORG": ("ORG", "APP")}


async def certificate_outcome(
    database: Database, login: CertificateLogin | None, authzid: str | None
) -> AuthOutcome:
    """The mailbox a validated client certificate may act as, or the reason it may not."""
    if login is None:
        return AuthOutcome(None, "invalid", "no client certificate was presented during the TLS handshake")
    if not login.accepted or login.owner_id is None or login.kind is None:
        reason = "revoked" if login.revoked else "invalid"
        return AuthOutcome(None, reason, f"the client certificate is refused: {login.reason}")
    async with database.read() as session:
        rows = await session.scalars(
            select(Mailbox).where(
                Mailbox.owner_id == login.owner_id, Mailbox.kind.in_(_KINDS_FOR_CERTIFICATE.get(login.kind, ()))
            )
        )
        candidates = [MailboxInfo.of(row) for row in rows]
    if authzid:
        candidates = [m for m in candidates if m.address == normalise(authzid)]
    elif len(candidates) > 1:
        by_email = [m for m in candidates if m.address in {e.lower() for e in login.emails}]
        candidates = by_email or candidates
    if not candidates:
        return AuthOutcome(None, "invalid", f"no mailbox here belongs to {login.kind} {login.owner_id}")
    if len(candidates) > 1:
        return AuthOutcome(
            None, "invalid", "this certificate's owner has several mailboxes: name one as the authorization identity"
        )
    mailbox = candidates[0]
    if mailbox.state != "active":
        return AuthOutcome(None, "suspended", "this mailbox is suspended; contact your operator")
    return AuthOutcome(mailbox, "ok", "authenticated by certificate")
