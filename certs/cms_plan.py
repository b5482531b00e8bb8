"""Signature plans: checking a signature laid out like a recent one of the same signer without reading it.

:class:`certs.cms.Layout` says where the values that change sit in a SignedData whose other bytes are those of
a signature already read. A :class:`Plan`, worked out once per layout, holds what checking such a signature
needs (certificate and key, digest function, where the digest, signed attributes and signature sit);
:func:`signature_holds` then checks digest and signature straight from the DER. It answers only "holds";
anything else goes to :func:`certs.cms.check_signature`, which words what is wrong.
"""

from __future__ import annotations

import hmac
import threading
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certs.cms import HASH_ALGORITHMS, HASHLIB, KEY_KINDS, PKCS1V15, Layout, key_kind

_ID_DATA = "1.2.840.113549.1.7.1"  # RFC 5652 §4


class Plan(NamedTuple):
    """What checking the signature of a DER laid out as a known one needs, worked out once per layout."""

    certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    key: Any  # rsa.RSAPublicKey when ``rsa``, else ec.EllipticCurvePublicKey
    rsa: bool
    hash: Any  # the hashlib constructor of the digest algorithm
    algorithm: hashes.HashAlgorithm
    digest: tuple[int, int]  # where the message-digest value sits
    attributes: tuple[int, int]  # the signed attributes' TLV
    signature: tuple[int, int]


_PLANS: dict[int, tuple[Layout, Plan | None]] = {}  # by the identity of the layout, which each entry keeps alive
_PLANS_LOCK = threading.Lock()


def plan_of(layout: Layout) -> Plan | None:
    """The :class:`Plan` of a layout, None when its signatures take :func:`check_signature`'s other branches
    (no signed attributes, content types that differ, a key other than RSA or EC, a refused digest)."""
    known = _PLANS.get(id(layout))
    if known is not None and known[0] is layout:
        return known[1]
    try:
        plan = _planned(layout)
    except Exception:  # a certificate whose key cannot be read, say: the general path raises it where it would
        plan = None
    with _PLANS_LOCK:  # verification runs in worker threads (the gateway's asyncio.to_thread)
        if len(_PLANS) >= 1024:
            del _PLANS[next(iter(_PLANS))]
        _PLANS[id(layout)] = (layout, plan)
    return plan


def _planned(layout: Layout) -> Plan | None:
    signed, plan = layout.signed, None
    signer = signed.signers[0]
    certificate = signer.signer_certificate
    if (
        certificate is not None
        and signed.content_type == _ID_DATA  # S/MIME signs data; anything else is judged malformed
        and signer.digest_algorithm in HASH_ALGORITHMS
        and layout.attributes is not None
        and layout.digest is not None
        and signer.content_type == signed.content_type
        and signer.signature_algorithm != "rsassa_pss"
    ):
        key = certificate.public_key()
        kind = KEY_KINDS.get(type(key)) or key_kind(key)
        if kind in ("rsa", "ec"):
            plan = Plan(
                certificate,
                signed.certificates,
                key,
                kind == "rsa",
                HASHLIB[signer.digest_algorithm],
                HASH_ALGORITHMS[signer.digest_algorithm],
                layout.digest,
                layout.attributes,
                layout.signature,
            )
    return plan


def signature_holds(plan: Plan, der: bytes, content: bytes) -> bool:
    """Whether :func:`check_signature` passes for the SignedData of ``der`` (laid out as the plan's layout) over
    ``content``: the same digest, comparison and key check, without building the SignedData. False means "ask
    check_signature", which words what is wrong."""
    _certificate, _certificates, key, is_rsa, hash_function, algorithm, digest, attributes, signature = plan
    if not hmac.compare_digest(hash_function(content).digest(), der[digest[0] : digest[1]]):
        return False
    data = b"\x31" + der[attributes[0] + 1 : attributes[1]]  # [0] IMPLICIT → SET OF (RFC 5652 §5.4)
    try:
        if is_rsa:
            key.verify(der[signature[0] : signature[1]], data, PKCS1V15, algorithm)
        else:
            key.verify(der[signature[0] : signature[1]], data, ec.ECDSA(algorithm))
    except Exception:  # InvalidSignature and the rest: check_signature says which
        return False
    return True
