"""Byte-exact MIME handling for S/MIME: canonical form, header split, multipart/signed parts.

A detached signature covers the first body part *exactly as transmitted* in canonical form (RFC 8551 §3.1.1:
CRLF line ends), so this module slices raw bytes instead of re-serialising a parsed ``email`` object, which
would refold headers and break signatures.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32
from functools import lru_cache
from typing import Any, Protocol

from certs.errors import MessageFormatError

_CONTENT_HEADER = re.compile(rb"(?i)(content-|mime-version:)")
_WANTED = {b"content-type", b"content-transfer-encoding", b"from", b"sender"}


_BARE_LF = re.compile(rb"\n(?<!\r\n)")  # LF first: the regex engine skips to each LF quickly
_BARE_CR = re.compile(rb"\r(?!\n)")


def canonical(raw: bytes) -> bytes:
    """Bare LF line ends become CRLF (RFC 5322 §2.1); CRLF stays as it is."""
    if _BARE_LF.search(raw) is None:  # one pass, where comparing the counts of LF and CRLF took two
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def split_entity(raw: bytes) -> tuple[bytes, bytes]:
    """Header block (each field ending in CRLF) and body of a canonical entity."""
    if raw.startswith(b"\r\n"):
        return b"", raw[2:]
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return raw if raw.endswith(b"\r\n") else raw + b"\r\n", b""
    return raw[: end + 2], raw[end + 4 :]


def header_fields(header: bytes) -> list[bytes]:
    """Unfolded-aware split: each field with its continuation lines (RFC 5322 §2.2.3), CRLF kept."""
    fields: list[bytes] = []
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def partition_headers(header: bytes) -> tuple[bytes, bytes]:
    """(message headers, MIME content headers): what stays outside and what moves into the signed entity."""
    outer = [f for f in header_fields(header) if not _CONTENT_HEADER.match(f)]
    inner = [f for f in header_fields(header) if _CONTENT_HEADER.match(f) and not f.lower().startswith(b"mime-")]
    return b"".join(outer), b"".join(inner)


def parse_headers(header: bytes) -> Message:
    """A lenient header-only parse (compat32 never raises on odd headers; defects are recorded instead).

    Only the fields S/MIME needs are kept; unfolding and parameter parsing are the ``email`` package's.
    """
    message = Message(policy=compat32)
    for field in header_fields(header):
        name, colon, value = field.partition(b":")
        if colon and name.strip().lower() in _WANTED:
            unfolded = value.decode("latin-1").replace("\r\n", "").replace("\n", "").strip()
            message[name.strip().decode("latin-1")] = unfolded
    return message


class Headers(Protocol):
    """What S/MIME reads of a header block: :class:`email.message.Message` and :class:`SimpleHeaders` have it."""

    def get(self, name: str, failobj: Any = None) -> Any: ...

    def get_all(self, name: str, failobj: Any = None) -> Any: ...

    def get_content_type(self) -> str: ...

    def get_param(self, param: str, failobj: Any = None) -> Any: ...

    def get_boundary(self, failobj: Any = None) -> Any: ...


# The fields S/MIME needs, each with its continuation lines, after the LF that starts a line of a CRLF-only
# header block (prefixed with CRLF). The name is what comes before the first colon, continuation lines included,
# stripped: blanks and folds may follow it ("From\r\n : a" is a From field), while a first line with anything
# else ("X\r\n From: a" names "X\r\n From") is no wanted field; only an empty first line would strip away, and
# _simple refuses those. The leading LF lets the regex engine skip other lines quickly.
_FIELD = re.compile(
    rb"\n(content-type|content-transfer-encoding|from|sender)(?:[ \t]|\r\n[ \t])*:"
    rb"([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)\r",  # CR only: its LF starts the next field's match
    re.IGNORECASE,
)
# A Content-Type value the email package reads without any of its special cases: printable ASCII, parameters
# ``name=token`` or ``name="quoted"`` without backslashes, angle brackets or RFC 2231 stars, blanks around.
_TYPE = r"[ \t!#-'(-:?-\[\]-~]*"  # no ; " = \ < >
_NAME = r"[A-Za-z0-9!#$%&'+.^_`|~-]+"
_VALUE = r"[A-Za-z0-9!#$%&'*+./:=?@\[\]^_`{|}~-]+"
_QUOTED = r'[ !#-;=?-\[\]-~]*'  # no " \ < >
_PARAMETER = rf'[ \t]*(?:({_NAME})[ \t]*=[ \t]*(?:({_VALUE})|"({_QUOTED})")[ \t]*)?'
_SIMPLE_CONTENT_TYPE = re.compile(rf"({_TYPE})((?:;{_PARAMETER})*)")
_PARAMETERS = re.compile(rf";{_PARAMETER}")


class SimpleHeaders:
    """The fields S/MIME needs of a header block, read without the email package when they are simple.

    Same answers as the :class:`~email.message.Message` of :func:`parse_headers` (the tests compare them);
    :func:`read_headers` gives that Message instead whenever a field is outside the simple forms.
    """

    __slots__ = ("_fields", "_params", "_type")

    def __init__(self, fields: dict[str, list[str]], content_type: str, params: dict[str, str]) -> None:
        self._fields = fields
        self._type = content_type
        self._params = params

    def get(self, name: str, failobj: Any = None) -> Any:
        values = self._fields.get(name.lower())
        return values[0] if values else failobj

    def get_all(self, name: str, failobj: Any = None) -> Any:
        return list(self._fields.get(name.lower(), ())) or failobj

    def get_content_type(self) -> str:
        return self._type

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of the field ``name`` (lower case), in order; the same strings as ``get_all``."""
        return tuple(self._fields.get(name, ()))

    def get_param(self, param: str, failobj: Any = None) -> Any:
        return self._params.get(param.lower(), failobj)

    def get_boundary(self, failobj: Any = None) -> Any:
        boundary = self._params.get("boundary")
        return failobj if boundary is None else boundary.rstrip()


