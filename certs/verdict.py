"""The outcome of verifying a message's S/MIME signature: a status, a sentence saying why, and the signer.

The gateway stores the verdict with the message and renders it as an ``Authentication-Results`` header
(RFC 8601, method ``smime`` registered by RFC 7281 §3).
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    VALID = "valid"
    INVALID_SIGNATURE = "invalid-signature"
    UNTRUSTED_CHAIN = "untrusted-chain"
    EXPIRED = "expired"
    REVOKED = "revoked"
    WRONG_KEY_USAGE = "wrong-key-usage"
    ADDRESS_MISMATCH = "address-mismatch"
    UNSIGNED = "unsigned"
    MALFORMED = "malformed"  # a signature was announced but its MIME or CMS structure cannot be read


# RFC 7281 §3 result values for the smime method.
_RESULTS = {
    Status.VALID: "pass",
    Status.UNSIGNED: "none",
    Status.MALFORMED: "permerror",
    Status.ADDRESS_MISMATCH: "policy",
}


def _ascii(text: str) -> str:
    """Header fields are ASCII (RFC 5322 §2.2): "Hélène" becomes "Helene" in a comment."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if 32 <= ord(c) < 127)


@dataclass(frozen=True)
class Signer:
    """Who signed: the idNat (persons) or structure id (organisations), name, mailbox addresses, serial."""

    kind: str | None  # PER, ORG, or None for a subject outside the DOMAIN.md patterns
    owner_id: str | None
    name: str
    emails: tuple[str, ...]
    serial: str  # hexadecimal
    subject: str
    issuer: str


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    signer: Signer | None = None
    opaque: bool = False
    content: bytes | None = field(default=None, repr=False)  # the signed MIME entity, when one was found

    @property
    def valid(self) -> bool:
        return self.status is Status.VALID

    def authentication_results(self, authserv_id: str) -> str:
        """The value of an ``Authentication-Results`` header for this verdict (RFC 8601 §2.2, RFC 7281)."""
        result = _RESULTS.get(self.status, "fail")
        parts = [authserv_id, f"smime={result}"]
        if self.signer is not None:
            identifier = self.signer.emails[0] if self.signer.emails else self.signer.owner_id or self.signer.serial
            parts.append(f"body.smime-identifier={_ascii(identifier)}")
            parts.append(f"body.smime-serial={self.signer.serial}")
        comment = _ascii(self.reason).replace("(", "[").replace(")", "]").replace("\\", "/")
        return "; ".join([parts[0], " ".join([*parts[1:], f"({self.status.value}: {comment})"])])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record of the verdict, to store with the message (without the content)."""
        signer = None
        if self.signer is not None:
            signer = {
                "kind": self.signer.kind,
                "owner_id": self.signer.owner_id,
                "name": self.signer.name,
                "emails": list(self.signer.emails),
                "serial": self.signer.serial,
                "subject": self.signer.subject,
                "issuer": self.signer.issuer,
            }
        return {"status": self.status.value, "reason": self.reason, "opaque": self.opaque, "signer": signer}


_new_object = object.__new__


def make_verdict(status: Status, reason: str, signer: Signer | None, opaque: bool, content: bytes | None) -> Verdict:
    """``Verdict(status, reason, signer, opaque, content)``, built faster for the verification of every message:
    a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, this fills the instance's
    dictionary at once (the class has no ``__post_init__`` and no slots, so the objects are the same)."""
    verdict: Verdict = _new_object(Verdict)
    fields = verdict.__dict__
    fields["status"] = status
    fields["reason"] = reason
    fields["signer"] = signer
    fields["opaque"] = opaque
    fields["content"] = content
    return verdict
