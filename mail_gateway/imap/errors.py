"""Errors of the IMAP server; each one carries its wire reply.

ImapError                      status, optional response code (RFC 3501 §7.1, RFC 5530) and a human sentence
├── ProtocolError              tagged BAD: the command is not valid IMAP (RFC 3501 §7.1.3)
│   └── LimitExceeded          tagged BAD with [LIMIT] or [TOOBIG]; ``disconnect`` says if a BYE follows
├── CommandRefused             tagged NO: valid command, refused (RFC 3501 §7.1.2)
│   ├── NoSuchFolder           [NONEXISTENT] (RFC 5530 §3)
│   ├── FolderExists           [ALREADYEXISTS]
│   ├── NotPermitted           [CANNOT] or [NOPERM]
│   ├── OverQuota              [OVERQUOTA]
│   └── AuthenticationFailed   [AUTHENTICATIONFAILED], [UNAVAILABLE] or [PRIVACYREQUIRED]
└── ConnectionClosing          untagged BYE, then the connection closes (RFC 3501 §7.1.5)

The server turns any other exception into ``NO [SERVERBUG]`` after logging it: a traceback never reaches a
client.
"""

from __future__ import annotations


class ImapError(Exception):
    status = "BAD"
    default_code: str | None = None

    def __init__(self, text: str, code: str | None = None, *, disconnect: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.code = code if code is not None else self.default_code
        self.disconnect = disconnect


class ProtocolError(ImapError):
    status = "BAD"


class LimitExceeded(ProtocolError):
    default_code = "LIMIT"


class CommandRefused(ImapError):
    status = "NO"


class NoSuchFolder(CommandRefused):
    default_code = "NONEXISTENT"


class FolderExists(CommandRefused):
    default_code = "ALREADYEXISTS"


class NotPermitted(CommandRefused):
    default_code = "CANNOT"


class OverQuota(CommandRefused):
    default_code = "OVERQUOTA"


class AuthenticationFailed(CommandRefused):
    default_code = "AUTHENTICATIONFAILED"


class ConnectionClosing(ImapError):
    status = "BYE"
