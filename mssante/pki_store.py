"""The registry of issued certificates (table ``pki_certificates``) and the PKI's wiring to settings.

``certs`` holds the pure PKI logic and cannot import ``storage``; this module records every issued certificate
with its status, implements :class:`certs.revocation.CertificateRegistry` for CRLs and OCSP, and builds the
:class:`certs.TrustStore` the gateway verifies against (anchors on disk, revocations from the database).

The CA key passphrase comes from, in order: an explicit file, ``MSSANTE_PKI_PASSPHRASE_FILE``, or the key file
``<data_dir>/pki/passphrase`` that ``mssante pki init`` creates when neither is given (development).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from fastapi import APIRouter, Request
from sqlalchemy import Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from certs.errors import HierarchyMissing, PKIError
from certs.hierarchy import Hierarchy, create_hierarchy, load_hierarchy
from certs.http import PKIBackend, build_router
from certs.issue import Issued, issue_organisation, issue_person, issue_server, save_issued, serial_hex
from certs.keys import read_passphrase, write_private
from certs.names import dn_string, identity_of, mailbox_addresses
from certs.pkcs12 import export_pkcs12
from certs.profiles import Profile
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
    try:
        key = serial_hex(int(serial, 16))
    except ValueError:
        raise UnknownCertificate(f"{serial!r} is not a hexadecimal serial number") from None
    row = await session.get(IssuedCertificate, key)
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


DEFAULT_OPERATOR = {"structure_id": "4000000000", "legal_name": "mssante-gateway", "department": "Paris (75)"}


def write_operator(settings: Settings, structure_id: str, legal_name: str, department: str) -> None:
    data = {"structure_id": structure_id, "legal_name": legal_name, "department": department}
    write_private(pki_dir(settings) / "operator.json", json.dumps(data, indent=2).encode())


def operator(settings: Settings) -> dict[str, str]:
    """The operator's structure id, legal name and département for server certificates (``pki init``)."""
    try:
        data = json.loads((pki_dir(settings) / "operator.json").read_text())
    except FileNotFoundError:
        raise HierarchyMissing(f"no PKI in {pki_dir(settings)}: run `mssante pki init` first") from None
    return {str(k): str(v) for k, v in data.items()}


def load_pki(settings: Settings, *, with_keys: bool, passphrase_path: Path | None = None) -> Hierarchy:
    public = load_hierarchy(pki_dir(settings))  # a missing PKI is reported before a missing passphrase
    if not with_keys:
        return public
    return load_hierarchy(pki_dir(settings), read_passphrase(passphrase_file(settings, passphrase_path)))


async def load_trust(settings: Settings, database: Database) -> TrustStore:
    """The trust store for the gateway: our anchors and intermediates, with every revocation recorded here.

    Call it once at start-up; :func:`refresh_trust` then picks up new revocations (after ``pki revoke``, or
    periodically) without losing the cache of validated chains.
    """
    hierarchy = load_hierarchy(pki_dir(settings))
    trust = TrustStore([hierarchy.root.certificate], hierarchy.intermediates)
    await refresh_trust(trust, settings, database)
    return trust


async def refresh_trust(trust: TrustStore, settings: Settings, database: Database) -> None:
    """Replace the revocations of each of our CAs in ``trust`` with what the registry holds now."""
    hierarchy = load_hierarchy(pki_dir(settings))
    registry = DatabaseRegistry(database)
    for name, authority in hierarchy.authorities.items():
        trust.replace_revocations(authority.certificate.subject, await registry.revoked(name))


def ca_bundle_file(settings: Settings) -> Path:
    """``<data_dir>/pki/ca-bundle.pem`` (root and intermediates), written when missing or stale.

    Give it to :func:`certs.tls.server_context` as ``client_ca`` so that TLS clients must hold a health PKI
    certificate, and to :func:`certs.tls.client_context` as ``ca`` for peers of the trust space.
    """
    bundle = load_hierarchy(pki_dir(settings)).bundle_pem()
    path = pki_dir(settings) / "ca-bundle.pem"
    if not path.exists() or path.read_bytes() != bundle:
        write_private(path, bundle)
        path.chmod(0o644)  # public certificates
    return path


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


# Demo certificates (``make run``) --------------------------------------------------------------------------------

DEMO_PASSWORDS = "demo-pkcs12-passwords.json"


