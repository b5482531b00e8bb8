"""Health PKI, S/MIME and TLS identities. Imports nothing else of ours.

The entry points the gateway calls (see ``docs/certs.md``):

* :func:`verify_message` → :class:`Verdict` for every received message, against a :class:`TrustStore`;
* :func:`add_result` to strip forged ``Authentication-Results`` for our authserv-id and prepend the verdict's;
* :func:`tls_login` / :func:`certificate_login` → :class:`CertificateLogin` for SASL EXTERNAL;
* :func:`certs.tls.server_context` / :func:`certs.tls.client_context` for every listener and peer connection.
"""

from __future__ import annotations

from certs.auth_results import add_result, remove_ours
from certs.identity import CertificateLogin, certificate_login, tls_login
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
    "add_result",
    "certificate_login",
    "decrypt_message",
    "encrypt_message",
    "remove_ours",
    "sign_message",
    "tls_login",
    "verify_message",
]
