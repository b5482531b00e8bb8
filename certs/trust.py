"""Trust anchors, known intermediates, revocations and a cache of validated chains.

Chains are validated with ``cryptography.x509.verification`` under a custom extension policy: the web PKI
defaults for CAs, and for end entities our own key-usage checks (the web PKI end-entity policy demands the
TLS ``clientAuth``/``serverAuth`` EKU, which S/MIME certificates rightly lack). A validated chain is cached per
leaf and purpose until the first ``notAfter`` in it; revocation is looked up on every call (a dictionary hit).
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from certs.revocation import Revoked


class Purpose(enum.Enum):
    """What the leaf is used for; each needs its own key usage (RFC 5280 §4.2.1.3, §4.2.1.12)."""

    SMIME_SIGN = "S/MIME signature"
    CLIENT_AUTH = "client authentication"

    # Members are singletons, so the identity hash is right; Enum's own hashes the name in Python, and a
    # purpose is part of a cache key on every verification.
    __hash__ = object.__hash__

    @property
    def eku(self) -> x509.ObjectIdentifier:
        return ExtendedKeyUsageOID.EMAIL_PROTECTION if self is Purpose.SMIME_SIGN else ExtendedKeyUsageOID.CLIENT_AUTH


class ChainStatus(enum.StrEnum):
    OK = "ok"
    EXPIRED = "expired"
    UNTRUSTED = "untrusted"
    WRONG_KEY_USAGE = "wrong-key-usage"
    REVOKED = "revoked"


@dataclass(frozen=True)
class ChainResult:
    status: ChainStatus
    reason: str
    chain: tuple[x509.Certificate, ...] = ()
    revoked: Revoked | None = None

    @property
    def ok(self) -> bool:
        return self.status is ChainStatus.OK


@lru_cache(maxsize=8192)
def key_usage_problem(certificate: x509.Certificate, purpose: Purpose) -> str | None:
    """Why ``certificate`` may not serve ``purpose``, or None when it may."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    except ValueError as error:
        return f"its extensions cannot be read: {error}"
    if usage is not None:
        signs = usage.digital_signature or (purpose is Purpose.SMIME_SIGN and usage.content_commitment)
        if not signs:
            return f"its key usage does not allow {purpose.value} (no digitalSignature)"
    try:
        ekus = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if purpose.eku not in ekus and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in ekus:
        return f"its extended key usage does not include {purpose.eku._name}"
    return None


def _leaf_policy(purpose: Purpose) -> ExtensionPolicy:
    def check_eku(_policy: object, certificate: x509.Certificate, _ext: object) -> None:
        problem = key_usage_problem(certificate, purpose)
        if problem is not None:
            raise ValueError(problem)

    return (
        ExtensionPolicy.permit_all()
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, check_eku)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, check_eku)
    )


def _name_key(name: x509.Name) -> bytes:
    return name.public_bytes()


@lru_cache(maxsize=8192)
def _revocation_key(certificate: x509.Certificate) -> tuple[bytes, int]:
    return _name_key(certificate.issuer), certificate.serial_number


@dataclass(frozen=True)
class _Recent:
    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    start: dt.datetime
    end: dt.datetime
    revocation_keys: tuple[tuple[bytes, int], ...]  # of chain[:-1]
    ok: ChainResult  # the answer when none of them is revoked (immutable, so shared)


_TRUSTED = "the chain leads to a trusted health PKI root"


