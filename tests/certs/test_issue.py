"""Profiles, subjects and extensions of issued certificates, and CA keys at rest."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from certs.errors import HierarchyExists, PassphraseError, ProfileError
from certs.hierarchy import create_hierarchy, load_hierarchy
from certs.issue import Issued, serial_hex
from certs.keys import KeyAlgorithm
from certs.names import dn_string, identity_of
from tests.certs.conftest import ALICE, PKI, openssl, org, pem, person, write

E = TypeVar("E", bound=x509.ExtensionType)


def _ext(certificate: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return certificate.extensions.get_extension_for_class(kind)


def test_person_subject_is_one_multi_valued_rdn_with_title(pki: PKI) -> None:
    subject = pki.alice_sign.certificate.subject
    assert dn_string(subject) == "GN=Alice+SN=MARTIN+CN=810001234567,title=Médecin,C=FR"
    multi = [rdn for rdn in subject.rdns if len(rdn) == 3]
    assert len(multi) == 1
    assert identity_of(pki.alice_sign.certificate) is not None


def test_org_and_server_subjects_follow_the_structure_pattern(pki: PKI) -> None:
    assert (
        dn_string(pki.cardio_sign.certificate.subject) == "CN=Cardiologie,OU=1750000001,O=CH Exemple,ST=Paris (75),C=FR"
    )
    server = pki.server.certificate.subject
    assert server.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    assert server.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "4000000000"


@pytest.mark.parametrize(
    ("name", "signature", "commitment", "encipherment", "ekus"),
    [
        ("alice_sign", True, True, False, {ExtendedKeyUsageOID.EMAIL_PROTECTION}),
        ("alice_encrypt", False, False, True, {ExtendedKeyUsageOID.EMAIL_PROTECTION}),
        ("alice_auth", True, False, False, {ExtendedKeyUsageOID.CLIENT_AUTH}),
        ("cardio_sign", True, True, False, {ExtendedKeyUsageOID.EMAIL_PROTECTION}),
        ("cardio_auth", True, False, False, {ExtendedKeyUsageOID.CLIENT_AUTH}),
        ("server", True, False, True, {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}),
    ],
)
def test_profile_key_usages(
    pki: PKI, name: str, signature: bool, commitment: bool, encipherment: bool, ekus: set[x509.ObjectIdentifier]
) -> None:
    certificate = getattr(pki, name).certificate
    usage = _ext(certificate, x509.KeyUsage)
    assert usage.critical
    assert (usage.value.digital_signature, usage.value.content_commitment, usage.value.key_encipherment) == (
        signature,
        commitment,
        encipherment,
    )
    assert set(_ext(certificate, x509.ExtendedKeyUsage).value) == ekus
    assert _ext(certificate, x509.BasicConstraints).value.ca is False


def test_organisation_encryption_profile(pki: PKI) -> None:
    issued = org(pki.hierarchy, "encrypt")
    assert _ext(issued.certificate, x509.KeyUsage).value.key_encipherment
    assert issued.certificate.issuer == pki.hierarchy.authority("organisations").certificate.subject


def test_smime_certificates_name_the_mailbox_and_point_to_crl_and_ocsp(pki: PKI) -> None:
    certificate = pki.alice_sign.certificate
    assert _ext(certificate, x509.SubjectAlternativeName).value.get_values_for_type(x509.RFC822Name) == [ALICE]
    points = _ext(certificate, x509.CRLDistributionPoints).value
    assert points[0].full_name == [x509.UniformResourceIdentifier("http://pki.mssante.localhost/pki/persons.crl")]
    access = {
        a.access_method: a.access_location.value for a in _ext(certificate, x509.AuthorityInformationAccess).value
    }
    assert access[AuthorityInformationAccessOID.OCSP] == "http://pki.mssante.localhost/pki/ocsp"
    assert access[AuthorityInformationAccessOID.CA_ISSUERS] == "http://pki.mssante.localhost/pki/persons.cer"
    assert certificate.signature_hash_algorithm is not None and certificate.signature_hash_algorithm.name == "sha256"


@pytest.mark.parametrize(
    ("algorithm", "kind", "size"),
    [
        (KeyAlgorithm.RSA2048, rsa.RSAPublicKey, 2048),
        (KeyAlgorithm.RSA3072, rsa.RSAPublicKey, 3072),
        (KeyAlgorithm.P256, ec.EllipticCurvePublicKey, 256),
    ],
)
def test_key_algorithms(pki: PKI, algorithm: KeyAlgorithm, kind: type, size: int) -> None:
    key = person(pki.hierarchy, "auth", email=None, algorithm=algorithm).certificate.public_key()
    assert isinstance(key, kind)
    assert key.key_size == size  # type: ignore[union-attr]


def test_openssl_accepts_the_chain_for_each_purpose(pki: PKI, tmp_path: Path) -> None:
    ca = write(tmp_path / "root.pem", pem(pki.hierarchy.root.certificate))
    for issued, purpose in [
        (pki.alice_sign, "smimesign"),
        (pki.alice_encrypt, "smimeencrypt"),
        (pki.server, "sslserver"),
        (pki.cardio_auth, "sslclient"),
    ]:
        leaf = write(tmp_path / "leaf.pem", pem(issued.certificate))
        chain = write(tmp_path / "chain.pem", pem(issued.chain[0]))
        result = openssl("verify", "-CAfile", ca, "-untrusted", chain, "-purpose", purpose, leaf)
        assert b": OK" in result.stdout


@pytest.mark.parametrize("idnat", ["81000123456", "910001234567", "0123", "8100012345AB"])
def test_bad_idnat_is_refused(pki: PKI, idnat: str) -> None:
    with pytest.raises(ProfileError, match="idNat"):
        person(pki.hierarchy, "sign", idnat=idnat)


def test_smime_profile_needs_an_address_and_encryption_an_rsa_key(pki: PKI) -> None:
    with pytest.raises(ProfileError, match="mailbox"):
        person(pki.hierarchy, "sign", email=None)
    with pytest.raises(ProfileError, match="RSA"):
        person(pki.hierarchy, "encrypt", algorithm=KeyAlgorithm.P256)
    with pytest.raises(ProfileError, match="structure id"):
        org(pki.hierarchy, "sign", structure_id="2750000001")


def test_ca_keys_are_encrypted_at_rest(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    create_hierarchy(directory, b"secret", base_url="http://x/pki", algorithm=KeyAlgorithm.P256)
    for name in ("root", "persons", "organisations", "servers"):
        data = (directory / name / "ca.key").read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert (directory / name / "ca.key").stat().st_mode & 0o077 == 0
    with pytest.raises(PassphraseError):
        load_hierarchy(directory, b"wrong")
    loaded = load_hierarchy(directory, b"secret")
    issued: Issued = person(loaded, "sign")
    issued.certificate.verify_directly_issued_by(loaded.authority("persons").certificate)
    with pytest.raises(HierarchyExists):
        create_hierarchy(directory, b"secret", base_url="http://x/pki")


def test_serials_print_in_whole_octets_like_openssl(pki: PKI, tmp_path: Path) -> None:
    assert (serial_hex(0xABC), serial_hex(0x1234), serial_hex(0)) == ("0ABC", "1234", "00")
    cert = write(tmp_path / "c.pem", pem(pki.alice_sign.certificate))
    assert (
        openssl("x509", "-in", cert, "-noout", "-serial").stdout.strip()
        == f"serial={pki.alice_sign.serial_hex}".encode()
    )