def _simple(header: bytes) -> SimpleHeaders | None:
    lines = b"\r\n" + header
    if (
        header[:1] in (b" ", b"\t")  # a leading continuation line
        or not lines.endswith(b"\r\n")
        or b"\r\n\r\n" in lines  # an empty line: a continuation after it would join its name
        or b"\x0b" in header  # VT and FF, which bytes.strip() removes around a name
        or b"\x0c" in header
        or header.count(b"\r") != header.count(b"\n")  # with no bare LF (below), no bare CR either
        or _BARE_LF.search(header)
    ):
        return None  # lines are not what _FIELD sees
    fields: dict[str, list[str]] = {}
    for match in _FIELD.finditer(lines):
        value = match[2].decode("latin-1").replace("\r\n", "").replace("\n", "").strip()
        fields.setdefault(match[1].decode("latin-1").lower(), []).append(value)
    content_type = "text/plain"  # Message.get_default_type()
    params: dict[str, str] = {}
    if "content-type" in fields:
        simple = _SIMPLE_CONTENT_TYPE.fullmatch(fields["content-type"][0])
        if simple is None:
            return None
        content_type = simple[1].strip().lower()
        params[content_type] = ""  # the email package lists the type first, as a parameter without value
        if content_type.count("/") != 1:
            content_type = "text/plain"
        for name, token, quoted in _PARAMETERS.findall(simple[2]):
            params.setdefault(name.lower(), token or quoted)  # the first of a name counts; "" for empty segments
    return SimpleHeaders(fields, content_type, params)


def read_headers(header: bytes) -> Headers:
    """The S/MIME fields of a header block: :class:`SimpleHeaders` when simple, else :func:`parse_headers`."""
    simple = _simple(header)
    return simple if simple is not None else parse_headers(header)


@lru_cache(maxsize=256)
def _part_headers(header: bytes) -> Headers:
    return read_headers(header)


def _read_part_headers(header: bytes) -> Headers:
    """The header of a signature part: a mail client writes the same one on every message, so short ones are
    read once (the answers are never modified)."""
    return _part_headers(header) if len(header) <= 512 else read_headers(header)


@dataclass(frozen=True)
class SignedParts:
    content: bytes  # the first part, canonical, without the CRLF that belongs to the delimiter
    signature: bytes  # the second part's decoded body (DER)
    signature_type: str


def _delimiter_at(body: bytes, delimiter: bytes, start: int) -> int:
    """Index of the next delimiter line at or after ``start`` (RFC 2046 §5.1.1: it begins a line).

    ``delimiter`` comes with its line break: ``b"\\r\\n--" + boundary``.
    """
    if start == 0 and body.startswith(delimiter[2:]):
        return 0
    index = body.find(delimiter, max(start - 2, 0))
    return -1 if index < 0 else index + 2


def split_signed(body: bytes, boundary: str) -> SignedParts:
    """The two parts of a multipart/signed body (RFC 1847 §2.1)."""
    delimiter = b"\r\n--" + boundary.encode("ascii", "replace")
    first = _delimiter_at(body, delimiter, 0)
    if first < 0:
        raise MessageFormatError("the multipart/signed boundary does not occur in the body")
    content_start = body.find(b"\r\n", first) + 2
    second = _delimiter_at(body, delimiter, content_start)
    if content_start < 2 or second < 0:
        raise MessageFormatError("the multipart/signed body has no second part")
    content = body[content_start : second - 2]
    part_start = body.find(b"\r\n", second) + 2
    end = _delimiter_at(body, delimiter, part_start)
    if part_start < 2 or end < 0:
        raise MessageFormatError("the signature part is not closed by the boundary")
    part_end = end - 2
    if body.startswith(b"\r\n", part_start) and part_start + 2 <= part_end:  # split_entity of the part, uncopied
        part_header, part_body = b"", body[part_start + 2 : part_end]
    else:
        blank = body.find(b"\r\n\r\n", part_start, part_end)
        if blank < 0:
            part_header, part_body = split_entity(body[part_start:part_end])
        else:
            part_header, part_body = body[part_start : blank + 2], body[blank + 4 : part_end]
    headers = _read_part_headers(part_header)
    return SignedParts(content, decode_body(headers, part_body), headers.get_content_type())


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_LEARNT_TEXT = 64 * 1024  # longer texts are not learnt from (nor kept for it): the cache stays small


