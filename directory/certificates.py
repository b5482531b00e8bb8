"""Certificates attached to mailboxes, for S/MIME discovery ("which certificate do I encrypt to?").

The public extractions carry no certificates; the operator adds them (from its own PKI, or as received from a
correspondent). Only certificates valid at the given instant and meant for the asked usage are returned.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from directory.errors import InvalidQuery
from directory.models import Certificate

Usage = Literal["encryption", "signature"]


async def add_certificate(session: AsyncSession, address: str, der: bytes, usage: Usage, now: datetime) -> Certificate:
    """Attach a DER certificate to ``address``; adding the same certificate twice is a no-op."""
    try:
        parsed = x509.load_der_x509_certificate(der)
    except ValueError as error:
        raise InvalidQuery("certificate", "the certificate is not a DER-encoded X.509 certificate") from error
    digest = hashlib.sha256(der).hexdigest()
    existing = (await session.scalars(select(Certificate).where(Certificate.sha256 == digest))).first()
    if existing is not None:
        return existing
    certificate = Certificate(
        address=address.strip().lower(), usage=usage, sha256=digest, subject=parsed.subject.rfc4514_string()[:1000],
        serial=format(parsed.serial_number, "x")[:64], not_before=parsed.not_valid_before_utc,
        not_after=parsed.not_valid_after_utc, der=der, active=True, added_at=now.astimezone(UTC),
    )
    session.add(certificate)
    await session.flush()
    return certificate


async def certificates_for(session: AsyncSession, address: str, usage: Usage, now: datetime) -> list[bytes]:
    """DER certificates of ``address`` for ``usage`` valid at ``now``, newest first."""
    rows = await session.scalars(
        select(Certificate)
        .where(
            Certificate.address == address.strip().lower(), Certificate.usage == usage,
            Certificate.active.is_(True), Certificate.not_before <= now, Certificate.not_after > now,
        )
        .order_by(Certificate.not_after.desc())
    )
    return [row.der for row in rows]
