"""What the patient side needs from a message's bytes: threading fields, the readable body and the attachments.

Pure functions over bytes (the stdlib ``email`` parser with the modern policy, which decodes RFC 2047 words and
transfer encodings). Malformed input never raises out of :func:`parse_message`: a part that cannot be decoded
is skipped, a header that cannot be parsed reads as absent. Bounds keep a hostile message from costing much.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses

from policies.conversations import CONVERSATION_HEADER

MAX_ATTACHMENTS = 50
MAX_SUBJECT = 998  # RFC 5322 §2.1.1: a line is at most 998 characters
MAX_BODY_CHARS = 2 * 1024 * 1024


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMessage:
    subject: str
    from_name: str
    from_address: str
    visible_recipients: tuple[tuple[str, str], ...]  # To and Cc (display name, lower-case address)
    message_id: str | None
    in_reply_to: str | None
    references: str | None
    mss_mes: str | None
    conversation_token: str | None
    text: str | None
    html: str | None
    attachments: tuple[ParsedAttachment, ...]


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse reads as absent
        return None
    return None if value is None else str(value).strip()


def _addresses(message: Message, *names: str) -> list[tuple[str, str]]:
    values: list[str] = []
    for name in names:
        try:
            values.extend(str(v) for v in message.get_all(name, []))
        except Exception:  # noqa: S112 - skip only the broken field
            continue
    return [(n, a.lower()) for n, a in getaddresses(values) if "@" in a]


def _unique(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    first: dict[str, tuple[str, str]] = {}
    for name, address in pairs:
        first.setdefault(address, (name, address))
    return tuple(first.values())


def _text_of(part: Message) -> str | None:
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else None
    except Exception:
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    return content[:MAX_BODY_CHARS] if isinstance(content, str) else None


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    name = (name or f"piece-jointe-{index}").replace("/", "_").replace("\\", "_").strip() or f"piece-jointe-{index}"
    return name[:255]


def parse_message(raw: bytes) -> ParsedMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    sender = _addresses(message, "from")
    from_name, from_address = sender[0] if sender else ("", "")
    text: str | None = None
    html: str | None = None
    attachments: list[ParsedAttachment] = []
    body_parts: set[int] = set()
    if isinstance(message, EmailMessage):
        for kind in ("plain", "html"):
            try:
                body = message.get_body(preferencelist=(kind,))
            except Exception:
                body = None
            if body is not None and body.get_content_disposition() != "attachment":
                body_parts.add(id(body))
                if kind == "plain":
                    text = _text_of(body)
                else:
                    html = _text_of(body)
    for part in message.walk():
        if len(attachments) >= MAX_ATTACHMENTS:
            break
        if part.is_multipart() or id(part) in body_parts:
            continue
        inline_text = part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment"
        if inline_text and not part.get_filename():
            continue
        try:
            data = part.get_payload(decode=True)
        except Exception:  # noqa: S112 - an undecodable part is skipped, the rest is kept
            continue
        if not isinstance(data, bytes):
            continue
        attachments.append(ParsedAttachment(_filename(part, len(attachments) + 1), part.get_content_type(), data))
    subject = (_header(message, "subject") or "").replace("\r", " ").replace("\n", " ")[:MAX_SUBJECT]
    return ParsedMessage(
        subject=subject,
        from_name=from_name.strip(),
        from_address=from_address,
        visible_recipients=_unique(_addresses(message, "to", "cc")),
        message_id=_header(message, "message-id"),
        in_reply_to=_header(message, "in-reply-to"),
        references=_header(message, "references"),
        mss_mes=_header(message, "x-mss-mes"),
        conversation_token=_header(message, CONVERSATION_HEADER),
        text=text,
        html=html,
        attachments=tuple(attachments),
    )


def display_address(name: str, address: str) -> str:
    """``"Name" <address>`` with the name encoded as RFC 2047 words when it is not ASCII."""
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))
