"""Certificate profiles of the health PKI: which CA issues them and which key usages they carry.

Each profile is one use (the trust space separates authentication, signature and confidentiality keys, as the
professional smart card does). Key usages follow RFC 5280 §4.2.1.3 and §4.2.1.12; S/MIME profiles carry
``emailProtection`` as RFC 8550 §4.4.4 requires for signing and encryption certificates.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier


class Population(enum.StrEnum):
    """The intermediate CAs under the root; the value is the CA's short name (``/pki/<name>.crl``)."""

    PERSONS = "persons"
    ORGANISATIONS = "organisations"
    SERVERS = "servers"


ROOT_CA = "root"
CA_NAMES = (ROOT_CA, *(population.value for population in Population))


@dataclass(frozen=True)
class Usage:
    """The RFC 5280 §4.2.1.3 key usage bits a profile sets (the others are clear)."""

    digital_signature: bool = False
    content_commitment: bool = False
    key_encipherment: bool = False
    key_agreement: bool = False


class Profile(enum.StrEnum):
    PERSON_AUTH = "person-auth"
    PERSON_SIGN = "person-sign"
    PERSON_ENCRYPT = "person-encrypt"
    ORG_AUTH = "org-auth"
    ORG_SIGN = "org-sign"
    ORG_ENCRYPT = "org-encrypt"
    SERVER = "server"

    @property
    def population(self) -> Population:
        if self.value.startswith("person"):
            return Population.PERSONS
        if self.value.startswith("org"):
            return Population.ORGANISATIONS
        return Population.SERVERS

    @property
    def usage(self) -> Usage:
        return _USAGES[self]

    @property
    def extended_key_usages(self) -> tuple[ObjectIdentifier, ...]:
        return _EKUS[self]

    @property
    def smime(self) -> bool:
        """True for signature and encryption profiles, which must name a mailbox (RFC 8550 §3)."""
        return self.value.endswith(("-sign", "-encrypt"))

    @property
    def encryption(self) -> bool:
        return self.value.endswith("-encrypt")

    @classmethod
    def of(cls, population: Population, usage: str) -> Profile:
        """``(persons, "sign")`` → ``PERSON_SIGN``; the CLI's ``--usage`` values are auth, sign and encrypt."""
        prefix = {Population.PERSONS: "person", Population.ORGANISATIONS: "org"}.get(population)
        if prefix is None:
            return cls.SERVER
        return cls(f"{prefix}-{usage}")


_AUTH = Usage(digital_signature=True)
# RFC 8550 §4.4.2: signing certificates assert digitalSignature and/or nonRepudiation (contentCommitment).
_SIGN = Usage(digital_signature=True, content_commitment=True)
# RFC 8550 §4.4.2: RSA key transport needs keyEncipherment.
_ENCRYPT = Usage(key_encipherment=True)
# A TLS server with an RSA key may use RSA key exchange in old stacks; ECDHE-only needs digitalSignature.
_SERVER = Usage(digital_signature=True, key_encipherment=True)

_USAGES = {
    Profile.PERSON_AUTH: _AUTH,
    Profile.PERSON_SIGN: _SIGN,
    Profile.PERSON_ENCRYPT: _ENCRYPT,
    Profile.ORG_AUTH: _AUTH,
    Profile.ORG_SIGN: _SIGN,
    Profile.ORG_ENCRYPT: _ENCRYPT,
    Profile.SERVER: _SERVER,
}

_EMAIL = ExtendedKeyUsageOID.EMAIL_PROTECTION
_CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH
_EKUS: dict[Profile, tuple[ObjectIdentifier, ...]] = {
    Profile.PERSON_AUTH: (_CLIENT,),
    Profile.PERSON_SIGN: (_EMAIL,),
    Profile.PERSON_ENCRYPT: (_EMAIL,),
    Profile.ORG_AUTH: (_CLIENT,),
    Profile.ORG_SIGN: (_EMAIL,),
    Profile.ORG_ENCRYPT: (_EMAIL,),
    # The operators' MTAs are TLS servers and, when relaying to a peer, TLS clients (mutual TLS).
    Profile.SERVER: (ExtendedKeyUsageOID.SERVER_AUTH, _CLIENT),
}
