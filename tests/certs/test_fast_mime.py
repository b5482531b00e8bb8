"""The fast MIME readers of certs.mime against the email package and the straightforward forms they replace."""

from __future__ import annotations

import binascii
from collections.abc import Callable
from email.message import Message
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs.errors import MessageFormatError
from certs.mime import (
    Base64Prefixes,
    SignedParts,
    SimpleHeaders,
    canonical,
    decode_body,
    parse_headers,
    read_headers,
    split_entity,
    split_signed,
)

_SETTINGS = settings(max_examples=400, deadline=None)
_PARAMS = ("protocol", "boundary", "smime-type", "micalg", "name", "charset", "b*", "")

# Pieces of header blocks, chosen to hit every special case of the email package's parameter parsing.
_NAMES = st.sampled_from(
    ["From", "from", "FROM ", "Sender", "Content-Type", "content-type\t", "Content-Transfer-Encoding", "To",
     "Subject", "\x0bFrom", "X-Content-Type", "Content-Type-X", " From"]
)
_TYPES = st.sampled_from(
    ["multipart/signed", "application/pkcs7-mime", "application/x-pkcs7-signature", "text/plain", "Multipart/Signed",
     "", "multipart", "a/b/c", ' "multipart/signed"', "text/plain=x"]
)
_PARAM_NAMES = st.sampled_from(["protocol", "Protocol", "boundary", "smime-type", "micalg", "name", "b*", "b*0", ""])
_PARAM_VALUES = st.sampled_from(
    ['"application/pkcs7-signature"', "application/pkcs7-signature", '"a;b"', "<x>", '"<x>"', '"x\\"y"', '""',
     "signed-data", '"sp ace "', "a=b", "'q'", '"unclosed', "x y", "\xa0v", "v\x85", "=?utf-8?q?x?=", "us-ascii''x"]
)
_BLANKS = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def _content_types(draw: st.DrawFn) -> str:
    value = draw(_TYPES)
    for _ in range(draw(st.integers(0, 4))):
        value += ";" + draw(_BLANKS) + draw(_PARAM_NAMES) + draw(_BLANKS)
        if draw(st.booleans()):
            value += "=" + draw(_BLANKS) + draw(_PARAM_VALUES) + draw(_BLANKS)
    if draw(st.booleans()):
        value += ";"
    return value


