"""Issuance of end-entity certificates for every profile (see :mod:`certs.profiles`).

Every certificate is SHA-256 signed, carries its SAN (``rfc822Name`` for S/MIME per RFC 8550 §3, ``dNSName``
for servers), the CRL distribution point and AIA of its CA, and key identifiers (RFC 5280 §4.2.1.1-2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certs.errors import ProfileError
from certs.hierarchy import Hierarchy, distribution_extensions
from certs.keys import KeyAlgorithm, PrivateKey, PublicKey, encrypted_pem, generate_key, load_private_key, write_private
from certs.names import person_subject, structure_subject
from certs.profiles import Population, Profile

END_ENTITY_DAYS = 3 * 365
SERVER_DAYS = 397  # CA/Browser Forum ceiling for TLS server certificates


@dataclass(frozen=True)
class Issued:
    profile: Profile
    certificate: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate]  # the intermediate, then the root

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.certificate.serial_number)


def serial_hex(serial: int) -> str:
    """Upper-case hexadecimal in whole octets, as ``openssl x509 -serial`` prints it."""
    digits = f"{serial:X}"
    return digits.zfill(len(digits) + len(digits) % 2)


def build_certificate(
    hierarchy: Hierarchy,
    profile: Profile,
    subject: x509.Name,
    public_key: PublicKey,
    *,
    emails: tuple[str, ...] = (),
    dns_names: tuple[str, ...] = (),
    now: dt.datetime,
    days: int | None = None,
) -> x509.Certificate:
    """Sign one certificate of ``profile`` with the population's intermediate CA."""
    if profile.smime and not emails:
        raise ProfileError(f"a {profile} certificate must name its mailbox address (RFC 8550 §3)")
    if profile.encryption and not isinstance(public_key, rsa.RSAPublicKey):
        raise ProfileError("encryption certificates need an RSA key (CMS key transport, RFC 8551 §2.3)")
    authority = hierarchy.authority(profile.population.value)
    usage = profile.usage
    names: list[x509.GeneralName] = [x509.RFC822Name(email) for email in emails]
    names += [x509.DNSName(host) for host in dns_names]
    lifetime = days if days is not None else SERVER_DAYS if profile is Profile.SERVER else END_ENTITY_DAYS
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=lifetime))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=usage.digital_signature,
                content_commitment=usage.content_commitment,
                key_encipherment=usage.key_encipherment,
                data_encipherment=False,
                key_agreement=usage.key_agreement,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(profile.extended_key_usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.signing_key().public_key()), critical=False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for extension in distribution_extensions(hierarchy.base_url, authority.name):
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(authority.signing_key(), hashes.SHA256())


def _issue(
    hierarchy: Hierarchy,
    profile: Profile,
    subject: x509.Name,
    algorithm: KeyAlgorithm,
    now: dt.datetime | None,
    emails: tuple[str, ...] = (),
    dns_names: tuple[str, ...] = (),
    days: int | None = None,
) -> Issued:
    key = generate_key(algorithm)
    certificate = build_certificate(
        hierarchy, profile, subject, key.public_key(), emails=emails, dns_names=dns_names,
        now=now or dt.datetime.now(dt.UTC), days=days,
    )
    chain = [hierarchy.authority(profile.population.value).certificate, hierarchy.root.certificate]
    return Issued(profile, certificate, key, chain)


def issue_person(
    hierarchy: Hierarchy,
    usage: str,
    *,
    idnat: str,
    surname: str,
    given_name: str,
    profession: str,
    email: str | None,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
    now: dt.datetime | None = None,
    days: int | None = None,
) -> Issued:
    """A professional's certificate; ``usage`` is ``auth``, ``sign`` or ``encrypt``."""
    profile = Profile.of(Population.PERSONS, usage)
    subject = person_subject(idnat, surname, given_name, profession)
    return _issue(hierarchy, profile, subject, algorithm, now, emails=(email,) if email else (), days=days)


def issue_organisation(
    hierarchy: Hierarchy,
    usage: str,
    *,
    structure_id: str,
    name: str,
    legal_name: str,
    department: str,
    email: str | None,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
    now: dt.datetime | None = None,
    days: int | None = None,
) -> Issued:
    """An organisation (service or applicative mailbox) certificate; ``name`` is the CN."""
    profile = Profile.of(Population.ORGANISATIONS, usage)
    subject = structure_subject(name, structure_id, legal_name, department)
    return _issue(hierarchy, profile, subject, algorithm, now, emails=(email,) if email else (), days=days)


def issue_server(
    hierarchy: Hierarchy,
    *,
    host: str,
    structure_id: str,
    legal_name: str,
    department: str,
    extra_hosts: tuple[str, ...] = (),
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
    now: dt.datetime | None = None,
    days: int | None = None,
) -> Issued:
    """An MTA certificate for TLS server and client use; the host is the CN and the first dNSName."""
    subject = structure_subject(host, structure_id, legal_name, department)
    hosts = tuple(dict.fromkeys((host, *extra_hosts)))
    return _issue(hierarchy, Profile.SERVER, subject, algorithm, now, dns_names=hosts, days=days)


def save_issued(hierarchy: Hierarchy, issued: Issued, passphrase: bytes) -> tuple[Path, Path]:
    """Store the certificate (with its chain) and its encrypted key under ``issued/``; return both paths."""
    stem = hierarchy.issued_dir / issued.serial_hex
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [issued.certificate, *issued.chain])
    write_private(stem.with_suffix(".pem"), pem)
    write_private(stem.with_suffix(".key"), encrypted_pem(issued.key, passphrase))
    return stem.with_suffix(".pem"), stem.with_suffix(".key")


def load_issued(
    hierarchy: Hierarchy, serial: str, passphrase: bytes
) -> tuple[x509.Certificate, PrivateKey, list[x509.Certificate]]:
    """The certificate, key and chain saved by :func:`save_issued` for ``serial`` (hexadecimal)."""
    try:
        stem = hierarchy.issued_dir / serial_hex(int(serial, 16))
    except ValueError:
        raise ProfileError(f"{serial!r} is not a hexadecimal serial number") from None
    try:
        certificates = x509.load_pem_x509_certificates(stem.with_suffix(".pem").read_bytes())
        key_data = stem.with_suffix(".key").read_bytes()
    except FileNotFoundError:
        raise ProfileError(f"no key was kept for serial {serial} in {hierarchy.issued_dir}") from None
    return certificates[0], load_private_key(key_data, passphrase), certificates[1:]