class TrustStore:
    """Anchors and intermediates of the health PKI, plus what we know of revocations."""

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        intermediates: Iterable[x509.Certificate] = (),
        *,
        cache_size: int = 4096,
    ) -> None:
        self.anchors = list(anchors)
        self.intermediates = list(intermediates)
        self._store = Store(self.anchors)
        self._cache: OrderedDict[
            tuple[x509.Certificate, Purpose], tuple[tuple[x509.Certificate, ...], dt.datetime, dt.datetime]
        ]
        self._cache = OrderedDict()
        self._cache_size = cache_size
        # The same cache by the identity of the certificate object (the CMS reader hands out one object per DER),
        # which spares hashing the whole certificate on every message; each entry keeps its certificate alive,
        # so an id is never reused while its entry exists. Also: the revocation keys of the chain's links.
        self._recent: dict[tuple[int, Purpose], _Recent] = {}
        self._lock = threading.Lock()  # for the caches' bookkeeping
        self._revoked: dict[tuple[bytes, int], Revoked] = {}
        self._policies = {purpose: _leaf_policy(purpose) for purpose in Purpose}

    @classmethod
    def from_pem(cls, bundle: bytes) -> TrustStore:
        """Self-signed certificates in the bundle are anchors; the others are intermediates."""
        certificates = x509.load_pem_x509_certificates(bundle)
        anchors = [c for c in certificates if c.subject == c.issuer]
        return cls(anchors, [c for c in certificates if c.subject != c.issuer])

    def _issuer_certificates(self, name: x509.Name) -> list[x509.Certificate]:
        return [c for c in [*self.anchors, *self.intermediates] if c.subject == name]

    def add_crl(self, crl: x509.CertificateRevocationList, *, now: dt.datetime) -> None:
        """Take the revocations of a CRL signed by a known CA; refuse a forged or expired one (RFC 5280 §6.3.3)."""
        issuers = [c for c in self._issuer_certificates(crl.issuer) if crl.is_signature_valid(c.public_key())]  # type: ignore[arg-type]
        if not issuers:
            raise InvalidSignature("the CRL is not signed by a known CA")
        if crl.next_update_utc is not None and crl.next_update_utc < now:
            raise ValueError(f"the CRL of {crl.issuer.rfc4514_string()} expired at {crl.next_update_utc}")
        entries = []
        for item in crl:
            try:
                reason = item.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                reason = x509.ReasonFlags.unspecified
            entries.append(Revoked(item.serial_number, item.revocation_date_utc, reason))
        self.add_revocations(crl.issuer, entries)

    def add_revocations(self, issuer: x509.Name, entries: Iterable[Revoked]) -> None:
        """Record revocations directly (from the registry of our own CA, without a round trip through a CRL)."""
        key = _name_key(issuer)
        for entry in entries:
            self._revoked[(key, entry.serial)] = entry

    def replace_revocations(self, issuer: x509.Name, entries: Iterable[Revoked]) -> None:
        """Make ``entries`` the complete list for ``issuer`` (a refresh from the registry; the chain cache stays)."""
        key = _name_key(issuer)
        self._revoked = {k: v for k, v in self._revoked.items() if k[0] != key}
        self.add_revocations(issuer, entries)

    def revocation(self, certificate: x509.Certificate) -> Revoked | None:
        return self._revoked.get(_revocation_key(certificate))

    def validate(
        self,
        leaf: x509.Certificate,
        offered: Iterable[x509.Certificate] = (),
        *,
        now: dt.datetime,
        purpose: Purpose = Purpose.SMIME_SIGN,
    ) -> ChainResult:
        """Key usage, validity period, path to an anchor (RFC 5280 §6), then revocation of every link."""
        recent = self._recent.get((id(leaf), purpose))
        if recent is not None and recent.leaf is leaf and recent.start <= now <= recent.end:
            # A chain validated for this leaf and purpose, still in its window: the key usage was fine then (it
            # depends on the certificate alone) and the leaf is within its own validity, which holds the window.
            return self._revocation_result(recent.chain, recent.revocation_keys, recent.ok)
        problem = key_usage_problem(leaf, purpose)
        if problem is not None:
            reason = f"the certificate may not be used for {purpose.value}: {problem}"
            return ChainResult(ChainStatus.WRONG_KEY_USAGE, reason)
        if now < leaf.not_valid_before_utc:
            reason = f"the certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M}Z"
            return ChainResult(ChainStatus.EXPIRED, reason)
        if now > leaf.not_valid_after_utc:
            reason = f"the certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M}Z"
            return ChainResult(ChainStatus.EXPIRED, reason)
        chain = self._chain(leaf, list(offered), now, purpose)
        if isinstance(chain, str):
            return ChainResult(ChainStatus.UNTRUSTED, chain)
        keys = tuple(_revocation_key(link) for link in chain[:-1])
        cached = self._cache.get((leaf, purpose))
        if cached is not None and cached[0] is chain:  # remember it by identity too (oldest entry out when full)
            ok = ChainResult(ChainStatus.OK, _TRUSTED, chain)
            with self._lock:
                if len(self._recent) >= self._cache_size:
                    del self._recent[next(iter(self._recent))]
                self._recent[(id(leaf), purpose)] = _Recent(leaf, chain, cached[1], cached[2], keys, ok)
        return self._revocation_result(chain, keys)

    def _revocation_result(
        self, chain: tuple[x509.Certificate, ...], keys: tuple[tuple[bytes, int], ...], ok: ChainResult | None = None
    ) -> ChainResult:
        """Revocation of every link but the anchor (``keys`` are theirs), in order from the leaf."""
        revoked_keys = self._revoked
        for key in keys:
            if key in revoked_keys:
                break
        else:  # none revoked: the usual answer, without the loop below
            return ok or ChainResult(ChainStatus.OK, _TRUSTED, chain)
        for link, key in zip(chain, keys, strict=False):
            revoked = self._revoked.get(key)
            if revoked is not None:
                whose = "the certificate" if link is chain[0] else f"its CA {link.subject.rfc4514_string()}"
                return ChainResult(
                    ChainStatus.REVOKED,
                    f"{whose} was revoked on {revoked.revoked_at:%Y-%m-%d %H:%M}Z ({revoked.reason.value})",
                    chain,
                    revoked,
                )
        return ok or ChainResult(ChainStatus.OK, _TRUSTED, chain)

    def _chain(
        self, leaf: x509.Certificate, offered: list[x509.Certificate], now: dt.datetime, purpose: Purpose
    ) -> tuple[x509.Certificate, ...] | str:
        key = (leaf, purpose)  # certificates hash and compare by their DER encoding
        cached = self._cache.get(key)
        if cached is not None and cached[1] <= now <= cached[2]:
            with self._lock:  # verification runs in worker threads (the gateway's asyncio.to_thread)
                if key in self._cache:
                    self._cache.move_to_end(key)
            return cached[0]
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(now)
            .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=self._policies[purpose])
            .build_client_verifier()
        )
        try:
            chain = tuple(verifier.verify(leaf, [*offered, *self.intermediates]).chain)
        except VerificationError as error:
            return f"no valid path to a trusted health PKI root: {error}"
        start = max(c.not_valid_before_utc for c in chain)
        end = min(c.not_valid_after_utc for c in chain)
        with self._lock:
            self._cache[key] = (chain, start, end)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return chain
