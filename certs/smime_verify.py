"""Verification of S/MIME signed messages (RFC 8551 §3.5) into a :class:`certs.verdict.Verdict`.

Order of checks, each giving its own verdict: structure (malformed), signature over the content (invalid
signature), key usage, validity period, chain to a health PKI anchor, revocation, then the ``From:`` address
against the certificate's ``rfc822Name`` (RFC 8550 §3). Nothing here raises on hostile input.
"""

from __future__ import annotations

import datetime as dt
import threading
from email.utils import getaddresses
from functools import lru_cache

from cryptography import x509

from certs.cms import (
    BadSignature,
    SignedData,
    check_signature,
    content_type_of,
    layout_of,
    parse_signed_data,
    parse_signed_data_asn1,
    read_signed_data,
    stable_prefix,
)
from certs.cms_plan import plan_of, signature_holds
from certs.errors import CMSFormatError, MessageFormatError
from certs.issue import serial_hex
from certs.mime import BASE64, Headers, SimpleHeaders, canonical, decode_body, read_headers, split_entity, split_signed
from certs.names import dn_string, identity_of, mailbox_addresses
from certs.simple_signed import read_simple_signed
from certs.trust import ChainStatus, Purpose, TrustStore
from certs.verdict import Signer, Status, Verdict, make_verdict

_PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_PKCS7_SIGNATURE = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_DATA = "1.2.840.113549.1.7.1"  # id-data, RFC 5652 §4
_SMIME_SIGN, _CHAIN_OK = Purpose.SMIME_SIGN, ChainStatus.OK  # looked up once, not on every message
_now, _UTC = dt.datetime.now, dt.UTC
_CHAIN_VERDICTS = {
    ChainStatus.EXPIRED: Status.EXPIRED,
    ChainStatus.UNTRUSTED: Status.UNTRUSTED_CHAIN,
    ChainStatus.WRONG_KEY_USAGE: Status.WRONG_KEY_USAGE,
    ChainStatus.REVOKED: Status.REVOKED,
}


_SIGNERS: dict[int, tuple[x509.Certificate, Signer]] = {}  # by the identity of the certificate object
_SIGNERS_LOCK = threading.Lock()


def _signer(certificate: x509.Certificate) -> Signer:
    """:func:`signer_of` without hashing the certificate: the CMS reader hands out one object per DER. Each
    entry keeps its certificate alive, so an id is never reused while its entry exists."""
    known = _SIGNERS.get(id(certificate))
    if known is not None and known[0] is certificate:
        return known[1]
    signer = signer_of(certificate)
    with _SIGNERS_LOCK:  # verification runs in worker threads (the gateway's asyncio.to_thread)
        if len(_SIGNERS) >= 4096:
            del _SIGNERS[next(iter(_SIGNERS))]
        _SIGNERS[id(certificate)] = (certificate, signer)
    return signer


def _addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    """The lower-cased addresses of ``From:`` or ``Sender:`` values; short ones (the same few senders come back
    often) are parsed once."""
    if sum(map(len, values)) > 1000:
        return _parse_addresses(values)
    return _cached_addresses(values)


def _parse_addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(address.lower() for _name, address in getaddresses(list(values)) if address)


_cached_addresses = lru_cache(maxsize=4096)(_parse_addresses)


@lru_cache(maxsize=4096)
def signer_of(certificate: x509.Certificate) -> Signer:
    identity = identity_of(certificate)
    return Signer(
        kind=identity.kind if identity else None,
        owner_id=identity.owner_id if identity else None,
        name=identity.name if identity else certificate.subject.rfc4514_string(),
        emails=mailbox_addresses(certificate),
        serial=serial_hex(certificate.serial_number),
        subject=dn_string(certificate.subject),
        issuer=dn_string(certificate.issuer),
    )


def verify_message(raw: bytes, trust: TrustStore, *, now: dt.datetime | None = None) -> Verdict:
    """Verify the S/MIME signature of an RFC 5322 message; never raises.

    ``now`` is the validation time (default: the current time). The verdict's ``content`` is the signed
    MIME entity, which for an opaque (``application/pkcs7-mime``) message is the readable message body.
    """
    try:
        return _verify(raw, trust, now or _now(_UTC))
    except Exception as error:  # the promise is a verdict for any input; record what broke
        return Verdict(Status.MALFORMED, f"the message cannot be analysed: {type(error).__name__}: {error}")


