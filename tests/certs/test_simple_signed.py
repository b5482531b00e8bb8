"""The one-pass reader of the usual multipart/signed shape (certs.simple_signed) against the general readers.

Its rule: whenever it answers, the general readers (split_entity, read_headers, split_signed) give the same
parts, and verify_message gives the same verdict with or without it. The messages are generated around real
signatures: boundaries, quoted and bare parameters in any order, folding, name case, preamble and epilogue,
nested multiparts, signature part headers, LF and CRLF, opaque signing, then byte mutations and random bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from typing import Any

import pytest
from asn1crypto import cms as asn1_cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs import mime, simple_signed, smime_verify
from certs.cms import BadSignature, check_signature, layout_of, read_signed_data
from certs.cms_plan import plan_of, signature_holds
from certs.mime import canonical, read_headers, split_entity, split_signed
from certs.simple_signed import read_simple_signed
from certs.smime_sign import _signature, sign_message
from certs.smime_verify import verify_message
from certs.verdict import Status, Verdict, make_verdict
from tests.certs.conftest import ALICE, CARDIO, MESSAGE, PKI

_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

ENTITIES = (
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\nBonjour,\r\nvoici le compte rendu.\r\n",
    b'Content-Type: multipart/mixed; boundary="inner"\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\ntexte\r\n'
    b"--inner\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    b"--inner--\r\n",
    b"Content-Type: text/plain\r\n\r\nno final line end",
    b"Content-Type: text/plain\r\n\r\n",
    b"Content-Type: text/plain\r\n\r\n--B\r\na line that looks like a delimiter of B\r\n",
)
BOUNDARIES = ("B", "----=_smime_0123456789abcdef", "simple boundary", "=_Part_1'()+_,-./:?", "inner", "x y  ")
PROTOCOLS = (
    '"application/pkcs7-signature"',
    "application/pkcs7-signature",
    '"application/x-pkcs7-signature"',
    '"Application/PKCS7-Signature"',
    '"application/pgp-signature"',
    '""',
)
BLANKS = ("", " ", "\t", "  ")
PART_HEADERS = (
    b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n'
    b'Content-Disposition: attachment; filename="smime.p7s"\r\n',
    b"Content-Type: application/x-pkcs7-signature\r\nContent-Transfer-Encoding: BASE64 \r\n",
    b"content-transfer-encoding: base64\r\ncontent-type:\r\n application/pkcs7-signature\r\n",
    b"Content-Type: application/pkcs7-signature\r\n",
    b"Content-Type: application/pgp-signature\r\nContent-Transfer-Encoding: base64\r\n",
    b"Content-Type: application/pkcs7-signature; name*=utf-8''x.p7s\r\nContent-Transfer-Encoding: base64\r\n",
    b"",
)
FROMS = (f"Dr Alice MARTIN <{ALICE}>", ALICE, f"Cardiologie <{CARDIO}>", f"a@b.example, {ALICE}", "x\xe9 <y@z>")


def _reference(raw: bytes, pki: PKI, now: dt.datetime, monkeypatch: pytest.MonkeyPatch) -> Verdict:
    with monkeypatch.context() as patch:
        patch.setattr(smime_verify, "read_simple_signed", lambda _raw: None)
        return verify_message(raw, pki.trust(), now=now)


def _same_verdict(raw: bytes, pki: PKI, monkeypatch: pytest.MonkeyPatch) -> Verdict:
    now = dt.datetime.now(dt.UTC)
    expected = _reference(raw, pki, now, monkeypatch)
    assert verify_message(raw, pki.trust(), now=now) == expected
    _same_parts(raw)
    return expected


def _same_parts(raw: bytes) -> None:
    """When the reader answers, the message is canonical already, and the general readers give the same parts
    and accept the message as S/MIME."""
    fast = read_simple_signed(raw)
    if fast is None:
        return
    canonical_raw = canonical(raw)
    assert canonical_raw is raw
    header, body = split_entity(canonical_raw)
    headers = read_headers(header)
    assert headers.get_content_type() == "multipart/signed"
    assert str(headers.get_param("protocol", "")).lower() in smime_verify._PKCS7_SIGNATURE
    boundary = headers.get_boundary()
    assert boundary
    parts = split_signed(body, boundary)
    assert parts.signature_type in smime_verify._PKCS7_SIGNATURE
    values = smime_verify._originators(headers)
    assert fast == (parts.content, parts.signature, *values)


@pytest.fixture(scope="module")
def signatures(pki: PKI) -> dict[tuple[int, str], bytes]:
    """Detached signatures of each entity by Alice (RSA) and by the cardiology service (ECDSA)."""
    return {
        (index, name): _signature(entity, issued.certificate, issued.key, issued.chain, True)
        for index, entity in enumerate(ENTITIES)
        for name, issued in (("alice", pki.alice_sign), ("cardio", pki.cardio_sign))
    }


def _rarely(values: tuple[object, ...]) -> st.SearchStrategy[Any]:
    """The first value two times in three, else any other."""
    return st.one_of(st.just(values[0]), st.just(values[0]), st.sampled_from(values[1:]))


def _base64(der: bytes, width: int) -> bytes:
    text = base64.b64encode(der)
    return b"".join(text[i : i + width] + b"\r\n" for i in range(0, len(text), width))


@st.composite
def _messages(draw: st.DrawFn, signatures: dict[tuple[int, str], bytes]) -> bytes:
    index = draw(st.integers(0, len(ENTITIES) - 1))
    signer = draw(st.sampled_from(["alice", "cardio"]))
    boundary = draw(st.sampled_from(BOUNDARIES))
    quoted = draw(st.booleans()) or " " in boundary.strip()
    parameters = [
        "protocol" + draw(_rarely(BLANKS)) + "=" + draw(_rarely(BLANKS)) + draw(_rarely(PROTOCOLS)),
        "micalg=" + draw(st.sampled_from(["sha-256", '"sha-256"', "2.16.840.1.101.3.4.2.1"])),
        "boundary=" + (f'"{boundary}"' if quoted else boundary),
    ]
    extra = st.sampled_from(['name="x"', "boundary=other", "protocol=x", "", "b*=u''x"])
    parameters += draw(st.lists(extra, max_size=2)) if draw(st.integers(0, 3)) == 0 else []
    parameters = draw(st.permutations(parameters))
    kind = draw(_rarely(("multipart/signed", "Multipart/Signed", " multipart/signed", "multipart/mixed")))
    separators = [draw(st.sampled_from([";", "; ", ";\r\n ", ";\r\n\t", " ; "])) for _ in parameters]
    content_type = kind + "".join(sep + parameter for sep, parameter in zip(separators, parameters, strict=True))
    name = draw(st.sampled_from(["Content-Type", "content-type", "CONTENT-TYPE", "Content-Type "]))
    fields = [f"{name}:{draw(st.sampled_from(BLANKS))}{content_type}", "MIME-Version: 1.0", "To: bob@mssante.localhost"]
    own = f"{signer} <{ALICE if signer == 'alice' else CARDIO}>"
    froms = draw(st.lists(_rarely((own, *FROMS)), min_size=1, max_size=2)) if draw(st.integers(0, 7)) else []
    fields += [f"From: {value}" for value in froms]
    if draw(st.integers(0, 3)) == 0:
        fields.append(f"Sender: {draw(_rarely((own, *FROMS)))}")
    if draw(st.booleans()):
        fields.append("Received: from mx.example (mx.example [192.0.2.1])\r\n\tby mx.mssante.localhost; 1 Jan 2024")
    fields = draw(st.permutations(fields))
    header = "".join(field + "\r\n" for field in fields).encode("latin-1")
    delimiter = b"--" + boundary.encode()
    padding = draw(st.sampled_from([b"", b" ", b"\t "]))  # transport padding after a delimiter (RFC 2046 §5.1.1)
    preamble = draw(st.sampled_from([b"", b"This is an S/MIME signed message\r\n", b"\r\n", b"--Bx\r\n"]))
    epilogue = draw(st.sampled_from([b"", b"\r\n", b"epilogue\r\n"]))
    part_header: bytes = draw(_rarely(PART_HEADERS))
    text = _base64(signatures[(index, signer)], draw(st.sampled_from([64, 76, 10_000])))
    message = (
        header + b"\r\n" + preamble + delimiter + padding + b"\r\n" + ENTITIES[index] + b"\r\n" + delimiter
        + b"\r\n" + part_header + b"\r\n" + text + b"\r\n" + delimiter + b"--" + padding + b"\r\n" + epilogue
    )
    line_ends = draw(st.sampled_from(["crlf"] * 6 + ["lf", "lf", "one bare lf", "one bare cr"]))
    if line_ends == "lf":
        message = message.replace(b"\r\n", b"\n")
    elif line_ends != "crlf":
        at = draw(st.integers(0, message.count(b"\r\n") - 1))
        pieces = message.split(b"\r\n")
        pieces[at] += b"\n" if line_ends == "one bare lf" else b"\r"
        message = b"\r\n".join(pieces)
    return message


@pytest.fixture(scope="module")
def usual(pki: PKI, signatures: dict[tuple[int, str], bytes]) -> list[bytes]:
    """Messages as our signer, Thunderbird, Outlook and OpenSSL write them."""
    alice = pki.alice_sign
    der = signatures[(0, "alice")]
    entity = ENTITIES[0]

    def shape(content_type: bytes, preamble: bytes, part_header: bytes, width: int) -> bytes:
        boundary = content_type.rpartition(b"boundary=")[2].strip(b'"\r\n ')
        return (
            f"From: Dr Alice MARTIN <{ALICE}>\r\nTo: bob@mssante.localhost\r\nSubject: x\r\n".encode()
            + b"MIME-Version: 1.0\r\nContent-Type: " + content_type + b"\r\n\r\n" + preamble
            + b"--" + boundary + b"\r\n" + entity + b"\r\n--" + boundary + b"\r\n" + part_header + b"\r\n"
            + _base64(der, width) + b"\r\n--" + boundary + b"--\r\n"
        )

    thunderbird = shape(
        b'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;\r\n'
        b' boundary="------------ms070809010203040506070809"',
        b"This is a cryptographically signed message in MIME format.\r\n\r\n",
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: attachment; filename="smime.p7s"\r\nContent-Description: S/MIME Cryptographic '
        b"Signature\r\n",
        76,
    )
    outlook = shape(
        b'multipart/signed;\r\n\tprotocol="application/x-pkcs7-signature";\r\n\tmicalg=2.16.840.1.101.3.4.2.1;\r\n'
        b'\tboundary="----=_NextPart_000_0001_01DA0000.00000000"',
        b"This is a multipart message in MIME format.\r\n\r\n",
        b'Content-Type: application/x-pkcs7-signature;\r\n\tname="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: attachment;\r\n\tfilename="smime.p7s"\r\n',
        76,
    )
    openssl = shape(
        b'multipart/signed; protocol="application/x-pkcs7-signature"; micalg="sha-256"; '
        b'boundary="----E1F2A3B4C5D6E7F8A9B0C1D2E3F4A5B6"',
        b"This is an S/MIME signed message\r\n\r\n",
        b'Content-Type: application/x-pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n',
        64,
    )
    ours = sign_message(MESSAGE, alice.certificate, alice.key, alice.chain)
    return [ours, thunderbird, outlook, openssl, openssl.replace(b"\r\n", b"\n")]


def test_the_usual_shapes_take_the_one_pass_reader(
    pki: PKI, usual: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    for raw in usual:
        assert read_simple_signed(canonical(raw)) is not None
        assert (read_simple_signed(raw) is None) is (b"\r\n" not in raw)  # LF-only: the general readers
        assert _same_verdict(raw, pki, monkeypatch).status is Status.VALID


def test_a_bare_lf_after_a_known_base64_beginning_is_seen(
    pki: PKI, usual: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader skips the line-end scan over a base64 beginning it knows: the rest is still scanned."""
    ours = usual[0]
    assert verify_message(ours, pki.trust()).valid  # the signer's base64 beginning is learnt
    tail = ours.rindex(b"\r\n", 0, ours.rindex(b"\r\n--"))  # the line end before the last base64 line
    variants = [
        ours[:tail] + b"\n" + ours[tail + 2 :],  # in the base64 text, after the known beginning
        ours[:tail] + ours[tail + 1 :],  # a bare LF, the CR removed
        ours[:-2] + b"\n",  # in the closing delimiter line
        ours + b"epilogue\n",
        ours.replace(b"\r\n", b"\n", 1),  # in the header
        ours.replace(b"\r\n\r\n", b"\n\r\n", 2),  # before the signature part's body
    ]
    for raw in variants:
        assert read_simple_signed(raw) is None
        _same_verdict(raw, pki, monkeypatch)