class Base64Prefixes:
    """Base64 decoding (``binascii.a2b_base64`` without validation, as ``base64.b64decode``) that skips a known
    beginning: the signatures of one signer start with the same bytes (their certificates), so the same text.

    :meth:`learn` records the text that decodes to the first bytes of a DER known to be stable (a whole number of
    4-character quanta, without padding: the decoder is then in its initial state at the cut, so decoding the
    rest alone and appending it gives exactly the bytes of one decoding). Bounded LRU; errors are always worded
    by a decoding of the whole text.
    """

    def __init__(self, size: int = 256, key: int = 96) -> None:
        self._prefixes: OrderedDict[bytes, list[tuple[bytes, bytes]]] = OrderedDict()
        self._size, self._key = size, key
        self._missed: tuple[bytes, bytes] | None = None  # (text, decoded) of the last decoding that found nothing
        self._lock = threading.Lock()  # readers take a list as it is; writers replace it

    def decode(self, text: bytes) -> bytes:
        return self.decode_known(text)[0]

    def decode_known(self, text: bytes) -> tuple[bytes, int]:
        """The decoding of ``text`` and the length of the known beginning it skipped (0 when none): that
        beginning is the text of an earlier decoding, byte for byte."""
        candidates = self._prefixes.get(text[: self._key])
        if candidates is not None:
            for prefix, decoded in candidates:
                if text.startswith(prefix):
                    try:
                        return decoded + binascii.a2b_base64(text[len(prefix) :]), len(prefix)
                    except (binascii.Error, ValueError):
                        break
        result = binascii.a2b_base64(text)
        self._missed = (text, result) if len(text) <= _LEARNT_TEXT else None
        return result, 0

    def known(self, data: bytes, start: int) -> tuple[bytes, bytes] | None:
        """A known beginning of the text at ``data[start:]`` and its decoding, without copying the text."""
        for prefix, decoded in self._prefixes.get(data[start : start + self._key], ()):
            if data.startswith(prefix, start):
                return prefix, decoded
        return None

    def missed(self, decoded: bytes) -> bool:
        """Whether ``decoded`` came from the last :meth:`decode` that found no prefix (and is yet to be learnt)."""
        return self._missed is not None and self._missed[1] is decoded

    def learn(self, decoded: bytes, stable: int) -> None:
        """``decoded`` (the result of the last :meth:`decode` that found no prefix) begins with ``stable`` bytes
        that later texts are likely to share: remember the text that encodes (at most) them."""
        if self._missed is None or self._missed[1] is not decoded:
            return
        text = self._missed[0]
        self._missed = None
        wanted = stable // 3 * 4  # alphabet characters in the prefix
        low, high = 0, len(text)  # the shortest prefix holding ``wanted`` alphabet characters
        while low < high:
            middle = (low + high) // 2
            if middle - len(text[:middle].translate(None, _BASE64_ALPHABET)) < wanted:
                low = middle + 1
            else:
                high = middle
        prefix = text[:low]
        alphabet = len(prefix) - len(prefix.translate(None, _BASE64_ALPHABET))
        if len(prefix) <= self._key or b"=" in prefix or b"-" in prefix or alphabet != wanted:
            return
        key = prefix[: self._key]
        entry = (prefix, binascii.a2b_base64(prefix))
        with self._lock:
            self._prefixes[key] = [entry, *self._prefixes.get(key, ())][:4]
            self._prefixes.move_to_end(key)
            if len(self._prefixes) > self._size:
                self._prefixes.popitem(last=False)


BASE64 = Base64Prefixes()


def decode_body(headers: Headers, body: bytes) -> bytes:
    """Undo the Content-Transfer-Encoding of a CMS part (base64 in practice, RFC 8551 §3.1.3)."""
    encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":
        try:
            return BASE64.decode(body)  # base64.b64decode without validate: skips line breaks and the like
        except (binascii.Error, ValueError) as error:
            raise MessageFormatError(f"the CMS part is not valid base64: {error}") from error
    return body


def wrap_base64(data: bytes) -> bytes:
    """Base64 in 76-character lines with CRLF (RFC 2045 §6.8)."""
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))
