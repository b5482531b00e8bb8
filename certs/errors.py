"""The one error base of ``certs`` and its subclasses.

Verification never raises: a bad signature, a malformed CMS structure or an untrusted chain is a
:class:`certs.verdict.Verdict`. These errors are for the operator's mistakes and for broken local state::

    CertsError
    ├── PKIError                 the CA hierarchy on disk
    │   ├── HierarchyMissing     ``mssante pki init`` was not run (or the directory is wrong)
    │   ├── HierarchyExists      refusing to overwrite an existing hierarchy
    │   └── PassphraseError      the CA keys cannot be decrypted with the passphrase given
    ├── ProfileError             a subject or key does not fit the certificate profile (bad idNat, EC encryption key)
    ├── SMIMEError               building or opening an S/MIME message
    │   ├── MessageFormatError   the input is not a message we can sign, encrypt or decrypt
    │   ├── DecryptionError      no recipient matches our key, or the content does not decrypt
    │   └── CMSFormatError       a CMS/ASN.1 structure we cannot read (verification turns it into a verdict)
    └── OCSPRequestError         an OCSP request that cannot be parsed (the responder answers malformedRequest)
"""

from __future__ import annotations


class CertsError(Exception):
    """Base of every error raised by ``certs``."""


class PKIError(CertsError):
    pass


class HierarchyMissing(PKIError):
    pass


class HierarchyExists(PKIError):
    pass


class PassphraseError(PKIError):
    pass


class ProfileError(CertsError):
    pass


class SMIMEError(CertsError):
    pass


class MessageFormatError(SMIMEError):
    pass


class DecryptionError(SMIMEError):
    pass


class OCSPRequestError(CertsError):
    pass


class CMSFormatError(SMIMEError):
    pass
