"""Errors of the mail gateway.

GatewayError
├── StoreError                 the mail store refused or failed an operation
│   ├── MailboxExists          creating a mailbox whose address is taken
│   ├── MailboxNotFound        no local mailbox has that address
│   ├── FolderNotFound         the folder does not exist in that mailbox
│   └── InvalidMailbox         a mailbox field is not acceptable (address, kind, owner id)
└── DeliveryRefused            the pipeline refused a message; carries the SMTP reply (code, enhanced, text)

Protocol layers turn these into wire replies: SMTP through :mod:`mail_gateway.smtp.replies`, IMAP through its
own error tree.
"""

from __future__ import annotations


class GatewayError(Exception):
    pass


class StoreError(GatewayError):
    pass


class MailboxExists(StoreError):
    pass


class MailboxNotFound(StoreError):
    pass


class FolderNotFound(StoreError):
    pass


class InvalidMailbox(StoreError):
    pass


class DeliveryRefused(GatewayError):
    def __init__(self, code: int, enhanced: str, text: str) -> None:
        super().__init__(f"{code} {enhanced} {text}")
        self.code = code
        self.enhanced = enhanced
        self.text = text

    @property
    def reply(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"