def _demo_issue(hierarchy: Hierarchy, kind: str, owner_id: str, display_name: str, usage: str, email: str) -> Issued:
    if kind == "PER":
        words = display_name.removeprefix("Dr ").split()
        surname = " ".join(w for w in words if w.isupper()) or words[-1]
        given = " ".join(w for w in words if not w.isupper()) or "-"
        return issue_person(
            hierarchy,
            usage,
            idnat=owner_id,
            surname=surname,
            given_name=given,
            profession="Médecin",
            email=None if usage == "auth" else email,
        )
    service, _, legal = display_name.partition(", ")
    department = f"Département ({owner_id[1:3]})" if owner_id.startswith("1") else "Paris (75)"
    return issue_organisation(
        hierarchy,
        usage,
        structure_id=owner_id,
        name=service,
        legal_name=legal or service,
        department=department,
        email=None if usage == "auth" else email,
    )


async def ensure_demo_pki(settings: Settings, database: Database) -> list[Path]:
    """Create the PKI when missing and, for each demo mailbox, auth/sign/encrypt certificates as PKCS#12 files.

    Idempotent: a mailbox that already has a valid certificate of a profile gets no new one. The PKCS#12
    passwords are kept in ``<data_dir>/pki/demo-pkcs12-passwords.json`` (mode 0600). Development only.
    """
    from mssante.demo import DEMO_MAILBOXES  # noqa: PLC0415 - demo data only matters for this function

    directory = pki_dir(settings)
    path = passphrase_file(settings)
    passphrase = new_passphrase_file(path) if path == directory / "passphrase" else read_passphrase(path)
    if not (directory / "config.json").exists():
        create_hierarchy(directory, passphrase, base_url=default_base_url(settings))
        write_operator(settings, **DEFAULT_OPERATOR)
    hierarchy = load_hierarchy(directory, passphrase)
    await ensure_server_identity(settings, database)
    passwords_path = directory / DEMO_PASSWORDS
    passwords: dict[str, str] = json.loads(passwords_path.read_text()) if passwords_path.exists() else {}
    written: list[Path] = []
    for demo in DEMO_MAILBOXES:
        address = f"{demo.local_part}@{settings.domains[0]}"
        for usage in ("auth", "sign", "encrypt"):
            profile = f"{'person' if demo.kind == 'PER' else 'org'}-{usage}"
            async with database.read() as session:
                existing = await session.execute(
                    select(IssuedCertificate.serial).where(
                        IssuedCertificate.owner_id == demo.owner_id,
                        IssuedCertificate.profile == profile,
                        IssuedCertificate.status == "valid",
                    )
                )
            if existing.first() is not None:
                continue
            issued = _demo_issue(hierarchy, demo.kind, demo.owner_id, demo.display_name, usage, address)
            async with database.write() as session:
                await record_issued(session, issued)
            save_issued(hierarchy, issued, passphrase)
            name = f"{address}-{usage}.p12"
            password = passwords.setdefault(name, secrets.token_urlsafe(12))
            target = directory / "demo" / name
            write_private(target, export_pkcs12(issued.certificate, issued.key, issued.chain, password.encode()))
            written.append(target)
    write_private(passwords_path, json.dumps(passwords, indent=2).encode())
    return written


@dataclass(frozen=True)
class ServerIdentity:
    """Our MTA's certificate from the health PKI, for :func:`certs.tls.server_context` and mutual TLS."""

    cert: Path  # certificate then chain, PEM
    key: Path  # PKCS#8 encrypted with the CA passphrase: pass ``key_password``
    key_password: bytes
    ca_bundle: Path


async def ensure_server_identity(settings: Settings, database: Database) -> ServerIdentity:
    """The server certificate for ``settings.hostname`` (and localhost), issued when missing or in its last month."""
    hierarchy = load_pki(settings, with_keys=True)
    passphrase = read_passphrase(passphrase_file(settings))
    async with database.read() as session:
        rows = await session.execute(
            select(IssuedCertificate)
            .where(IssuedCertificate.profile == Profile.SERVER.value, IssuedCertificate.status == "valid")
            .order_by(IssuedCertificate.not_after.desc())
        )
        candidates = list(rows.scalars())
    soon = utcnow() + dt.timedelta(days=30)
    for row in candidates:
        stem = hierarchy.issued_dir / row.serial
        names = row.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if names and names[0].value == settings.hostname and row.not_after > soon and stem.with_suffix(".key").exists():
            return ServerIdentity(
                stem.with_suffix(".pem"), stem.with_suffix(".key"), passphrase, ca_bundle_file(settings)
            )
    details = operator(settings)
    issued = issue_server(
        hierarchy,
        host=settings.hostname,
        extra_hosts=("localhost",),
        structure_id=details["structure_id"],
        legal_name=details["legal_name"],
        department=details["department"],
    )
    async with database.write() as session:
        await record_issued(session, issued)
    cert, key = save_issued(hierarchy, issued, passphrase)
    return ServerIdentity(cert, key, passphrase, ca_bundle_file(settings))
