"""Reading CMS SignedData (RFC 5652 §5) and checking its signature with cryptography.

cryptography can sign CMS but not verify it; this module fills that gap for S/MIME. Any structure it cannot
read raises :class:`certs.errors.CMSFormatError`; :mod:`certs.smime_verify` turns that into a verdict.

Two readers give the same :class:`SignedData`. A bounded DER walker (:mod:`certs.der`) takes the usual shape
of a signature (DER, one signer, the fields below in their places, PKCS#1 v1.5 or ECDSA); anything else, or
anything it is not sure of, goes to asn1crypto, the reference reader, which also words every error. The walker
only ever answers when asn1crypto would give the same answer: it is at least as strict, and the tests compare
both readers on valid, mutated and random inputs. A signature laid out like a recent one is read by slicing
(:class:`Layout`), and :mod:`certs.cms_plan` checks such a signature straight from its DER.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, cast

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certs.der import DERError, children, expect
from certs.errors import CMSFormatError

# RFC 8551 §2.1: SHA-256 MUST be supported; SHA-1 is refused here (weak, and never produced by our clients).
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
HASH_ALGORITHMS = {name: algorithm() for name, algorithm in DIGESTS.items()}  # stateless: shared
PKCS1V15 = padding.PKCS1v15()
HASHLIB = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}  # the keys of DIGESTS
MICALG = {"sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}  # RFC 8551 §3.5.3.2


class BadSignature(Exception):
    """The signature or a signed attribute does not match; the message says which."""


class SignerInfo(NamedTuple):
    """What signature checking needs of a SignerInfo. A named tuple: as immutable as a frozen dataclass, and
    cheaper to build on every message (the layout reader below makes one per signature)."""

    digest_algorithm: str
    signature_algorithm: str
    pss: algos.RSASSAPSSParams | None
    signature: bytes
    signed_attributes: bytes | None  # DER re-tagged as SET OF (RFC 5652 §5.4)
    message_digest: bytes | None
    content_type: str | None
    signer_certificate: x509.Certificate | None


class SignedData(NamedTuple):
    content_type: str
    content: bytes | None  # the encapsulated content (opaque signing), None when detached
    certificates: tuple[x509.Certificate, ...]
    signers: tuple[SignerInfo, ...]


@lru_cache(maxsize=4096)
def _load_certificate(der: bytes) -> x509.Certificate:
    """Certificates repeat from message to message: parse each DER once."""
    return x509.load_der_x509_certificate(der)


def _attribute(attributes: cms.CMSAttributes, name: str) -> Any:
    for attribute in attributes:
        if attribute["type"].native == name:
            values = attribute["values"]
            if len(values) != 1:  # RFC 5652 §11.1-2: exactly one value
                raise CMSFormatError(f"the {name} attribute must have one value")
            return values[0]
    return None


def _matches(certificate: x509.Certificate, sid: cms.SignerIdentifier) -> bool:
    """RFC 5652 §5.3 SignerIdentifier: issuer and serial number, or subject key identifier."""
    if sid.name == "issuer_and_serial_number":
        if certificate.serial_number != sid.chosen["serial_number"].native:
            return False
        wanted = sid.chosen["issuer"]
        issuer = certificate.issuer.public_bytes()
        # Same DER is the usual case; RFC 5280 §7.1 name matching (asn1crypto's __eq__) is the slow fallback.
        return bool(issuer == wanted.dump() or asn1_x509.Name.load(issuer) == wanted)
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return False
    return bool(ski == sid.chosen.native)


def _signer(info: cms.SignerInfo, certificates: tuple[x509.Certificate, ...]) -> SignerInfo:
    signature_algorithm = info["signature_algorithm"]
    attributes = info["signed_attrs"]
    signed = None
    digest = content_type = None
    if not isinstance(attributes, core.Void):  # cheaper than .native, which decodes every attribute
        raw = attributes.dump()
        signed = b"\x31" + raw[1:]  # [0] IMPLICIT → universal SET OF for the signature input
        digest_value = _attribute(attributes, "message_digest")
        type_value = _attribute(attributes, "content_type")
        if digest_value is None or type_value is None:
            raise CMSFormatError("signed attributes lack the message-digest or content-type (RFC 5652 §5.3)")
        digest, content_type = bytes(digest_value.native), str(type_value.dotted)
    match = next((c for c in certificates if _matches(c, info["sid"])), None)
    return SignerInfo(
        digest_algorithm=info["digest_algorithm"]["algorithm"].native,
        signature_algorithm=signature_algorithm["algorithm"].native,
        pss=signature_algorithm["parameters"] if signature_algorithm["algorithm"].native == "rsassa_pss" else None,
        signature=info["signature"].native,
        signed_attributes=signed,
        message_digest=digest,
        content_type=content_type,
        signer_certificate=match,
    )


def content_type_of(der: bytes) -> str | None:
    """The content type name of a ContentInfo (``signed_data``, ``enveloped_data``, …), None if unreadable."""
    try:
        return str(cms.ContentInfo.load(der)["content_type"].native)
    except Exception:  # any parse failure means "not a ContentInfo"
        return None


def parse_signed_data(der: bytes) -> SignedData:
    """Parse a ContentInfo holding SignedData; anything else raises CMSFormatError."""
    return read_signed_data(der) or parse_signed_data_asn1(der)


def parse_signed_data_asn1(der: bytes) -> SignedData:
    """The reference reader (asn1crypto): a ContentInfo holding SignedData; anything else raises CMSFormatError."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise CMSFormatError(f"the CMS content is {info['content_type'].native}, not signed-data")
        signed = info["content"]
        choices = signed["certificates"]
        loaded = tuple(
            _load_certificate(c.chosen.dump()) for c in ([] if isinstance(choices, core.Void) else choices)
            if c.name == "certificate"
        )
        encapsulated = signed["encap_content_info"]
        content = encapsulated["content"]
        signers = tuple(_signer(s, loaded) for s in signed["signer_infos"])
        return SignedData(
            content_type=encapsulated["content_type"].dotted,
            content=None if isinstance(content, core.Void) else bytes(content.native),
            certificates=loaded,
            signers=signers,
        )
    except CMSFormatError:
        raise
    except Exception as error:  # asn1crypto parses lazily and raises many types; all mean "malformed"
        raise CMSFormatError(f"the CMS structure cannot be read: {type(error).__name__}: {error}") from error


