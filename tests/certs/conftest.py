"""A health PKI made once per test session (ECDSA P-256 CAs: fast to create), and helpers for ``openssl``."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.hierarchy import Hierarchy, create_hierarchy
from certs.issue import Issued, issue_organisation, issue_person, issue_server
from certs.keys import KeyAlgorithm, PrivateKey
from certs.trust import TrustStore

ALICE = "alice.martin@mssante.localhost"
CARDIO = "cardiologie@mssante.localhost"
MESSAGE = (
    f"From: Dr Alice MARTIN <{ALICE}>\r\n"
    "To: bob@mssante.localhost\r\n"
    "Subject: =?utf-8?q?Compte_rendu?=\r\n"
    "Message-ID: <1@mssante.localhost>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Bonjour,\r\nvoici le compte rendu d'hospitalisation reçu hier.\r\n"
).encode()
TEXT = "voici le compte rendu d'hospitalisation reçu hier."


def body_text(raw: bytes) -> str:
    """The decoded text of a single-part message (whatever its transfer encoding)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


@dataclass(frozen=True)
class PKI:
    hierarchy: Hierarchy
    alice_sign: Issued
    alice_encrypt: Issued
    alice_auth: Issued
    cardio_sign: Issued
    cardio_auth: Issued
    server: Issued

    def trust(self) -> TrustStore:
        return TrustStore([self.hierarchy.root.certificate], self.hierarchy.intermediates)


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def openssl(*args: str | Path, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(["openssl", *map(str, args)], input=stdin, capture_output=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} failed: {result.stderr.decode(errors='replace')}")
    return result


def person(hierarchy: Hierarchy, usage: str, **overrides: object) -> Issued:
    arguments: dict[str, object] = {
        "idnat": "810001234567",
        "surname": "MARTIN",
        "given_name": "Alice",
        "profession": "Médecin",
        "email": ALICE,
    }
    arguments.update(overrides)
    return issue_person(hierarchy, usage, **arguments)  # type: ignore[arg-type]


def org(hierarchy: Hierarchy, usage: str, **overrides: object) -> Issued:
    arguments: dict[str, object] = {
        "structure_id": "1750000001",
        "name": "Cardiologie",
        "legal_name": "CH Exemple",
        "department": "Paris (75)",
        "email": CARDIO,
    }
    arguments.update(overrides)
    return issue_organisation(hierarchy, usage, **arguments)  # type: ignore[arg-type]


def make_pki(directory: Path, organisation: str = "mssante-gateway") -> PKI:
    hierarchy = create_hierarchy(
        directory,
        b"test passphrase",
        base_url="http://pki.mssante.localhost/pki",
        organisation=organisation,
        algorithm=KeyAlgorithm.P256,
    )
    return PKI(
        hierarchy=hierarchy,
        alice_sign=person(hierarchy, "sign"),
        alice_encrypt=person(hierarchy, "encrypt"),
        alice_auth=person(hierarchy, "auth", email=None),
        cardio_sign=org(hierarchy, "sign", algorithm=KeyAlgorithm.P256),
        cardio_auth=org(hierarchy, "auth", email=None),
        server=issue_server(
            hierarchy,
            host="localhost",
            extra_hosts=("mx.mssante.localhost",),
            structure_id="4000000000",
            legal_name=organisation,
            department="Paris (75)",
        ),
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("foreign") / "pki", organisation="Foreign operator")


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def chain_files(directory: Path, issued: Issued, extra: Sequence[x509.Certificate] = ()) -> tuple[Path, Path]:
    """Certificate (with its intermediate) and clear key, as openssl wants them."""
    cert = write(directory / f"{issued.serial_hex}.pem", pem(issued.certificate, issued.chain[0], *extra))
    key = write(directory / f"{issued.serial_hex}.key", key_pem(issued.key))
    return cert, key