@st.composite
def _headers(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(_NAMES)
        value = draw(_content_types()) if "type" in name.lower() else draw(
            st.sampled_from(["Dr Alice <alice@x.example>", "base64", " BASE64 ", "a@b, c@d", "", "x\xe9"])
        )
        line = f"{name}:{draw(_BLANKS)}{value}"
        if draw(st.integers(0, 4)) == 0:  # fold it
            cut = draw(st.integers(0, len(line)))
            line = line[:cut] + "\r\n" + draw(st.sampled_from([" ", "\t"])) + line[cut:]
        lines.append(line.encode("latin-1") + draw(st.sampled_from([b"\r\n"] * 6 + [b"\n", b"\r"])))
    return b"".join(lines)


def _outcome(call: Callable[[], object]) -> object:
    """What a call answers, or the error it raises (the email package raises on some RFC 2231 forms)."""
    try:
        return call()
    except Exception as error:
        return (type(error), str(error))


def _same_answers(header: bytes) -> None:
    fast, reference = read_headers(header), parse_headers(header)
    assert fast.get_content_type() == reference.get_content_type()
    for name in _PARAMS:
        assert _outcome(partial(fast.get_param, name, "missing")) == _outcome(
            partial(reference.get_param, name, "missing")
        ), name
    assert _outcome(fast.get_boundary) == _outcome(reference.get_boundary)
    assert fast.get("Content-Transfer-Encoding", "") == reference.get("Content-Transfer-Encoding", "")
    for name in ("From", "Sender"):
        assert fast.get_all(name, []) == reference.get_all(name, [])
        if isinstance(fast, SimpleHeaders):
            assert list(fast.values(name.lower())) == reference.get_all(name, [])


@pytest.mark.parametrize(
    "header",
    [
        b"From\r\n : a@b.example\r\n",
        b"From \r\n\t:a@b.example\r\nContent-Type\r\n : multipart/signed; boundary=x\r\n",
        b"X\r\n From: a@b.example\r\n",
        b"\r\n From: a@b.example\r\n",
        b"To: c\r\n\r\n From: a@b.example\r\n",
        b"\x0bFrom: a@b.example\r\n",
        b"From\x0c: a@b.example\r\n",
        b"Subject: a\rFrom: a@b.example\r\n",
        b"Subject: a\nFrom: a@b.example\r\n",
        b"From: a@b.example",
        b"Content-Type: multipart/signed; boundary=\"x\"; boundary=y\r\nContent-Type: text/plain\r\n",
        b"Content-Type: boundary; boundary=y\r\n",
        b"Content-Type: multipart/signed; ; =x; boundary=\"a;b\" \r\n",
    ],
)
def test_odd_headers_answer_as_the_email_package(header: bytes) -> None:
    _same_answers(header)


@_SETTINGS
@given(_headers())
def test_simple_headers_answer_as_the_email_package(header: bytes) -> None:
    _same_answers(header)


@_SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_header_bytes_answer_as_the_email_package(header: bytes) -> None:
    _same_answers(header)
    _same_answers(b"Content-Type: " + header + b"\r\n")


def test_the_usual_headers_take_the_fast_path() -> None:
    outer = (
        b"From: Dr Alice MARTIN <alice.martin@mssante.localhost>\r\nTo: bob@mssante.localhost\r\nSubject: x\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; '
        b'micalg=sha-256;\r\n boundary="----=_smime_0123"\r\n'
    )
    part = b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n'
    for header in (outer, part, b""):
        assert isinstance(read_headers(header), SimpleHeaders)
        _same_answers(header)
    headers = read_headers(outer)
    assert (headers.get_content_type(), headers.get_boundary()) == ("multipart/signed", "----=_smime_0123")
    assert headers.get_param("protocol") == "application/pkcs7-signature"
    # RFC 2231 parameters and odd quoting are the email package's
    for odd in (b"Content-Type: text/plain; name*=utf-8''x\r\n", b'Content-Type: a/b; x="a\\"b"\r\n', b" From: x\r\n"):
        assert isinstance(read_headers(odd), Message)


@_SETTINGS
@given(st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"\n\r", b"xyz"]), max_size=30))
def test_canonical_is_the_count_rule(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    expected = raw if raw.count(b"\n") == raw.count(b"\r\n") else raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert canonical(raw) == expected


def _split_signed_before(body: bytes, boundary: str) -> SignedParts:
    """split_signed as it was written before the fast path (split_entity of a copied part)."""

    def delimiter_at(start: int) -> int:
        if start == 0 and body.startswith(delimiter):
            return 0
        index = body.find(b"\r\n" + delimiter, max(start - 2, 0))
        return -1 if index < 0 else index + 2

    delimiter = b"--" + boundary.encode("ascii", "replace")
    first = delimiter_at(0)
    if first < 0:
        raise MessageFormatError("the multipart/signed boundary does not occur in the body")
    content_start = body.find(b"\r\n", first) + 2
    second = delimiter_at(content_start)
    if content_start < 2 or second < 0:
        raise MessageFormatError("the multipart/signed body has no second part")
    content = body[content_start : second - 2]
    part_start = body.find(b"\r\n", second) + 2
    end = delimiter_at(part_start)
    if part_start < 2 or end < 0:
        raise MessageFormatError("the signature part is not closed by the boundary")
    part_header, part_body = split_entity(body[part_start : end - 2])
    headers = parse_headers(part_header)
    return SignedParts(content, decode_body(headers, part_body), headers.get_content_type())


@settings(max_examples=600, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"--B", b"\r\n", b"--B--", b"x", b"Content-Type: application/pkcs7-signature", b"\r\n\r\n",
             b"Content-Transfer-Encoding: base64", b"QUJD", b"====", b"\r", b"--", b" "]
        ),
        max_size=25,
    )
)
def test_split_signed_is_the_former_split(pieces: list[bytes]) -> None:
    body = b"".join(pieces)
    try:
        expected: SignedParts | str = _split_signed_before(body, "B")
    except MessageFormatError as error:
        expected = str(error)
    try:
        found: SignedParts | str = split_signed(body, "B")
    except MessageFormatError as error:
        found = str(error)
    assert found == expected


_BASE64_TEXT = st.lists(st.sampled_from([b"QUJD", b"ZA", b"==", b"=", b"\r\n", b"!", b"A", b"Zm9v"]), max_size=12)


@_SETTINGS
@given(st.binary(min_size=120, max_size=400), st.integers(0, 400), _BASE64_TEXT)
def test_base64_prefixes_decode_exactly_as_binascii(data: bytes, stable: int, tail: list[bytes]) -> None:
    prefixes = Base64Prefixes(key=32)
    text = binascii.b2a_base64(data, newline=False)
    text = b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + b"\r\n"
    decoded = prefixes.decode(text)
    assert decoded == binascii.a2b_base64(text) == data
    assert prefixes.missed(decoded)
    prefixes.learn(decoded, stable)
    assert not prefixes.missed(decoded)
    for other in (text, text[: len(text) // 2] + b"".join(tail), text + b"".join(tail)):
        try:
            expected: bytes | str = binascii.a2b_base64(other)
        except binascii.Error as error:
            expected = str(error)
        try:
            found: bytes | str = prefixes.decode(other)
        except binascii.Error as error:
            found = str(error)
        assert found == expected


def test_base64_prefix_is_used_once_learnt() -> None:
    prefixes = Base64Prefixes(key=32)
    text = binascii.b2a_base64(bytes(range(256)) * 3)
    decoded = prefixes.decode(text)
    prefixes.learn(decoded, 600)
    (prefix, known), = next(iter(prefixes._prefixes.values()))
    assert len(known) == 600 and text.startswith(prefix)
    assert prefixes.decode(text) == decoded and not prefixes.missed(decoded)
    prefixes.learn(b"not the last decoding", 600)
    assert len(prefixes._prefixes) == 1
    with pytest.raises(binascii.Error, match=r"number of data characters \(1025\)"):  # counted over the whole text
        prefixes.decode(text[:-1] + b"A\n")


def test_long_base64_texts_are_not_kept_to_learn_from() -> None:
    prefixes = Base64Prefixes()
    text = binascii.b2a_base64(bytes(40 * 1024))
    assert prefixes.missed(prefixes.decode(text))
    long = binascii.b2a_base64(bytes(50 * 1024))
    assert not prefixes.missed(prefixes.decode(long))
