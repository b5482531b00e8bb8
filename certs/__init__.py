"""Health PKI, S/MIME and TLS identities. Imports nothing else of ours.

The entry points the gateway calls (see ``docs/certs.md``):

* :func:`verify_message` → :class:`Verdict` for every received message, against a :class:`TrustStore`;
* :func:`certificate_login` → :class:`CertificateLogin` for SASL EXTERNAL with a TLS client certificate;
* :func:`certs.tls.server_context` / :func:`certs.tls.client_context` for every listener and peer connection.
"""

from __future__ import annotations

from certs.identity import CertificateLogin, certificate_login
from certs.smime_crypt import decrypt_message, encrypt_message
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.trust import TrustStore
from certs.verdict import Signer, Status, Verdict

__all__ = [
    "CertificateLogin",
    "Signer",
    "Status",
    "TrustStore",
    "Verdict",
    "certificate_login",
    "decrypt_message",
    "encrypt_message",
    "sign_message",
    "verify_message",
]
