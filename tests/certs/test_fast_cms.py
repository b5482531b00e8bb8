"""The DER walker and the layout cache of certs.cms against asn1crypto, the reference reader.

The rule they must keep: whenever the walker answers, the reference gives the same SignedData (and does not
raise); when it cannot, it answers None and the reference decides. Checked on our signatures, OpenSSL's (issuer
and serial or subject key identifier, detached or opaque, DER or BER), mutated and random bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs import cms
from certs.cms import SignedData, parse_signed_data, parse_signed_data_asn1, read_signed_data, stable_prefix
from certs.der import DERError, children, expect, tlv
from certs.errors import CMSFormatError
from certs.issue import Issued
from certs.smime_sign import sign_message
from tests.certs.conftest import MESSAGE, PKI, chain_files, openssl, write

_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _der(issued: Issued, *, detached: bool = True, message: bytes = MESSAGE) -> bytes:
    signed = sign_message(message, issued.certificate, issued.key, issued.chain, detached=detached)
    if not detached:
        return base64.b64decode(signed.partition(b"\r\n\r\n")[2])
    part = signed[signed.index(b'filename="smime.p7s"\r\n\r\n') :].partition(b"\r\n\r\n")[2]
    return base64.b64decode(part.partition(b"\r\n--")[0])


def _walked(der: bytes) -> SignedData | None:
    """The walker alone, without the layout cache."""
    try:
        return cms._walk(der)[0]
    except Exception:
        return None


def _reference(der: bytes) -> SignedData | CMSFormatError:
    try:
        return parse_signed_data_asn1(der)
    except CMSFormatError as error:
        return error


def _agrees(der: bytes, read: Callable[[bytes], SignedData | None] = _walked) -> SignedData | None:
    """The walker's answer, after checking that the reference gives the same one."""
    fast = read(der)
    if fast is not None:
        assert fast == _reference(der)
    return fast


def _openssl_der(pki: PKI, tmp_path: Path, *args: str) -> bytes:
    cert, key = chain_files(tmp_path, pki.alice_sign)
    body = write(tmp_path / "body.txt", b"Content-Type: text/plain\r\n\r\nSigned by OpenSSL\r\n")
    return openssl("cms", "-sign", "-in", body, "-signer", cert, "-inkey", key, "-outform", "DER", *args).stdout


def test_tlv_reads_definite_lengths() -> None:
    assert tlv(b"\x04\x03abc", 0, 5) == (0x04, 2, 5)
    long = b"\x04\x81\x80" + bytes(128)
    assert tlv(long, 0, len(long)) == (0x04, 3, 131)
    assert expect(b"\x30\x00", 0, 2, 0x30) == (2, 2)
    assert children(b"\x02\x01\x01\x05\x00", 0, 5) == [(0x02, 0, 2, 3), (0x05, 3, 5, 5)]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x04", "truncated"),
        (b"\x1f\x01\x00", "high tag"),
        (b"\x30\x80\x00\x00", "indefinite"),
        (b"\x04\x84\x00\x00\x00\x01\x00", "length of 4 bytes"),
        (b"\x04\x81\x05abcde", "non-minimal"),
        (b"\x04\x82\x00\x80" + bytes(128), "non-minimal"),
        (b"\x04\x05abc", "runs past"),
    ],
)
def test_tlv_refuses_what_is_not_plain_der(data: bytes, words: str) -> None:
    with pytest.raises(DERError, match=words):
        tlv(data, 0, len(data))


def test_tlv_stays_inside_its_parent() -> None:
    with pytest.raises(DERError, match="runs past"):
        tlv(b"\x04\x03abc", 0, 4)
    with pytest.raises(DERError, match="expected 0x31"):
        expect(b"\x30\x00", 0, 2, 0x31)
    with pytest.raises(DERError):
        children(b"\x02\x01\x01\x05", 0, 4)


@pytest.mark.parametrize("detached", [True, False], ids=["detached", "opaque"])
@pytest.mark.parametrize("signer", ["alice_sign", "cardio_sign"], ids=["rsa", "ecdsa"])
def test_the_walker_reads_our_signatures_as_the_reference(pki: PKI, signer: str, detached: bool) -> None:
    der = _der(getattr(pki, signer), detached=detached)
    walked = _agrees(der)
    assert walked is not None  # the usual shape is the walker's
    assert walked.signers[0].signer_certificate == getattr(pki, signer).certificate
    assert (walked.content is None) is detached


@pytest.mark.parametrize(
    "args",
    [(), ("-nodetach",), ("-keyid",), ("-nodetach", "-keyid"), ("-nocerts",), ("-noattr",), ("-stream",)],
    ids=["detached", "opaque", "keyid", "opaque-keyid", "nocerts", "noattr", "ber-stream"],
)
def test_openssl_signatures_read_as_the_reference(pki: PKI, tmp_path: Path, args: tuple[str, ...]) -> None:
    der = _openssl_der(pki, tmp_path, *args)
    walked = _agrees(der)
    assert parse_signed_data(der) == parse_signed_data_asn1(der)
    if "-stream" in args and "-nodetach" not in args and der[1] == 0x80:
        assert walked is None  # indefinite lengths (BER) are the reference's
    elif "-stream" not in args:
        assert walked is not None
    if "-keyid" in args and walked is not None:
        assert walked.signers[0].signer_certificate == pki.alice_sign.certificate


