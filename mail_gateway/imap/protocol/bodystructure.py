"""ENVELOPE, BODY and BODYSTRUCTURE from the cached parse (RFC 3501 §7.4.2), never from the raw message.

The cached parse is :func:`mail_gateway.mime.structure.analyse`'s output: envelope fields as raw header text
and a MIME tree with byte ranges, so these renderers only format data.
"""

from __future__ import annotations

from typing import Any

from mail_gateway.imap.protocol.response import nstring, plist, string

_EMPTY_BODY = b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)'


def envelope(env: dict[str, Any]) -> bytes:
    """``(date subject from sender reply-to to cc bcc in-reply-to message-id)``."""
    items = [
        nstring(env.get("date")),
        nstring(env.get("subject")),
        *(_addresses(env.get(name)) for name in ("from", "sender", "reply-to", "to", "cc", "bcc")),
        nstring(env.get("in-reply-to")),
        nstring(env.get("message-id")),
    ]
    return plist(items)


def _addresses(value: Any) -> bytes:
    if not value:
        return b"NIL"
    return plist(plist(nstring(field) for field in address) for address in value)


def _params(params: dict[str, str] | None) -> bytes:
    if not params:
        return b"NIL"
    return plist(item for key, val in params.items() for item in (string(key.upper()), string(val)))


def _disposition(value: Any) -> bytes:
    if not value:
        return b"NIL"
    kind, params = value
    return plist([string(kind.upper()), _params(params)])


def _language(value: str | None) -> bytes:
    if not value:
        return b"NIL"
    tags = [tag.strip() for tag in value.split(",") if tag.strip()]
    if len(tags) == 1:
        return string(tags[0])
    return plist(string(tag) for tag in tags)


def body_structure(part: dict[str, Any], *, extensible: bool = True) -> bytes:
    """BODYSTRUCTURE (``extensible``) or BODY of one part, recursively (RFC 3501 §7.4.2)."""
    if part.get("parts"):
        children = b"".join(body_structure(child, extensible=extensible) for child in part["parts"])
        items = [children, string(part["subtype"].upper())]
        if extensible:
            items += [
                _params(part["params"]),
                _disposition(part.get("disposition")),
                _language(part.get("language")),
                nstring(part.get("location")),
            ]
        return plist(items)
    start, end = part["body"]
    items = [
        string(part["type"].upper()),
        string(part["subtype"].upper()),
        _params(part["params"]),
        nstring(part.get("id")),
        nstring(part.get("description")),
        string(part["encoding"].upper()),
        b"%d" % (end - start),
    ]
    message = part.get("message")
    if message is not None:
        items += [envelope(message["envelope"]), body_structure(message["part"], extensible=extensible)]
        items.append(b"%d" % part["lines"])
    elif (part["type"], part["subtype"]) in (("message", "rfc822"), ("message", "global")):
        # Undecodable encapsulated message (e.g. base64): the grammar still wants envelope, body and lines.
        items += [envelope({}), _EMPTY_BODY, b"%d" % part["lines"]]
    elif part["type"] == "text":
        items.append(b"%d" % part["lines"])
    if extensible:
        items += [
            nstring(part.get("md5")),
            _disposition(part.get("disposition")),
            _language(part.get("language")),
            nstring(part.get("location")),
        ]
    return plist(items)
