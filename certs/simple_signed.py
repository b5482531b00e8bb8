"""One pass over the usual shape of a detached S/MIME message (RFC 8551 §3.5.3, RFC 1847 §2.1).

Mail clients write ``multipart/signed`` messages in one shape: a header block of plain fields whose
``Content-Type`` carries ``protocol`` and ``boundary`` as simple parameters, then the signed part, then a
base64 ``application/pkcs7-signature`` part, all with CRLF line ends. :func:`read_simple_signed` reads that
shape straight from the bytes of the message, with offsets into it instead of the copies, header objects and
parts of the general readers (:func:`certs.mime.split_entity`, :func:`certs.mime.read_headers`,
:func:`certs.mime.split_signed`). It answers exactly what they answer, or None whenever the message is not in
that shape, malformed, or anything the general readers word an error for: the caller then runs them, so every
verdict and every error sentence stays theirs. ``tests/certs/test_simple_signed.py`` compares the two over
generated shapes and mutations.
"""

from __future__ import annotations

import binascii
import re
from functools import lru_cache

from certs import mime

_PKCS7_SIGNATURE = (b"application/pkcs7-signature", b"application/x-pkcs7-signature")
_SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
# certs.mime._FIELD with the name in a group of its own (From, Sender, Content-Type; Content-Transfer-Encoding
# in none), so that a field is told by which group is set.
_FIELD = re.compile(
    rb"\n(?:(from)|(sender)|(content-type)|content-transfer-encoding)(?:[ \t]|\r\n[ \t])*:"
    rb"([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)\r",
    re.IGNORECASE,
)
_FIELDS, _BARE_LF = _FIELD.findall, mime._BARE_LF.search  # bound once: this runs on every message
_FIELD_START = (b" ", b"\t", b"\r")  # a first line that is a continuation, or a header block that is empty
# A Content-Type value that certs.mime._SIMPLE_CONTENT_TYPE reads as multipart/signed with a protocol and a
# boundary parameter: the same forms, over bytes. Its parameters are split where the first protocol and the
# first boundary stand (either may come first), so their groups hold the values the general readers take.
_BLANK = rb"[ \t]*"
_ANY_VALUE = rf'(?:{mime._VALUE}|"{mime._QUOTED}")'.encode()
_OTHER = rb";" + _BLANK + rb"(?:(?!(?i:protocol|boundary)[ \t]*=)" + mime._NAME.encode() + _BLANK + rb"=" + _BLANK
_OTHER += _ANY_VALUE + rb")?" + _BLANK  # an empty parameter, or any but protocol and boundary
_ANY = rb";" + _BLANK + rb"(?:" + mime._NAME.encode() + _BLANK + rb"=" + _BLANK + _ANY_VALUE + rb")?" + _BLANK


def _named(name: bytes, group: bytes | None = None) -> bytes:
    value = _ANY_VALUE if group is None else (
        rb"(?:(?P<" + group + rb"t>" + mime._VALUE.encode() + rb')|"(?P<' + group + rb"q>" + mime._QUOTED.encode()
        + rb')")'
    )
    return rb";" + _BLANK + rb"(?i:" + name + rb")" + _BLANK + rb"=" + _BLANK + value + _BLANK


_LONGEST_TYPE = 512  # bytes: longer values are left to the general readers
_SIGNED_TYPE = re.compile(
    _BLANK + rb"(?i:multipart/signed)" + _BLANK + rb"(?:" + _OTHER + rb")*(?:"
    + _named(b"protocol", b"p") + rb"(?:" + _OTHER + rb"|" + _named(b"protocol") + rb")*"
    + _named(b"boundary", b"b") + rb"(?:" + _ANY + rb")*"
    + rb"|" + _named(b"boundary", b"c") + rb"(?:" + _OTHER + rb"|" + _named(b"boundary") + rb")*"
    + _named(b"protocol", b"r") + rb"(?:" + _ANY + rb")*)"
)


def _signature_encoding(header: bytes) -> str | None:
    """The Content-Transfer-Encoding of a signature part as certs.mime.decode_body reads it, None when the part
    is not a PKCS#7 signature."""
    headers = mime.read_headers(header)
    if headers.get_content_type() not in _SIGNATURE_TYPES:
        return None
    return str(headers.get("Content-Transfer-Encoding", "")).strip().lower()


# A mail client writes the same signature part header on every message: short ones are read once.
_known_encoding = lru_cache(maxsize=256)(_signature_encoding)


