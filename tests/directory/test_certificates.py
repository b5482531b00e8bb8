from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from directory.certificates import add_certificate, certificates_for
from directory.errors import InvalidQuery
from storage.engine import Database

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _certificate(days: int) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "810000000002")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - timedelta(days=10))
        .not_valid_after(NOW + timedelta(days=days)).sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


async def test_certificates_by_mailbox_and_usage(database: Database) -> None:
    valid, expired = _certificate(365), _certificate(-1)
    async with database.write() as session:
        await add_certificate(session, "Jean.Martin@medecin.mssante.fr", valid, "encryption", NOW)
        await add_certificate(session, "jean.martin@medecin.mssante.fr", valid, "encryption", NOW)  # no-op
        await add_certificate(session, "jean.martin@medecin.mssante.fr", expired, "encryption", NOW)
        with pytest.raises(InvalidQuery):
            await add_certificate(session, "jean.martin@medecin.mssante.fr", b"junk", "encryption", NOW)
    async with database.read() as session:
        assert await certificates_for(session, "jean.martin@medecin.mssante.fr", "encryption", NOW) == [valid]
        assert await certificates_for(session, "jean.martin@medecin.mssante.fr", "signature", NOW) == []
