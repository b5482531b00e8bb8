"""The registry of issued certificates (table ``pki_certificates``) and the PKI's wiring to settings.

``certs`` holds the pure PKI logic and cannot import ``storage``; this module records every issued certificate
with its status, implements :class:`certs.revocation.CertificateRegistry` for CRLs and OCSP, and builds the
:class:`certs.TrustStore` the gateway verifies against (anchors on disk, revocations from the database).

The CA key passphrase comes from, in order: an explicit file, ``MSSANTE_PKI_PASSPHRASE_FILE``, or the key file
``<data_dir>/pki/passphrase`` that ``mssante pki init`` creates when neither is given (development).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request
from sqlalchemy import Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from certs.errors import PKIError
from certs.hierarchy import Hierarchy, load_hierarchy
from certs.http import PKIBackend, build_router
from certs.issue import Issued, serial_hex
from certs.keys import read_passphrase, write_private
from certs.names import dn_string, identity_of, mailbox_addresses
from certs.revocation import CertificateStatus, Revoked, parse_reason
from certs.trust import TrustStore
from mssante.settings import Settings
from storage.base import Base, UTCDateTime, utcnow
from storage.engine import Database

PASSPHRASE_ENV = "MSSANTE_PKI_PASSPHRASE_FILE"  # noqa: S105 - the name of a variable, not a secret


class UnknownCertificate(PKIError):
    pass


class AlreadyRevoked(PKIError):
    pass


class IssuedCertificate(Base):
    """One certificate issued by our CAs; ``serial`` is upper-case hexadecimal (up to 160 bits, RFC 5280 §4.1.2.2)."""

    __tablename__ = "pki_certificates"
    __table_args__ = (
        Index("ix_pki_certificates_ca_status", "ca", "status"),
        Index("ix_pki_certificates_owner_id", "owner_id"),
    )

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    ca: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(500))
    owner_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(8))  # valid or revoked
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    certificate_pem: Mapped[str] = mapped_column(Text())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    def revocation(self) -> Revoked | None:
        if self.status != "revoked" or self.revoked_at is None:
            return None
        return Revoked(int(self.serial, 16), self.revoked_at, parse_reason(self.revocation_reason or "unspecified"))

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())


# Service functions ----------------------------------------------------------------------------------------------


async def record_issued(session: AsyncSession, issued: Issued) -> IssuedCertificate:
    certificate = issued.certificate
    identity = identity_of(certificate)
    emails = mailbox_addresses(certificate)
    row = IssuedCertificate(
        serial=serial_hex(certificate.serial_number),
        ca=issued.profile.population.value,
        profile=issued.profile.value,
        subject=dn_string(certificate.subject)[:500],
        owner_id=identity.owner_id if identity else None,
        email=emails[0] if emails else None,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        status="valid",
        revoked_at=None,
        revocation_reason=None,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def get_certificate(session: AsyncSession, serial: str) -> IssuedCertificate:
    row = await session.get(IssuedCertificate, serial.upper().lstrip("0") or "0")
    if row is None:
        raise UnknownCertificate(f"no certificate with serial {serial} was issued here")
    return row


async def revoke(
    session: AsyncSession, serial: str, reason: str, *, now: dt.datetime | None = None
) -> IssuedCertificate:
    """Mark a certificate revoked with an RFC 5280 §5.3.1 reason; the next CRL and OCSP answers show it."""
    parse_reason(reason)
    row = await get_certificate(session, serial)
    if row.status == "revoked":
        raise AlreadyRevoked(f"certificate {row.serial} was already revoked on {row.revoked_at:%Y-%m-%d}")
    row.status = "revoked"
    row.revoked_at = (now or utcnow()).replace(microsecond=0)  # CRL times have one-second precision
    row.revocation_reason = reason
    await session.flush()
    return row


async def list_certificates(session: AsyncSession) -> Sequence[IssuedCertificate]:
    result = await session.execute(select(IssuedCertificate).order_by(IssuedCertificate.created_at))
    return result.scalars().all()


class DatabaseRegistry:
    """:class:`certs.revocation.CertificateRegistry` over the ``pki_certificates`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def revoked(self, ca: str) -> Sequence[Revoked]:
        async with self.database.read() as session:
            rows = await session.execute(
                select(IssuedCertificate).where(IssuedCertificate.ca == ca, IssuedCertificate.status == "revoked")
            )
            return [entry for row in rows.scalars() if (entry := row.revocation()) is not None]

    async def status(self, ca: str, serial: int) -> CertificateStatus | None:
        async with self.database.read() as session:
            row = await session.get(IssuedCertificate, serial_hex(serial))
        if row is None or row.ca != ca:
            return None
        return CertificateStatus(serial, ca, row.revocation())


# Wiring to settings -----------------------------------------------------------------------------------------------


def pki_dir(settings: Settings) -> Path:
    return settings.data_dir / "pki"


def default_base_url(settings: Settings) -> str:
    return f"http://{settings.hostname}:{settings.http_port}/pki"


def passphrase_file(settings: Settings, explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    from_env = os.environ.get(PASSPHRASE_ENV)
    return Path(from_env) if from_env else pki_dir(settings) / "passphrase"


def new_passphrase_file(path: Path) -> bytes:
    """Create a random passphrase key file (mode 0600) when none exists yet; return its passphrase."""
    if path.exists():
        return read_passphrase(path)
    passphrase = secrets.token_urlsafe(32).encode()
    write_private(path, passphrase + b"\n")
    return passphrase


def load_pki(settings: Settings, *, with_keys: bool, passphrase_path: Path | None = None) -> Hierarchy:
    passphrase = read_passphrase(passphrase_file(settings, passphrase_path)) if with_keys else None
    return load_hierarchy(pki_dir(settings), passphrase)


async def load_trust(settings: Settings, database: Database) -> TrustStore:
    """The trust store for the gateway: our anchors and intermediates, with every revocation recorded here.

    Call it at start-up and again after a revocation (or periodically) to pick up new revocations.
    """
    hierarchy = load_hierarchy(pki_dir(settings))
    trust = TrustStore([hierarchy.root.certificate], hierarchy.intermediates)
    registry = DatabaseRegistry(database)
    for name, authority in hierarchy.authorities.items():
        trust.add_revocations(authority.certificate.subject, await registry.revoked(name))
    return trust


async def _backend(request: Request) -> PKIBackend:
    """The HTTP endpoints' PKI: keys loaded once per app (CRLs and OCSP answers are signed by the CAs)."""
    state = request.app.state
    backend: PKIBackend | None = getattr(state, "pki_backend", None)
    if backend is None:
        hierarchy = load_pki(state.settings, with_keys=True)
        backend = PKIBackend(hierarchy, DatabaseRegistry(state.database))
        state.pki_backend = backend
    return backend


def pki_http_router() -> APIRouter:
    """``/pki/<ca>.crl``, ``/pki/<ca>.cer`` and ``/pki/ocsp`` for :func:`mssante.web.create_app`."""
    return build_router(_backend)


def describe(row: IssuedCertificate) -> str:
    """One line of ``mssante pki list``."""
    status = row.status if row.status == "valid" else f"revoked {row.revoked_at:%Y-%m-%d} {row.revocation_reason}"
    validity = f"{row.not_before:%Y-%m-%d}..{row.not_after:%Y-%m-%d}"
    return f"{row.serial}  {row.profile:<14}  {validity}  {status:<10}  {row.subject}"