# The DER walker. Object identifiers are named by asn1crypto itself (cached per encoding), so both readers
# give the same names; an encoding asn1crypto cannot name raises, which sends the input to the reference reader.
_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")  # id-signedData, RFC 5652 §5.1
_NULL = b"\x05\x00"
# The tags of SignedData's fields: version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls,
# signerInfos; and of SignerInfo's after version and sid: digestAlgorithm, [0] signedAttrs, signatureAlgorithm,
# signature, [1] unsignedAttrs (RFC 5652 §5.1, §5.3).
_SIGNED_DATA_SHAPES = tuple(
    bytes(shape) for shape in ((2, 0x31, 0x30, 0x31), (2, 0x31, 0x30, 0xA0, 0x31), (2, 0x31, 0x30, 0xA1, 0x31),
                               (2, 0x31, 0x30, 0xA0, 0xA1, 0x31))
)
_SIGNER_INFO_SHAPES = tuple(
    bytes(shape) for shape in ((0x30, 0x30, 4), (0x30, 0xA0, 0x30, 4), (0x30, 0x30, 4, 0xA1),
                               (0x30, 0xA0, 0x30, 4, 0xA1))
)


@lru_cache(maxsize=512)
def _oid_name(spec: type[core.ObjectIdentifier], encoded: bytes) -> str:
    return str(spec.load(encoded, strict=True).native)


@lru_cache(maxsize=512)
def _oid_dotted(encoded: bytes) -> str:
    return str(core.ObjectIdentifier.load(encoded, strict=True).dotted)


@dataclass(frozen=True)
class _Known:
    """A certificate of a SignedData with what signer matching needs, computed once per DER."""

    certificate: x509.Certificate
    serial: int
    issuer: bytes | None  # DER of the issuer name as cryptography writes it; None if it cannot
    ski: bytes | None  # subjectKeyIdentifier; None when absent
    ski_error: bool  # the extensions cannot be read (the reference reader raises when it gets there)


