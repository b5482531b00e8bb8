"""S/MIME verdicts on delivery, recorded as an ``Authentication-Results`` field (RFC 8601, method ``smime``).

Every message loses any ``Authentication-Results`` field that claims our authserv-id (a sender could forge a
"pass"); a message that carries an S/MIME signature (``multipart/signed`` or ``application/pkcs7-mime``) gets
its verdict from :func:`certs.verify_message` at the top of its header, where IMAP clients see it. The verdict
travels with the stored message bytes. Runs in a worker thread (CMS parsing and signature checks are CPU work).
"""

from __future__ import annotations

from certs import TrustStore, add_result, remove_ours, verify_message
from mail_gateway.mime.headers import first, parse_content_type

SIGNED_TYPES = frozenset({("multipart", "signed"), ("application", "pkcs7-mime"), ("application", "x-pkcs7-mime")})


class SmimeAnnotator:
    def __init__(self, authserv_id: str, trust: TrustStore | None = None) -> None:
        self.authserv_id = authserv_id
        self.trust = trust

    def needs_work(self, fields: list[tuple[str, str]]) -> bool:
        """Cheap test on the parsed header: is there a forged field to remove or a signature to check?"""
        if any(name == "authentication-results" for name, _ in fields):
            return True
        kind, sub, _ = parse_content_type(first(fields, "content-type"))
        return self.trust is not None and (kind, sub) in SIGNED_TYPES

    def annotate(self, raw: bytes, fields: list[tuple[str, str]]) -> bytes:
        kind, sub, _ = parse_content_type(first(fields, "content-type"))
        if self.trust is not None and (kind, sub) in SIGNED_TYPES:
            return add_result(raw, verify_message(raw, self.trust), self.authserv_id)
        return remove_ours(raw, self.authserv_id)