def read_simple_signed(raw: bytes) -> tuple[bytes, bytes, tuple[str, ...], tuple[str, ...]] | None:
    """``(content, signature DER, From: values, Sender: values)`` of a message in the usual shape.

    The answer is that of the general readers for ``certs.mime.canonical(raw)``: ``content`` is the first part
    as :func:`certs.mime.split_signed` slices it, the DER is the decoded second part, the values are those of
    :meth:`certs.mime.SimpleHeaders.values`. None means "ask the general readers", which a bare LF anywhere
    does too: the reader only answers for messages that are canonical already.
    """
    end = raw.find(b"\r\n\r\n")  # the header block ends at the first empty line (RFC 5322 §2.1)
    if end < 0 or raw[:1] in _FIELD_START:
        return None
    header = raw[: end + 2]
    # What certs.mime._simple refuses: VT or FF, or a CR without its LF. Without a bare LF (checked below: the
    # answer is dropped when there is one) every LF follows a CR, so the CRs, VTs and FFs number the LFs only
    # when there is none of those.
    if len(header) - len(header.translate(None, b"\r\x0b\x0c")) != header.count(b"\n"):
        return None
    content_type = None
    senders: list[str] = []
    agents: list[str] = []
    for sender, agent, kind, value in _FIELDS(b"\r\n" + header):
        if sender:  # unfolded as certs.mime._simple does (no bare CR or LF is left to remove)
            senders.append(value.decode("latin-1").replace("\r\n", "").strip())
        elif agent:
            agents.append(value.decode("latin-1").replace("\r\n", "").strip())
        elif kind and content_type is None:
            content_type = value.replace(b"\r\n", b"").strip()
    if content_type is None or len(content_type) > _LONGEST_TYPE:
        return None
    # bytes.strip() removes less than str.strip(), but what it leaves at the ends fails the pattern unless it
    # is printable ASCII, which neither removes.
    signed = _SIGNED_TYPE.fullmatch(content_type)
    if signed is None:
        return None
    if signed["pt"] is not None or signed["pq"] is not None:  # protocol came first
        protocol, boundary = signed["pt"] or signed["pq"], signed["bt"] or signed["bq"]
    else:
        protocol, boundary = signed["rt"] or signed["rq"], signed["ct"] or signed["cq"]
    boundary = boundary.rstrip()  # SimpleHeaders.get_boundary
    if protocol.lower() not in _PKCS7_SIGNATURE or not boundary:
        return None
    # The body starts at end + 4 behind a CRLF, so the delimiter with its CRLF (RFC 2046 §5.1.1) is found
    # from end + 2 even when the body opens with it: the same places as split_signed's _delimiter_at.
    delimiter = b"\r\n--" + boundary
    first = raw.find(delimiter, end + 2)
    if first < 0:
        return None
    content_start = raw.find(b"\r\n", first + 2) + 2
    if content_start < 2:
        return None
    second = raw.find(delimiter, content_start - 2)
    if second < 0:
        return None
    part_start = raw.find(b"\r\n", second + 2) + 2
    if part_start < 2 or raw.startswith(b"\r\n", part_start):  # no part header: not a signature part
        return None
    # split_signed cuts the part at the next delimiter, then its header at the first empty line before it: that
    # is the first empty line after part_start, when no delimiter starts before the body that follows it.
    blank = raw.find(b"\r\n\r\n", part_start)
    if blank < 0:
        return None
    body = blank + 4
    if raw.find(delimiter, part_start - 2, body - 1 + len(delimiter)) >= 0:
        return None
    # canonical(raw) is raw only without a bare LF (RFC 5322 §2.3): what is read here is then what the general
    # readers read. The base64 text is scanned after its decoding, which may skip a known beginning.
    if _BARE_LF(raw, 0, body):
        return None
    part_header = raw[part_start : blank + 2]
    encoding = _signature_encoding(part_header) if len(part_header) > 512 else _known_encoding(part_header)
    if encoding is None:
        return None
    known = mime.BASE64.known(raw, body) if encoding == "base64" else None
    if known is None:
        close = raw.find(delimiter, body)
        if close < 0:
            return None
        if encoding == "base64":
            try:
                der, skipped = mime.BASE64.decode_known(raw[body:close])
            except (binascii.Error, ValueError):
                return None
        else:
            der, skipped = raw[body:close], 0
    else:
        # A known beginning is the text of an earlier signature part: base64 characters and line breaks, no
        # "-", ending on a base64 character, so no delimiter starts inside it.
        prefix, decoded = known
        skipped = len(prefix)
        close = raw.find(delimiter, body + skipped)
        if close < 0:
            return None
        try:
            der = decoded + binascii.a2b_base64(raw[body + skipped : close])
        except (binascii.Error, ValueError):
            return None  # the general readers word the error
    if _BARE_LF(raw, body + skipped):  # a known beginning is the text of a canonical message
        return None
    return raw[content_start:second], der, tuple(senders), tuple(agents) if agents else ()