def _known(der: bytes) -> _Known:
    certificate = _load_certificate(der)
    try:
        issuer: bytes | None = certificate.issuer.public_bytes()
    except ValueError:
        issuer = None
    ski, ski_error = None, False
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        ski_error = True
    return _Known(certificate, certificate.serial_number, issuer, ski, ski_error)


class _CertificateSets:
    """The certificates field of recent signatures, by its DER (a bounded LRU): senders repeat from message to
    message, so their certificates are parsed once and then found by one dictionary lookup."""

    def __init__(self, size: int) -> None:
        self._sets: OrderedDict[bytes, tuple[_Known, ...]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()  # verification runs in worker threads (the gateway's asyncio.to_thread)

    def get(self, der: bytes, start: int, end: int) -> tuple[_Known, ...]:
        key = der[start:end]
        found = self._sets.get(key)
        if found is not None:
            with self._lock:
                if key in self._sets:
                    self._sets.move_to_end(key)
            return found
        known = []
        for tag, first, _value, stop in children(der, start, end):
            if tag != 0x30:  # CertificateChoices other than a plain certificate: leave them to the reference
                raise DERError("a certificate choice other than certificate")
            known.append(_known(der[first:stop]))
        found = tuple(known)
        if end - start > _CACHED_DER:
            return found
        with self._lock:
            self._sets[key] = found
            if len(self._sets) > self._size:
                self._sets.popitem(last=False)
        return found


_CERTIFICATE_SETS = _CertificateSets(1024)


def _algorithm(der: bytes, start: int, end: int) -> bytes:
    """The OID encoding of an AlgorithmIdentifier whose parameters are absent or NULL."""
    _oid_start, oid_end = expect(der, start, end, 0x06)
    if oid_end != end and der[oid_end:end] != _NULL:
        raise DERError("algorithm parameters other than NULL")
    return der[start:oid_end]


def _single_value(der: bytes, start: int, end: int, tag: int) -> tuple[int, int, int]:
    """The one value of an attribute's SET OF values: (TLV start, value start, value end)."""
    values = children(der, start, end)
    if len(values) != 1 or values[0][0] != tag:
        raise DERError("an attribute without exactly one value of the expected type")
    return values[0][1], values[0][2], values[0][3]


def _signed_attributes(
    der: bytes, start: int, end: int, free: list[tuple[int, int]]
) -> tuple[tuple[int, int], str]:
    """Where the message-digest value is, and the content-type (the first of each, as the reference reads).

    The value regions of the message-digest and of a signing-time go into ``free``.
    """
    digest: tuple[int, int] | None = None
    content_type: str | None = None
    for tag, _first, value, stop in children(der, start, end):
        if tag != 0x30:
            raise DERError("an attribute that is not a SEQUENCE")
        fields = children(der, value, stop)
        if len(fields) != 2 or fields[0][0] != 0x06 or fields[1][0] != 0x31:
            raise DERError("an attribute that is not (type, SET OF values)")
        name = _oid_name(cms.CMSAttributeType, der[fields[0][1] : fields[0][3]])
        if name == "message_digest" and digest is None:
            _tlv, value_start, value_end = _single_value(der, fields[1][2], fields[1][3], 0x04)
            digest = (value_start, value_end)
            free.append(digest)
        elif name == "signing_time":  # neither reader looks inside; a repeat signature differs here
            values = children(der, fields[1][2], fields[1][3])
            if len(values) == 1 and values[0][0] in (0x17, 0x18):  # UTCTime, GeneralizedTime
                free.append((values[0][2], values[0][3]))
        elif name == "content_type" and content_type is None:
            oid_start, _value_start, oid_end = _single_value(der, fields[1][2], fields[1][3], 0x06)
            content_type = _oid_dotted(der[oid_start:oid_end])
    if digest is None or content_type is None:
        raise DERError("signed attributes without message-digest or content-type")
    return digest, content_type


def _signer_certificate(
    der: bytes, sid: tuple[int, int, int, int], known: tuple[_Known, ...]
) -> x509.Certificate | None:
    """RFC 5652 §5.3 SignerIdentifier, matched as :func:`_matches` does (exact DER names only)."""
    tag, _first, start, end = sid
    if tag == 0x80:  # subjectKeyIdentifier [0] IMPLICIT OCTET STRING
        wanted = der[start:end]
        for entry in known:
            if entry.ski_error:
                raise DERError("a certificate whose extensions cannot be read")
            if entry.ski == wanted:
                return entry.certificate
        return None
    if tag != 0x30:
        raise DERError("a SignerIdentifier of another kind")
    fields = children(der, start, end)
    if len(fields) != 2 or fields[0][0] != 0x30 or fields[1][0] != 0x02:
        raise DERError("an IssuerAndSerialNumber that is not (Name, INTEGER)")
    issuer = der[fields[0][1] : fields[0][3]]
    serial = int.from_bytes(der[fields[1][2] : fields[1][3]], "big", signed=True)
    for entry in known:
        if entry.serial == serial:
            if entry.issuer != issuer:  # equal names in another encoding: RFC 5280 §7.1 matching is the reference's
                raise DERError("an issuer name to compare beyond its DER")
            return entry.certificate
    return None


@dataclass(frozen=True)
class Layout:
    """Where the values that change from one signature to the next sit in a SignedData the walker has read.

    Signatures by the same signer (same software, same certificates) are byte for byte the same but for the
    signing time, the message digest and the signature value (and the content, for opaque ones). When a new
    DER has the same length and the same bytes everywhere else (``segments``), every tag and length is the
    same, so the walker would read it the same way: only those values need slicing out of it.
    """

    segments: tuple[tuple[int, bytes], ...]  # (offset, bytes) of everything outside the changing values
    signed: SignedData
    content: tuple[int, int] | None
    attributes: tuple[int, int] | None  # the signed attributes' TLV
    digest: tuple[int, int] | None
    signature: tuple[int, int]

    def matches(self, der: bytes) -> bool:
        for offset, piece in self.segments:  # noqa: SIM110 (a loop is faster than all() over a generator)
            if not der.startswith(piece, offset):
                return False
        return True

    def read(self, der: bytes) -> SignedData:
        old = self.signed.signers[0]
        attributes, digest, content, signature = self.attributes, self.digest, self.content, self.signature
        signer = SignerInfo(
            old.digest_algorithm,
            old.signature_algorithm,
            None,
            der[signature[0] : signature[1]],
            None if attributes is None else b"\x31" + der[attributes[0] + 1 : attributes[1]],
            None if digest is None else der[digest[0] : digest[1]],
            old.content_type,
            old.signer_certificate,
        )
        signed = self.signed
        return SignedData(
            signed.content_type,
            None if content is None else der[content[0] : content[1]],
            signed.certificates,
            (signer,),
        )


def _layout(der: bytes, signed: SignedData, free: list[tuple[int, int]], **regions: Any) -> Layout:
    segments = []
    offset = 0
    for start, end in sorted(free):
        if start > offset:
            segments.append((offset, der[offset:start]))
        offset = max(offset, end)
    if offset < len(der):
        segments.append((offset, der[offset:]))
    return Layout(segments=tuple(segments), signed=signed, **regions)


class _Layouts:
    """Recent layouts by DER length and first bytes (a bounded LRU; a few layouts may share a key)."""

    def __init__(self, size: int, per_key: int = 4, prefix: int = 192) -> None:
        self._layouts: OrderedDict[tuple[int, bytes], list[Layout]] = OrderedDict()
        self._size, self._per_key, self._prefix = size, per_key, prefix
        self._lock = threading.Lock()  # readers take a list as it is; writers replace it

    def find(self, der: bytes) -> Layout | None:
        key = (len(der), der[: self._prefix])
        candidates = self._layouts.get(key)
        if candidates is None:
            return None
        for layout in candidates:
            if layout.matches(der):
                if layout is not candidates[0]:  # most recent first
                    self.add(der, layout)
                return layout
        return None

    def add(self, der: bytes, layout: Layout) -> None:
        key = (len(der), der[: self._prefix])
        with self._lock:
            others = [known for known in self._layouts.get(key, ()) if known is not layout]
            self._layouts[key] = [layout, *others][: self._per_key]
            self._layouts.move_to_end(key)
            if len(self._layouts) > self._size:
                self._layouts.popitem(last=False)


_LAYOUTS = _Layouts(512)
_CACHED_DER = 64 * 1024  # larger signatures or certificate sets are read every time (the caches stay small)


def _walk(der: bytes) -> tuple[SignedData, Layout]:
    end = len(der)
    free: list[tuple[int, int]] = []
    start, stop = expect(der, 0, end, 0x30)
    if stop != end:
        raise DERError("bytes after the ContentInfo")
    if not der.startswith(_SIGNED_DATA, start):
        raise DERError("not signed-data")
    start, stop = expect(der, start + len(_SIGNED_DATA), end, 0xA0)
    if stop != end:
        raise DERError("bytes after the ContentInfo's content")
    start, stop = expect(der, start, end, 0x30)
    if stop != end:
        raise DERError("bytes after the SignedData")
    fields = children(der, start, stop)
    tags = bytes(field[0] for field in fields)
    if tags not in _SIGNED_DATA_SHAPES:
        raise DERError("SignedData fields out of the usual shape")
    known = _CERTIFICATE_SETS.get(der, fields[3][2], fields[3][3]) if tags[3] == 0xA0 else ()
    encapsulated = children(der, fields[2][2], fields[2][3])
    if not encapsulated or encapsulated[0][0] != 0x06 or len(encapsulated) > 2:
        raise DERError("an EncapsulatedContentInfo out of the usual shape")
    content_type = _oid_dotted(der[encapsulated[0][1] : encapsulated[0][3]])
    content = content_region = None
    if len(encapsulated) == 2:
        if encapsulated[1][0] != 0xA0:
            raise DERError("encapsulated content without its [0] tag")
        content_start, content_end = expect(der, encapsulated[1][2], encapsulated[1][3], 0x04)
        if content_end != encapsulated[1][3]:
            raise DERError("bytes after the encapsulated content")
        content = der[content_start:content_end]
        content_region = (content_start, content_end)
        free.append(content_region)
    infos = children(der, fields[-1][2], fields[-1][3])
    if len(infos) != 1 or infos[0][0] != 0x30:
        raise DERError("not exactly one SignerInfo")
    info = children(der, infos[0][2], infos[0][3])
    shape = bytes(field[0] for field in info[2:])
    if len(info) < 5 or info[0][0] != 0x02 or shape not in _SIGNER_INFO_SHAPES:
        raise DERError("a SignerInfo out of the usual shape")
    digest_algorithm = _oid_name(algos.DigestAlgorithmId, _algorithm(der, info[2][2], info[2][3]))
    attributes = info[3] if shape[1] == 0xA0 else None
    rest = info[4:] if attributes is not None else info[3:]
    signature_algorithm = _oid_name(algos.SignedDigestAlgorithmId, _algorithm(der, rest[0][2], rest[0][3]))
    if signature_algorithm == "rsassa_pss":  # its parameters are asn1crypto objects: the reference reads them
        raise DERError("RSASSA-PSS")
    signed = digest = attribute_type = digest_region = None
    if attributes is not None:
        signed = b"\x31" + der[attributes[1] + 1 : attributes[3]]  # [0] IMPLICIT → SET OF (RFC 5652 §5.4)
        digest_region, attribute_type = _signed_attributes(der, attributes[2], attributes[3], free)
        digest = der[digest_region[0] : digest_region[1]]
    free.append((rest[1][2], rest[1][3]))
    signer = SignerInfo(
        digest_algorithm=digest_algorithm,
        signature_algorithm=signature_algorithm,
        pss=None,
        signature=der[rest[1][2] : rest[1][3]],
        signed_attributes=signed,
        message_digest=digest,
        content_type=attribute_type,
        signer_certificate=_signer_certificate(der, info[1], known),
    )
    certificates = tuple(entry.certificate for entry in known)
    result = SignedData(content_type=content_type, content=content, certificates=certificates, signers=(signer,))
    return result, _layout(
        der,
        result,
        free,
        content=content_region,
        attributes=None if attributes is None else (attributes[1], attributes[3]),
        digest=digest_region,
        signature=(rest[1][2], rest[1][3]),
    )


def stable_prefix(der: bytes) -> int:
    """How many first bytes of ``der`` (a SignedData the walker has read) the next signatures of the same signer
    are likely to share: up to the first value that changes (see :class:`Layout`); 0 if unknown."""
    layout = _LAYOUTS.find(der)
    if layout is None or not layout.segments or layout.segments[0][0] != 0:
        return 0
    return len(layout.segments[0][1])


def layout_of(der: bytes) -> Layout | None:
    """The layout of a recent signature that ``der`` shares (see :class:`Layout`), if any."""
    return _LAYOUTS.find(der)


def read_signed_data(der: bytes) -> SignedData | None:
    """The DER walker's reading of ``der``, or None when the input is not in the shape it takes.

    A signature laid out as a recent one (see :class:`Layout`) is read by slicing; any other is walked.
    """
    layout = _LAYOUTS.find(der)
    if layout is not None:
        return layout.read(der)
    try:
        signed, layout = _walk(der)
    except Exception:  # DERError, or a certificate or OID the reference reader must word the error for
        return None
    if signed.content is None and len(der) <= _CACHED_DER:  # opaque ones differ in length with their content
        _LAYOUTS.add(der, layout)
    return signed


KEY_KINDS: dict[type, str] = {}


def key_kind(key: object) -> str:
    """"rsa", "ec" or "other", remembered per key class: an ``isinstance`` against cryptography's abstract key
    classes costs more than a dictionary lookup, and a class's answer never changes."""
    if isinstance(key, rsa.RSAPublicKey):
        kind = "rsa"
    else:
        kind = "ec" if isinstance(key, ec.EllipticCurvePublicKey) else "other"
    KEY_KINDS[type(key)] = kind
    return kind


def check_signature(signer: SignerInfo, content: bytes, content_type: str) -> None:
    """RFC 5652 §5.6: digest of the content against message-digest, then the signature. Raises BadSignature."""
    certificate = signer.signer_certificate
    if certificate is None:
        raise BadSignature("the signer's certificate is not in the message")
    algorithm = HASH_ALGORITHMS.get(signer.digest_algorithm)
    if algorithm is None:
        raise BadSignature(f"digest algorithm {signer.digest_algorithm} is not accepted (RFC 8551 §2.1)")
    if signer.signed_attributes is not None:
        digest = HASHLIB[signer.digest_algorithm](content).digest()  # the same digest as hashes.Hash, sooner
        if signer.content_type != content_type:
            raise BadSignature("the content-type attribute does not match the content (RFC 5652 §11.1)")
        if signer.message_digest is None or not hmac.compare_digest(digest, signer.message_digest):
            raise BadSignature("the content was altered: its digest differs from the signed message-digest")
        data = signer.signed_attributes
    else:
        data = content
    key = certificate.public_key()
    kind = KEY_KINDS.get(type(key)) or key_kind(key)
    try:
        if kind == "rsa":
            key = cast(rsa.RSAPublicKey, key)
            if signer.signature_algorithm == "rsassa_pss":
                params = signer.pss
                salt = int(params["salt_length"].native) if params is not None else 20
                mgf = params["mask_gen_algorithm"]["parameters"]["algorithm"].native if params is not None else "sha1"
                mgf_hash = DIGESTS.get(mgf)
                if mgf_hash is None:
                    raise BadSignature("unsupported RSASSA-PSS parameters")
                key.verify(signer.signature, data, padding.PSS(padding.MGF1(mgf_hash()), salt), algorithm)
            else:
                key.verify(signer.signature, data, PKCS1V15, algorithm)
        elif kind == "ec":
            key = cast(ec.EllipticCurvePublicKey, key)
            key.verify(signer.signature, data, ec.ECDSA(algorithm))
        else:
            raise BadSignature(f"unsupported signer key type {type(key).__name__}")
    except InvalidSignature:
        raise BadSignature("the signature does not match the signer's public key") from None
    except (UnsupportedAlgorithm, ValueError, TypeError) as error:
        raise BadSignature(f"the signature cannot be checked: {error}") from error
