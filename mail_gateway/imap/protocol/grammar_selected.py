"""Grammar of the selected-state commands that take sequence sets: SEARCH (RFC 3501 §6.4.4, RFC 4731),
FETCH (§6.4.5, RFC 7162 CHANGEDSINCE/VANISHED), STORE (§6.4.6, UNCHANGEDSINCE), COPY, MOVE (RFC 6851) and
UID EXPUNGE (RFC 4315)."""

from __future__ import annotations

from collections.abc import Callable

from mail_gateway.imap.errors import ProtocolError
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol import fetch, search
from mail_gateway.imap.protocol.limits import Limits
from mail_gateway.imap.protocol.reader import Reader
from mail_gateway.imap.protocol.sequence_set import SequenceSet


def mailbox_arg(reader: Reader) -> str:
    reader.sp()
    return reader.mailbox()


def words(reader: Reader) -> list[str]:
    reader.open_paren()
    words: list[str] = []
    while not reader.maybe(b")"):
        if words:
            reader.sp()
        words.append(reader.keyword())
    reader.depth -= 1
    return words


def sequence(reader: Reader, limits: Limits) -> SequenceSet:
    return SequenceSet.parse(reader.sequence_set_text(), max_ranges=limits.max_ranges)


def parse_search(reader: Reader, tag: bytes, limits: Limits, uid: bool = False) -> c.Command:
    reader.sp()
    returns: tuple[str, ...] | None = None
    if reader.maybe(b"RETURN "):  # RFC 4731 §3
        returns = tuple(words(reader)) or ("ALL",)
        for item in returns:
            if item not in ("MIN", "MAX", "COUNT", "ALL"):
                raise ProtocolError(f"unknown SEARCH RETURN option {item[:20]}")
        reader.sp()
    charset = "US-ASCII"
    if reader.maybe(b"CHARSET "):
        charset = search.parse_charset(reader)
        reader.sp()
    key = search.parse_program(reader, charset, max_keys=limits.max_search_keys, max_ranges=limits.max_ranges)
    return c.Search(tag, key, charset, uid, returns)


def parse_fetch(reader: Reader, tag: bytes, limits: Limits, uid: bool = False) -> c.Command:
    reader.sp()
    messages = sequence(reader, limits)
    reader.sp()
    attrs = fetch.parse_attrs(reader)
    changedsince = None
    vanished = False
    if reader.maybe(b" "):
        reader.open_paren()
        while not reader.maybe(b")"):
            if changedsince is not None or vanished:
                reader.sp()
            word = reader.keyword()
            if word == "CHANGEDSINCE":
                reader.sp()
                changedsince = reader.number()
            elif word == "VANISHED" and uid:
                vanished = True
            else:
                raise ProtocolError(f"unknown FETCH modifier {word[:20]}")
        if vanished and changedsince is None:
            raise ProtocolError("VANISHED needs CHANGEDSINCE (RFC 7162 §3.2.6)")
    if uid and "UID" not in attrs:
        attrs.insert(0, "UID")  # RFC 3501 §6.4.8: UID FETCH always returns the UID
    return c.Fetch(tag, messages, tuple(attrs), uid, changedsince, vanished)


def parse_store(reader: Reader, tag: bytes, limits: Limits, uid: bool = False) -> c.Command:
    reader.sp()
    messages = sequence(reader, limits)
    reader.sp()
    unchangedsince = None
    if reader.maybe(b"(UNCHANGEDSINCE "):
        unchangedsince = reader.number()
        reader.expect(b")")
        reader.sp()
    word = reader.keyword()
    mode = word[0] if word[0] in "+-" else ""
    base = word[1:] if mode else word
    if base not in ("FLAGS", "FLAGS.SILENT"):
        raise ProtocolError("STORE takes FLAGS, +FLAGS or -FLAGS")
    reader.sp()
    if reader.peek() == b"(":
        flags = reader.flag_list()
    else:
        flags = [reader.flag()]
        while reader.maybe(b" "):
            flags.append(reader.flag())
    if "\\Recent" in flags or "\\*" in flags:
        raise ProtocolError("\\Recent and \\* cannot be stored (RFC 3501 §2.3.2)")
    return c.Store(tag, messages, mode, base.endswith(".SILENT"), tuple(flags), uid, unchangedsince)


def parse_copy(move: bool) -> Callable[..., c.Command]:
    def parse(reader: Reader, tag: bytes, limits: Limits, uid: bool = False) -> c.Command:
        reader.sp()
        messages = sequence(reader, limits)
        return c.Copy(tag, messages, mailbox_arg(reader), uid, move)

    return parse


def parse_uid_expunge(reader: Reader, tag: bytes, limits: Limits, _uid: bool = True) -> c.Command:
    reader.sp()
    return c.Expunge(tag, sequence(reader, limits))