def test_the_reader_leaves_other_shapes_to_the_general_readers(pki: PKI, usual: list[bytes]) -> None:
    alice = pki.alice_sign
    ours = usual[0]
    others = [
        sign_message(MESSAGE, alice.certificate, alice.key, alice.chain, detached=False),  # opaque
        MESSAGE,  # unsigned
        ours.replace(b"application/pkcs7-signature", b"application/pgp-signature", 1),
        ours.replace(b'; name="smime.p7s"', b"; name*=utf-8''smime.p7s", 1),  # RFC 2231 in the part: fine
        b"\r\n" + ours,  # no header block
        b" " + ours,  # a continuation line first
        ours.replace(b"To:", b"\x0bTo:", 1),
        ours.replace(b"To:", b"T\ro:", 1),
        ours.replace(b"micalg=sha-256;", b"micalg=sha-256; boundary*=utf-8''x;", 1),
        ours.rpartition(b"\r\n--")[0],  # no closing delimiter
    ]
    answers = [read_simple_signed(raw) for raw in others]
    assert answers[3] is not None  # a part header the email package reads is still read (and cached)
    assert [answer is None for index, answer in enumerate(answers) if index != 3] == [True] * (len(others) - 1)
    for raw in others:
        _same_parts(raw)


@_SETTINGS
@given(data=st.data())
def test_generated_shapes_get_the_general_verdict(
    pki: PKI, signatures: dict[tuple[int, str], bytes], monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    _same_verdict(data.draw(_messages(signatures)), pki, monkeypatch)


@_SETTINGS
@given(data=st.data())
def test_mutated_shapes_get_the_general_verdict(
    pki: PKI, signatures: dict[tuple[int, str], bytes], monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    message = bytearray(data.draw(_messages(signatures)))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(message) - 1))
        message[index] = data.draw(st.sampled_from([*b"\r\n\t :;=\"-ABaz+/", data.draw(st.integers(0, 255))]))
    _same_verdict(bytes(message), pki, monkeypatch)


