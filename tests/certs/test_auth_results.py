"""Authentication-Results: forged fields claiming our authserv-id are removed, ours is added, nothing else moves."""

from __future__ import annotations

from certs.auth_results import add_result, authserv_id, remove_ours
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.verdict import Signer, Status, Verdict
from tests.certs.conftest import MESSAGE, PKI

OURS = "mx.mssante.localhost"


def test_authserv_id_ignores_comments_and_case() -> None:
    assert authserv_id(" (comment) MX.mssante.localhost; smime=pass") == OURS
    assert authserv_id("other.example 1; none") == "other.example"
    assert authserv_id("") == ""


def test_forged_field_removed_and_others_kept(pki: PKI) -> None:
    issued = pki.alice_sign
    signed = sign_message(MESSAGE, issued.certificate, issued.key, issued.chain)
    forged = (
        b"Authentication-Results: mx.mssante.localhost;\r\n\tsmime=pass body.smime-identifier=ceo@x\r\n"
        b"Authentication-Results: relay.other.example; spf=pass\r\n" + signed
    )
    verdict = verify_message(forged, pki.trust())
    assert verdict.status is Status.VALID  # extra outer header fields do not touch the signature
    result = add_result(forged, verdict, OURS)
    assert b"ceo@x" not in result
    assert b"Authentication-Results: relay.other.example; spf=pass\r\n" in result
    assert result.startswith(b"Authentication-Results: mx.mssante.localhost; smime=pass")
    assert all(len(line) <= 78 for line in result.split(b"\r\n\r\n")[0].split(b"\r\n")[:3])
    assert result.endswith(signed) and verify_message(result, pki.trust()).status is Status.VALID
    assert remove_ours(result, OURS).endswith(signed)
    assert not remove_ours(result, OURS).lower().startswith(b"authentication-results: mx.")


def test_lf_messages_keep_lf_and_non_ascii_names_are_folded_to_ascii(pki: PKI) -> None:
    lf = b"From: a@b.example\nSubject: x\n\nbody\n"
    verdict = verify_message(lf, pki.trust())
    result = add_result(lf, verdict, OURS)
    assert b"\r" not in result and result.endswith(lf)
    assert "smime=none" in result.decode()
    signer = Signer("PER", "810001234567", "Hélène DUPONT", ("h@x.example",), "AB", "s", "i")
    header = Verdict(Status.EXPIRED, "certificate of Hélène (expired)", signer).authentication_results(OURS)
    assert header.isascii() and "Helene" in header and "smime=fail" in header