def test_rsassa_pss_goes_to_the_reference(pki: PKI, tmp_path: Path) -> None:
    der = _openssl_der(pki, tmp_path, "-keyopt", "rsa_padding_mode:pss")
    assert _walked(der) is None
    assert parse_signed_data(der).signers[0].pss is not None


def test_other_content_types_and_garbage_go_to_the_reference(pki: PKI) -> None:
    data = asn1_cms.ContentInfo({"content_type": "data", "content": b"not a signature"}).dump()
    assert _walked(data) is None
    with pytest.raises(CMSFormatError, match="not signed-data"):
        parse_signed_data(data)
    der = _der(pki.alice_sign)
    for bad in (der + b"\x00", der[:-1], b"\x30\x82\xff\xff random"):
        assert read_signed_data(bad) is None
        with pytest.raises(CMSFormatError):
            parse_signed_data(bad)


@pytest.fixture(scope="module")
def signatures(pki: PKI) -> tuple[bytes, ...]:
    return _der(pki.alice_sign), _der(pki.cardio_sign), _der(pki.alice_sign, detached=False)


@_SETTINGS
@given(st.data())
def test_mutated_signatures_walk_as_the_reference(signatures: tuple[bytes, ...], data: st.DataObject) -> None:
    der = bytearray(data.draw(st.sampled_from(signatures)))
    for _ in range(data.draw(st.integers(1, 3))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(der)))
    _agrees(bytes(der[:cut]))
    _agrees(bytes(der))
    _agrees(bytes(der), read_signed_data)  # through the layout cache as well


@_SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes_walk_as_the_reference(data: bytes) -> None:
    _agrees(data)
    _agrees(b"\x30\x82" + len(data).to_bytes(2, "big") + data)


def test_repeat_signatures_are_read_from_their_layout(pki: PKI) -> None:
    first = _der(pki.alice_sign)
    assert _agrees(first, read_signed_data) is not None
    assert cms._LAYOUTS.find(first) is not None
    second = _der(pki.alice_sign, message=MESSAGE.replace(b"Bonjour", b"Bonsoir"))
    assert len(second) == len(first) and second != first
    layout = cms._LAYOUTS.find(second)
    assert layout is not None  # only the signing time, the digest and the signature differ
    read = _agrees(second, layout.read)
    assert read is not None and read != _reference(first)
    assert 0 < stable_prefix(second) < len(second)
    assert second[: stable_prefix(second)] == first[: stable_prefix(first)]


def test_a_layout_never_matches_other_structure_bytes(pki: PKI) -> None:
    der = _der(pki.alice_sign)
    assert read_signed_data(der) is not None
    layout = cms._LAYOUTS.find(der)
    assert layout is not None
    free: set[int] = set()
    ends = [offset for offset, _piece in layout.segments[1:]] + [len(der)]
    for (offset, piece), following in zip(layout.segments, ends, strict=True):
        free.update(range(offset + len(piece), following))
    for index in (0, 1, 40, len(der) // 2, len(der) - 300):
        if index in free:
            continue
        changed = bytearray(der)
        changed[index] ^= 0x01
        assert not layout.matches(bytes(changed))


def test_garbage_in_a_signing_time_reads_the_same_in_both_readers(pki: PKI) -> None:
    """The layout lets the signing time vary without looking at it: the reference does not look either."""
    der = _der(pki.alice_sign)
    assert read_signed_data(der) is not None
    layout = cms._LAYOUTS.find(der)
    assert layout is not None
    start = layout.segments[0][0] + len(layout.segments[0][1])
    end = layout.segments[1][0]
    assert end - start == 13  # the UTCTime value YYMMDDhhmmssZ
    garbage = der[:start] + b"not a time!!!" + der[end:]
    assert cms._LAYOUTS.find(garbage) is layout
    assert layout.read(garbage) == _reference(garbage)


def test_signer_identified_by_another_encoding_of_its_issuer_goes_to_the_reference(pki: PKI) -> None:
    der = _der(pki.alice_sign)
    issuer = pki.alice_sign.certificate.issuer.public_bytes()
    # PrintableString C=FR written as UTF8String: the same name for RFC 5280 §7.1, other DER
    index = der.rindex(issuer)
    country = der.index(b"\x13\x02FR", index, index + len(issuer))
    changed = der[:country] + b"\x0c" + der[country + 1 :]
    assert _walked(changed) is None
    assert parse_signed_data(changed).signers[0].signer_certificate == pki.alice_sign.certificate


def test_opaque_signatures_leave_no_layout(pki: PKI) -> None:
    """Their length follows their content: a layout would never serve again, and would push useful ones out."""
    der = _der(pki.alice_sign, detached=False)
    assert _agrees(der, read_signed_data) is not None
    assert cms._LAYOUTS.find(der) is None
    assert stable_prefix(der) == 0