def _originators(headers: Headers) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ``From:`` and ``Sender:`` field values (RFC 5322 §3.6.2)."""
    if isinstance(headers, SimpleHeaders):  # its values are str already
        return headers.values("from"), headers.values("sender")
    return tuple(str(v) for v in headers.get_all("From", [])), tuple(str(v) for v in headers.get_all("Sender", []))


def _verify(raw: bytes, trust: TrustStore, now: dt.datetime) -> Verdict:
    simple = read_simple_signed(raw)
    if simple is not None:  # the usual shape, read in one pass: the same parts as below
        content, der, senders, agents = simple
        layout = layout_of(der)
        if layout is not None:  # a signature laid out as a recent one: its values are sliced out of it
            if BASE64.missed(der):  # its signer's base64 beginning was forgotten: learn it again
                BASE64.learn(der, stable_prefix(der))
            plan = plan_of(layout)
            if plan is not None and signature_holds(plan, der, content):  # what _judge's first checks conclude
                certificate = plan.certificate
                return _judged(certificate, _signer(certificate), plan.certificates, content, (senders, agents),
                               trust, now, False)
            signed = layout.read(der)
        else:
            try:
                signed = read_signed_data(der) or parse_signed_data_asn1(der)
            except CMSFormatError as error:
                return Verdict(Status.MALFORMED, str(error))
            if BASE64.missed(der):  # a new signer: its next signatures skip the known text
                BASE64.learn(der, stable_prefix(der))
        return _judge(signed, content, (senders, agents), trust, now, opaque=False)
    header, body = split_entity(canonical(raw))
    headers = read_headers(header)
    content_type = headers.get_content_type()
    if content_type == "multipart/signed":
        protocol = str(headers.get_param("protocol", "") or "").lower()
        boundary = headers.get_boundary()
        if protocol not in _PKCS7_SIGNATURE:
            return Verdict(Status.UNSIGNED, f"multipart/signed with protocol {protocol or 'missing'} is not S/MIME")
        if not boundary:
            return Verdict(Status.MALFORMED, "the multipart/signed header has no boundary")
        try:
            parts = split_signed(body, boundary)
            signed = parse_signed_data(parts.signature)
            if BASE64.missed(parts.signature):  # the next signature of this signer decodes its certificates no more
                BASE64.learn(parts.signature, stable_prefix(parts.signature))
        except (MessageFormatError, CMSFormatError) as error:
            return Verdict(Status.MALFORMED, str(error))
        if parts.signature_type not in _PKCS7_SIGNATURE:
            return Verdict(Status.MALFORMED, f"the second part is {parts.signature_type}, not a PKCS#7 signature")
        return _judge(signed, parts.content, _originators(headers), trust, now, opaque=False)
    if content_type in _PKCS7_MIME:
        smime_type = str(headers.get_param("smime-type", "") or "").lower()
        if smime_type in ("enveloped-data", "authenveloped-data"):
            return Verdict(Status.UNSIGNED, "the message is encrypted; a signature inside cannot be seen here")
        try:
            der = decode_body(headers, body)
            fast = read_signed_data(der)  # a SignedData the walker reads has the signed-data content type
            if fast is None and content_type_of(der) in ("enveloped_data", "authenticated_enveloped_data"):
                return Verdict(Status.UNSIGNED, "the message is encrypted; a signature inside cannot be seen here")
            signed = fast or parse_signed_data_asn1(der)
        except (MessageFormatError, CMSFormatError) as error:
            return Verdict(Status.MALFORMED, str(error), opaque=True)
        if signed.content is None:
            return Verdict(Status.MALFORMED, "the opaque signed message has no encapsulated content", opaque=True)
        return _judge(signed, signed.content, _originators(headers), trust, now, opaque=True)
    return Verdict(Status.UNSIGNED, f"the message is {content_type}, without an S/MIME signature")


def _judge(
    signed: SignedData,
    content: bytes,
    originators: tuple[tuple[str, ...], tuple[str, ...]],
    trust: TrustStore,
    now: dt.datetime,
    *,
    opaque: bool,
) -> Verdict:
    if not signed.signers:
        return Verdict(Status.MALFORMED, "the SignedData has no signer", opaque=opaque)
    if signed.content_type != _DATA:
        return Verdict(Status.MALFORMED, f"the signed content type is {signed.content_type}, not data", opaque=opaque)
    signer_info = signed.signers[0]  # RFC 8551 §3.5: one signer is what mail clients produce
    certificate = signer_info.signer_certificate
    signer = _signer(certificate) if certificate is not None else None
    try:
        check_signature(signer_info, content, signed.content_type)
    except BadSignature as error:
        return Verdict(Status.INVALID_SIGNATURE, str(error), signer, opaque, content)
    assert certificate is not None  # check_signature refuses a missing certificate
    return _judged(certificate, signer, signed.certificates, content, originators, trust, now, opaque)


def _judged(
    certificate: x509.Certificate,
    signer: Signer | None,
    certificates: tuple[x509.Certificate, ...],
    content: bytes,
    originators: tuple[tuple[str, ...], tuple[str, ...]],
    trust: TrustStore,
    now: dt.datetime,
    opaque: bool,
) -> Verdict:
    """The checks after the signature's: chain, validity, revocation, then the addresses."""
    result = trust.validate(certificate, certificates, now=now, purpose=_SMIME_SIGN)
    if result.status is not _CHAIN_OK:
        return Verdict(_CHAIN_VERDICTS[result.status], result.reason, signer, opaque, content)
    from_values, sender_values = originators
    short = sum(map(len, from_values)) + sum(map(len, sender_values)) <= 1000
    check = _cached_address_check if short else _address_check
    emails, who = (signer.emails, signer.name) if signer else ((), "the signer")
    status, reason = check(emails, from_values, sender_values, who)
    return make_verdict(status, reason, signer, opaque, content)


def _address_check(
    emails: tuple[str, ...], from_values: tuple[str, ...], sender_values: tuple[str, ...], who: str
) -> tuple[Status, str]:
    """The ``From:`` addresses against the certificate's (RFC 8550 §3: or the ``Sender:``), with the sentence."""
    senders = _addresses(from_values)
    agents = _addresses(sender_values) if sender_values else ()
    if not senders:
        return Status.ADDRESS_MISMATCH, "the message has no From: address to compare with the certificate"
    strangers = [address for address in senders if address not in emails]
    if strangers and not (agents and agents[0] in emails):  # RFC 8550 §3: From or Sender
        listed = ", ".join(sorted(set(emails))) or "no address"
        return (
            Status.ADDRESS_MISMATCH,
            f"From: {', '.join(strangers)} is not in the certificate, which names {listed} (RFC 8550 §3)",
        )
    if strangers:
        return Status.VALID, f"signed by the sender {who} <{agents[0]}> on behalf of {', '.join(senders)}"
    return Status.VALID, f"signed by {who} <{senders[0]}> with a valid health PKI certificate"


# The same signers write from the same addresses: the answer for short values is worked out once.
_cached_address_check = lru_cache(maxsize=4096)(_address_check)
