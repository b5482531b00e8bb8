"""Errors of the patient inbox. Every message is a French sentence the patient (or the operator) can act on.

PatientInboxError
├── AccountError                 a patient account operation was refused
│   ├── InvalidIdentity          INS, names, birth date or email are not acceptable
│   ├── AccountExists            an account already exists for this INS
│   ├── AccountNotFound          no account for this INS or address (the web shows the same 404 / generic error)
│   └── LifecycleRefused         the state machine refuses the transition (carries the policy's code)
├── AuthenticationFailed         activation code, password or one-time code did not match (generic on purpose)
│   └── AccountLocked            too many failures: locked for a while
├── ConversationError
│   ├── NotFound                 the conversation, message or attachment does not exist for this patient (404)
│   └── ReplyRefused             the conversation rules refuse the reply (carries the policy's code)
└── ReplyInvalid                 the reply form is not acceptable (empty, too big, too many attachments)
"""

from __future__ import annotations


class PatientInboxError(Exception):
    """Base of every patient inbox error."""


class AccountError(PatientInboxError):
    pass


class InvalidIdentity(AccountError):
    pass


class AccountExists(AccountError):
    pass


class AccountNotFound(AccountError):
    pass


class LifecycleRefused(AccountError):
    def __init__(self, code: str, sentence: str) -> None:
        super().__init__(sentence)
        self.code = code
        self.sentence = sentence


class AuthenticationFailed(PatientInboxError):
    pass


class AccountLocked(AuthenticationFailed):
    pass


class ConversationError(PatientInboxError):
    pass


class NotFound(ConversationError):
    pass


class ReplyRefused(ConversationError):
    def __init__(self, code: str, sentence: str) -> None:
        super().__init__(sentence)
        self.code = code
        self.sentence = sentence


class ReplyInvalid(PatientInboxError):
    pass