@_SETTINGS
@given(st.binary(max_size=400), st.sampled_from([b"", b"Content-Type: multipart/signed; boundary=B\r\n\r\n--B\r\n"]))
def test_random_bytes_get_the_general_verdict(
    pki: PKI, monkeypatch: pytest.MonkeyPatch, noise: bytes, head: bytes
) -> None:
    _same_verdict(head + noise, pki, monkeypatch)


def test_many_seeded_variants_of_real_messages(pki: PKI, usual: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic slices and splices of real messages (delimiters moved, parts cut, pieces repeated)."""
    chooser = random.Random(4)
    statuses = set()
    for _ in range(300):
        raw = bytearray(chooser.choice(usual))
        for _ in range(chooser.randint(1, 3)):
            start = chooser.randrange(len(raw))
            stop = min(len(raw), start + chooser.randint(0, 80))
            action = chooser.choice(["cut", "repeat", "move"])
            piece = raw[start:stop]
            if action == "cut":
                del raw[start:stop]
            elif action == "repeat":
                raw[start:start] = piece
            else:
                del raw[start:stop]
                at = chooser.randrange(len(raw) + 1)
                raw[at:at] = piece
        statuses.add(_same_verdict(bytes(raw), pki, monkeypatch).status)
    assert Status.MALFORMED in statuses and Status.INVALID_SIGNATURE in statuses


def test_make_verdict_is_the_dataclass(pki: PKI) -> None:
    signer = smime_verify.signer_of(pki.alice_sign.certificate)
    for arguments in ((Status.VALID, "why", signer, False, b"x"), (Status.ADDRESS_MISMATCH, "", None, True, None)):
        made, built = make_verdict(*arguments), Verdict(*arguments)
        assert made == built and hash(made) == hash(built) and vars(made) == vars(built)
        assert made.as_dict() == built.as_dict() and repr(made) == repr(built)
        with pytest.raises(AttributeError):
            made.reason = "changed"  # type: ignore[misc]


def _flip(der: bytes, region: tuple[int, int]) -> bytes:
    changed = bytearray(der)
    changed[region[0]] ^= 0x01
    return bytes(changed)


def test_signature_holds_when_check_signature_passes(pki: PKI) -> None:
    """The plan of a layout checks a signature as check_signature does, without building the SignedData."""
    entity = ENTITIES[0]
    for issued in (pki.alice_sign, pki.cardio_sign):  # RSA and ECDSA
        der = _signature(entity, issued.certificate, issued.key, issued.chain, True)
        assert read_signed_data(der) is not None  # the walker records the layout
        layout = layout_of(der)
        assert layout is not None
        plan = plan_of(layout)
        assert plan is not None and plan_of(layout) is plan and plan.certificate == issued.certificate
        assert layout.digest is not None
        for variant in (der, _flip(der, plan.signature), _flip(der, layout.digest), _flip(der, plan.attributes)):
            assert layout_of(variant) in (layout, None)
            signed = read_signed_data(variant)
            for content in (entity, entity + b"x"):
                try:
                    check_signature(signed.signers[0], content, signed.content_type) if signed else None
                    expected = signed is not None
                except BadSignature:
                    expected = False
                assert (layout_of(variant) is layout and signature_holds(plan, variant, content)) is expected


def test_signatures_without_signed_attributes_have_no_plan(pki: PKI) -> None:
    alice = pki.alice_sign
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(ENTITIES[0])
        .add_signer(alice.certificate, alice.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.NoAttributes])
    )
    assert read_signed_data(der) is not None
    layout = layout_of(der)
    assert layout is not None and plan_of(layout) is None


def test_long_content_types_are_left_to_the_general_readers(
    pki: PKI, usual: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Content-Type pattern is only run on short values: the work per message stays bounded."""
    ours = usual[0]
    for extra in (b"; x=y" * 100, b"; protocol=a" * 20_000, b"; boundary=" + b"b" * 100_000):
        raw = ours.replace(b"micalg=sha-256;", b"micalg=sha-256" + extra + b";", 1)
        assert read_simple_signed(raw) is None
        _same_verdict(raw, pki, monkeypatch)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"From", b"fROM", b"Sender", b"Content-Type", b"content-transfer-encoding",
                                 b"To", b"X-From", b"Content-Typo", b":", b" ", b"\t", b"\r\n", b"\r\n ", b"a@b",
                                 b"\r"]), max_size=30))
