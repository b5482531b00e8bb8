"""The cached structure parser: correct offsets on real shapes, and bounded on arbitrary input."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mail_gateway.mime.headers import parse_content_type, parse_fields, split_header_body
from mail_gateway.mime.structure import MAX_DEPTH, analyse

MULTIPART = (
    b"From: \"Dr A. Martin\" <alice@mssante.localhost>\r\nTo: bob@mssante.localhost, carol@x.example\r\n"
    b"Subject: =?utf-8?q?R=C3=A9sultats?=\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"BOUND\"\r\n\r\n"
    b"preamble\r\n--BOUND\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n"
    b"--BOUND\r\nContent-Type: application/pdf; name=cr.pdf\r\nContent-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"cr.pdf\"\r\n\r\nJVBERi0=\r\n"
    b"--BOUND\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\nSubject: inner\r\n\r\ninner body\r\n"
    b"--BOUND--\r\nepilogue\r\n"
)


def test_multipart_offsets_and_envelope() -> None:
    result = analyse(MULTIPART)
    env = result["envelope"]
    assert env["subject"] == "=?utf-8?q?R=C3=A9sultats?="
    assert env["from"] == [["Dr A. Martin", None, "alice", "mssante.localhost"]]
    assert env["sender"] == env["from"] and env["reply-to"] == env["from"]
    assert [a[2] for a in env["to"]] == ["bob", "carol"]
    top = result["part"]
    assert (top["type"], top["subtype"], top["params"]["boundary"]) == ("multipart", "mixed", "BOUND")
    text, pdf, inner = top["parts"]
    start, end = text["body"]
    assert MULTIPART[start:end] == b"Bonjour"
    assert list(pdf["disposition"]) == ["attachment", {"filename": "cr.pdf"}]
    assert MULTIPART[pdf["body"][0] : pdf["body"][1]] == b"JVBERi0="
    assert pdf["encoding"] == "base64"
    assert inner["message"]["envelope"]["subject"] == "inner"
    ib = inner["message"]["part"]["body"]
    assert MULTIPART[ib[0] : ib[1]] == b"inner body"  # the CRLF before a delimiter belongs to it


def test_defaults_and_broken_content_type() -> None:
    assert parse_content_type(None) == ("text", "plain", {"charset": "us-ascii"})
    assert parse_content_type("garbage") == ("text", "plain", {"charset": "us-ascii"})
    assert parse_content_type('Text/HTML; Charset="UTF-8"; x="a\\"b"') == (
        "text", "html", {"charset": "UTF-8", "x": 'a"b'})


def test_header_only_and_folding() -> None:
    raw = b"Subject: a\r\n b\r\nX: 1\r\n"
    assert split_header_body(raw) == (len(raw), len(raw))
    assert parse_fields(raw) == [("subject", "a b"), ("x", "1")]


def test_deep_nesting_is_bounded() -> None:
    raw = b"Content-Type: message/rfc822\r\n\r\n" * (MAX_DEPTH + 20) + b"end"
    depth, node = 0, analyse(raw)["part"]
    while "message" in node:
        node = node["message"]["part"]
        depth += 1
    assert depth == MAX_DEPTH


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = analyse(raw)
    assert result["size"] == len(raw)
    start, end = result["part"]["body"]
    assert 0 <= start <= end <= len(raw)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"--B\r\n", b"--B--\r\n", b"\r\n", b"Content-Type: multipart/mixed; boundary=B\r\n",
                                 b"x", b"Content-Type: message/rfc822\r\n", b":", b"\n"]), max_size=60))
def test_mime_shaped_noise_never_raises(chunks: list[bytes]) -> None:
    raw = b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + b"".join(chunks)
    analyse(raw)


def reference_parse_fields(block: bytes) -> list[tuple[str, str]]:
    """The first, plain implementation of parse_fields: the optimised one must give the same answer."""
    fields: list[tuple[str, str]] = []
    current: list[bytes] | None = None
    name = b""
    for line in block.splitlines():
        if line[:1] in (b" ", b"\t") and current is not None:
            current.append(line)
            continue
        if current is not None:
            value = re.sub(rb"\r?\n(?=[ \t])", b"", b"\r\n".join(current)).strip()
            fields.append((name.decode("ascii").lower(), value.decode("utf-8", "surrogateescape")))
        colon = line.find(b":")
        if colon <= 0 or any(c <= 32 or c > 126 for c in line[:colon].rstrip(b" \t")):
            current = None
            continue
        name = line[:colon].rstrip(b" \t")
        current = [line[colon + 1 :]]
    if current is not None:
        value = re.sub(rb"\r?\n(?=[ \t])", b"", b"\r\n".join(current)).strip()
        fields.append((name.decode("ascii").lower(), value.decode("utf-8", "surrogateescape")))
    return fields


_HEADER_PIECES = st.sampled_from(
    [b"Subject", b"X-Y", b":", b" ", b"\t", b"\r\n", b"\n", b"\r", b"value", b"\xc3\xa9", b"\xff", b"\x00", b"a b",
     b" :x", b"\x7f", b"~"]
)


@settings(max_examples=400)
@given(st.lists(_HEADER_PIECES, max_size=40))
def test_parse_fields_matches_the_reference(pieces: list[bytes]) -> None:
    block = b"".join(pieces)
    assert parse_fields(block) == reference_parse_fields(block)
