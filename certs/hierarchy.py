"""The CA hierarchy on disk: one root and an intermediate per population (persons, organisations, servers).

Layout under the PKI directory (``<data_dir>/pki``)::

    config.json            base URL of the CRL/OCSP/AIA endpoints, organisation name
    root/ca.pem ca.key     the trust anchor (key PKCS#8-encrypted)
    persons/…  organisations/…  servers/…
    issued/<serial>.pem    end-entity certificates and their encrypted keys (``<serial>.key``)

The hierarchy can be loaded with its keys (to issue, sign CRLs and OCSP responses) or public-only (to verify).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import AuthorityInformationAccessOID

from certs.errors import HierarchyExists, HierarchyMissing, PKIError
from certs.keys import KeyAlgorithm, PrivateKey, encrypted_pem, generate_key, load_private_key, write_private
from certs.names import ca_subject
from certs.profiles import CA_NAMES, ROOT_CA, Population

ROOT_DAYS = 20 * 365
INTERMEDIATE_DAYS = 10 * 365
_TITLES = {
    ROOT_CA: "Root CA",
    Population.PERSONS: "Persons CA",
    Population.ORGANISATIONS: "Organisations CA",
    Population.SERVERS: "Servers CA",
}


@dataclass(frozen=True)
class Authority:
    name: str
    certificate: x509.Certificate
    key: PrivateKey | None

    def signing_key(self) -> PrivateKey:
        if self.key is None:
            raise PKIError(f"the {self.name} CA was loaded without its key")
        return self.key


@dataclass(frozen=True)
class Hierarchy:
    directory: Path
    base_url: str
    authorities: dict[str, Authority]

    @property
    def root(self) -> Authority:
        return self.authorities[ROOT_CA]

    def authority(self, name: str) -> Authority:
        try:
            return self.authorities[name]
        except KeyError:
            raise PKIError(f"no CA named {name!r}; the CAs are {', '.join(CA_NAMES)}") from None

    def issuer_of(self, certificate: x509.Certificate) -> Authority | None:
        for authority in self.authorities.values():
            if authority.certificate.subject == certificate.issuer:
                return authority
        return None

    @property
    def intermediates(self) -> list[x509.Certificate]:
        return [a.certificate for name, a in self.authorities.items() if name != ROOT_CA]

    def bundle_pem(self) -> bytes:
        """Trust anchor then intermediates, PEM (``mssante pki ca-bundle``, TLS client CA files)."""
        return b"".join(a.certificate.public_bytes(serialization.Encoding.PEM) for a in self.authorities.values())

    @property
    def issued_dir(self) -> Path:
        return self.directory / "issued"

    def endpoint(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path}"


def _uri(value: str) -> x509.UniformResourceIdentifier:
    return x509.UniformResourceIdentifier(value)


def distribution_extensions(base_url: str, issuer: str) -> list[x509.ExtensionType]:
    """CRL distribution point (RFC 5280 §4.2.1.13) and AIA with OCSP and caIssuers (RFC 5280 §4.2.2.1)."""
    base = base_url.rstrip("/")
    return [
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([_uri(f"{base}/{issuer}.crl")], None, None, None)]
        ),
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP, _uri(f"{base}/ocsp")),
                x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, _uri(f"{base}/{issuer}.cer")),
            ]
        ),
    ]


def _ca_certificate(
    name: x509.Name, key: PrivateKey, issuer: Authority | None, base_url: str, now: dt.datetime, days: int
) -> x509.Certificate:
    signer_key = key if issuer is None else issuer.signing_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        # RFC 5280 §4.2.1.9: the root may sign intermediates; intermediates sign end entities only.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True)
        # RFC 5280 §4.2.1.3: keyCertSign and cRLSign; digitalSignature for the OCSP responses CAs sign.
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    )
    if issuer is not None:
        for extension in distribution_extensions(base_url, issuer.name):
            builder = builder.add_extension(extension, critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def create_hierarchy(
    directory: Path,
    passphrase: bytes,
    *,
    base_url: str,
    organisation: str = "mssante-gateway",
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA3072,
    now: dt.datetime | None = None,
) -> Hierarchy:
    """Create the root and the three intermediates; refuse to overwrite an existing hierarchy."""
    if (directory / "config.json").exists():
        raise HierarchyExists(f"a PKI already exists in {directory}")
    now = now or dt.datetime.now(dt.UTC)
    root_key = generate_key(algorithm)
    root_cert = _ca_certificate(
        ca_subject(f"{organisation} {_TITLES[ROOT_CA]}", organisation), root_key, None, base_url, now, ROOT_DAYS
    )
    root = Authority(ROOT_CA, root_cert, root_key)
    authorities = {ROOT_CA: root}
    for population in Population:
        key = generate_key(algorithm)
        name = ca_subject(f"{organisation} {_TITLES[population]}", organisation)
        cert = _ca_certificate(name, key, root, base_url, now, INTERMEDIATE_DAYS)
        authorities[population.value] = Authority(population.value, cert, key)
    for authority in authorities.values():
        folder = directory / authority.name
        write_private(folder / "ca.key", encrypted_pem(authority.signing_key(), passphrase))
        write_private(folder / "ca.pem", authority.certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "issued").mkdir(mode=0o700, exist_ok=True)
    config = json.dumps({"base_url": base_url, "organisation": organisation}, indent=2).encode()
    write_private(directory / "config.json", config)
    return Hierarchy(directory, base_url, authorities)


def load_hierarchy(directory: Path, passphrase: bytes | None = None) -> Hierarchy:
    """Load the hierarchy; with ``passphrase`` the CA keys too (a wrong one raises PassphraseError)."""
    try:
        config = json.loads((directory / "config.json").read_text())
    except FileNotFoundError:
        raise HierarchyMissing(f"no PKI in {directory}: run `mssante pki init` first") from None
    authorities: dict[str, Authority] = {}
    for name in CA_NAMES:
        folder = directory / name
        cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        key = None if passphrase is None else load_private_key((folder / "ca.key").read_bytes(), passphrase)
        authorities[name] = Authority(name, cert, key)
    return Hierarchy(directory, str(config["base_url"]), authorities)
