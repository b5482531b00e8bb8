"""Every SMTP reply the gateway sends, with its RFC 3463 enhanced status code and a sentence a person can act on.

aiosmtpd writes some replies of its own without enhanced codes; :func:`enhance` adds the right one so that
``ENHANCEDSTATUSCODES`` (RFC 2034) holds for every reply after the greeting.
"""

from __future__ import annotations

import re

from mail_gateway.errors import DeliveryRefused

# RFC 2034 §4 / RFC 3463 §3: default enhanced codes for basic codes aiosmtpd emits bare.
_DEFAULT_ENHANCED = {
    "211": "2.0.0", "214": "2.0.0", "221": "2.0.0", "235": "2.7.0", "250": "2.0.0", "251": "2.1.5",
    "252": "2.5.0", "421": "4.7.0", "450": "4.2.0", "451": "4.3.0", "452": "4.5.3", "454": "4.7.0",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4", "530": "5.7.0",
    "534": "5.7.9", "535": "5.7.8", "538": "5.7.11", "550": "5.0.0", "551": "5.1.6", "552": "5.3.4",
    "553": "5.1.3", "554": "5.7.0", "555": "5.5.4",
}
# Clearer sentences for aiosmtpd's terse texts (same meaning, said for a person).
_REWRITE = {
    "530 Must issue a STARTTLS command first": "530 5.7.0 Must issue a STARTTLS command first (RFC 3207)",
    "530 5.7.0 Authentication required": "530 5.7.0 Authentication required: log in with your mailbox first",
    "552 Error: message size exceeds fixed maximum message size": (
        "552 5.3.4 The declared message size exceeds this server's limit"
    ),
    "552 Error: Too much mail data": "552 5.3.4 The message exceeds this server's size limit; nothing was stored",
    "500 Line too long (see RFC5321 4.5.3.1.6)": (
        "500 5.5.2 A line of the message exceeds 1000 octets (RFC 5321 section 4.5.3.1.6); nothing was stored"
    ),
    "554 Command refused due to lack of security": "554 5.7.0 Command refused: the TLS handshake did not succeed",
}
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}( |$)")


def enhance(reply: str) -> str:
    """Return ``reply`` with an enhanced status code, rewriting aiosmtpd's bare replies."""
    reply = _REWRITE.get(reply, reply)
    if len(reply) < 3 or _HAS_ENHANCED.match(reply) or reply.startswith(("220", "334", "354")):
        return reply
    code, separator, text = reply[:3], reply[3:4], reply[4:]
    enhanced = _DEFAULT_ENHANCED.get(code)
    if enhanced is None or separator not in (" ", "", "-"):
        return reply
    return f"{code}{separator or ' '}{enhanced} {text}".rstrip()


def refusal(code: int, enhanced: str, text: str) -> DeliveryRefused:
    return DeliveryRefused(code, enhanced, text)


# Replies of the gateway itself (RFC 5321 §4.2, RFC 3463 codes) ---------------------------------------------

SENDER_OK = "250 2.1.0 Sender OK"
RECIPIENT_OK = "250 2.1.5 Recipient OK"
TOO_MANY_BAD_COMMANDS = "421 4.7.0 Too many errors on this connection; closing it"
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure while storing the message; nothing was stored, please retry"
SHUTTING_DOWN = "421 4.3.2 The server is shutting down; please retry later"
AUTH_NOT_ON_MX = "503 5.5.1 Authentication is not offered on the MX port; use the submission port"


def accepted(queue_id: str) -> str:
    return f"250 2.0.0 Message accepted and stored (id {queue_id})"


def unknown_recipient(address: str) -> DeliveryRefused:
    return refusal(550, "5.1.1", f"There is no mailbox {address} here; check the address")


def recipient_disabled(address: str) -> DeliveryRefused:
    return refusal(550, "5.2.1", f"The mailbox {address} is suspended and does not accept mail")


def mailbox_full(address: str) -> DeliveryRefused:
    return refusal(552, "5.2.2", f"The mailbox {address} is over its quota; the message cannot be stored")


def relay_denied(domain: str) -> DeliveryRefused:
    return refusal(550, "5.7.1", f"Relaying denied: this server does not accept mail for {domain}")


def other_operators_disabled(domain: str) -> DeliveryRefused:
    return refusal(
        550, "5.7.1", f"Delivery to other operators is not enabled on this server; {domain} is not a local domain"
    )


def sender_not_owned(address: str, mailbox: str) -> DeliveryRefused:
    return refusal(550, "5.7.1", f"The envelope sender {address} is not your mailbox {mailbox}; send as yourself")


def from_not_owned(mailbox: str) -> DeliveryRefused:
    return refusal(550, "5.7.1", f"The From: header must be your own address {mailbox} and nothing else")


def too_many_recipients(limit: int) -> DeliveryRefused:
    # RFC 5321 §4.5.3.1.8: 452 for too many recipients, so that the client sends the rest later.
    return refusal(452, "4.5.3", f"Too many recipients: at most {limit} per message; send the rest separately")


def bare_line_ending() -> DeliveryRefused:
    return refusal(
        550,
        "5.5.2",
        "The message contains a bare CR or LF; lines must end with CRLF (RFC 5322 section 2.3). Nothing was stored",
    )


def message_too_big(limit: int) -> DeliveryRefused:
    return refusal(552, "5.3.4", f"The message exceeds this server's size limit of {limit} octets; nothing was stored")


def bad_headers(reason: str) -> DeliveryRefused:
    return refusal(550, "5.6.0", f"The message header is not acceptable: {reason}")