def test_the_field_pattern_finds_what_certs_mime_finds(pieces: list[bytes]) -> None:
    lines = b"\r\n" + b"".join(pieces) + b"\r\n"
    found = [(name, value) for name, value in mime._FIELD.findall(lines)]
    assert [(b"from" if f else b"sender" if s else b"content-type" if c else b"content-transfer-encoding", v)
            for f, s, c, v in simple_signed._FIELD.findall(lines)] == [(n.lower(), v) for n, v in found]


def test_a_valid_signature_over_another_content_type_stays_malformed(
    pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed attributes and encapsulated content typed other than id-data, correctly signed: the plan of its
    layout must not take it for a data signature (RFC 8551 signs data)."""
    alice = pki.alice_sign
    info = asn1_cms.ContentInfo.load(_signature(ENTITIES[0], alice.certificate, alice.key, alice.chain, True))
    signed = info["content"]
    signed["encap_content_info"]["content_type"] = "1.2.840.113549.1.9.16.1.4"
    signer = signed["signer_infos"][0]
    for attribute in signer["signed_attrs"]:
        if attribute["type"].native == "content_type":
            attribute["values"] = [asn1_cms.ContentType("1.2.840.113549.1.9.16.1.4")]
    attributes = signer["signed_attrs"].dump(force=True)
    assert isinstance(alice.key, rsa.RSAPrivateKey)
    signer["signature"] = alice.key.sign(b"\x31" + attributes[1:], padding.PKCS1v15(), hashes.SHA256())
    der = info.dump(force=True)
    message = (
        f"From: {ALICE}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; "
        'protocol="application/pkcs7-signature"; micalg=sha-256; boundary="B"\r\n\r\n--B\r\n'
    ).encode() + ENTITIES[0] + b"\r\n--B\r\n" + PART_HEADERS[0] + b"\r\n" + _base64(der, 76) + b"\r\n--B--\r\n"
    assert read_simple_signed(message) is not None
    for _ in range(2):  # the second from the layout cache
        verdict = _same_verdict(message, pki, monkeypatch)
        assert verdict.status is Status.MALFORMED and "not data" in verdict.reason
