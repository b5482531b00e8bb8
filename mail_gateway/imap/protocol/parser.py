"""Command grammar (RFC 3501 §9 and the extensions' ABNF): one complete command's bytes → a :class:`Command`.

The framer hands over the bytes of a command without its final CRLF, literals included; a syntax error raises
:class:`ProtocolError`, which the session answers with a tagged BAD.
"""

from __future__ import annotations

from collections.abc import Callable

from mail_gateway.imap.errors import ProtocolError
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol import utf7
from mail_gateway.imap.protocol.grammar_selected import (
    mailbox_arg,
    parse_copy,
    parse_fetch,
    parse_search,
    parse_store,
    parse_uid_expunge,
    sequence,
    words,
)
from mail_gateway.imap.protocol.limits import DEFAULT_LIMITS, Limits
from mail_gateway.imap.protocol.reader import Reader
from mail_gateway.imap.protocol.sequence_set import SequenceSet

STATUS_ITEMS = frozenset({"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE", "DELETED"})


def parse_tag(data: bytes) -> bytes | None:
    """The tag of a (possibly bad) command, so a BAD can be tagged; None when there is none."""
    try:
        return Reader(data).tag()
    except ProtocolError:
        return None


def parse_command(data: bytes, limits: Limits = DEFAULT_LIMITS) -> c.Command:
    reader = Reader(data, max_depth=limits.max_depth)
    tag = reader.tag()
    reader.sp()
    name = reader.keyword()
    if name == "UID":
        reader.sp()
        name = reader.keyword()
        parse = _UID_COMMANDS.get(name)
        if parse is None:
            raise ProtocolError(f"UID {name[:20]} is not a command")
        command = parse(reader, tag, limits, True)
    else:
        simple = _SIMPLE.get(name)
        if simple is not None:
            command = simple(tag)
        else:
            parser = _COMMANDS.get(name)
            if parser is None:
                raise ProtocolError(f"unknown command {name[:20]}")
            command = parser(reader, tag, limits)
    reader.end()
    return command


def _authenticate(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    reader.sp()
    mechanism = reader.keyword()
    initial = None
    if reader.maybe(b" "):
        initial = reader.atom() if reader.peek() != b"=" else reader.data[reader.pos : reader.pos + 1]
        if initial == b"=":
            reader.pos += 1
    return c.Authenticate(tag, mechanism, initial)


def _login(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    reader.sp()
    user = reader.astring()
    reader.sp()
    return c.Login(tag, user, reader.astring())


def _enable(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    names = []
    while reader.maybe(b" "):
        names.append(reader.keyword())
    if not names:
        raise ProtocolError("ENABLE needs at least one capability")
    return c.Enable(tag, tuple(names))


def _id(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    reader.sp()
    if reader.maybe(b"NIL"):
        return c.Id(tag)
    reader.open_paren()
    params: list[tuple[str, str | None]] = []
    while not reader.maybe(b")"):
        if params:
            reader.sp()
        key = reader.string().decode("utf-8", "replace")
        reader.sp()
        value = reader.nstring()
        params.append((key[:30], value.decode("utf-8", "replace")[:1024] if value is not None else None))
        if len(params) > 30:  # RFC 2971 §3.3: at most 30 field-value pairs
            raise ProtocolError("ID takes at most 30 field-value pairs")
    return c.Id(tag, tuple(params))


def _select(readonly: bool) -> Callable[[Reader, bytes, Limits], c.Command]:
    def parse(reader: Reader, tag: bytes, limits: Limits) -> c.Command:
        mailbox = mailbox_arg(reader)
        condstore = False
        qresync = None
        if reader.maybe(b" "):
            reader.open_paren()
            while not reader.maybe(b")"):
                if condstore or qresync:
                    reader.sp()
                word = reader.keyword()
                if word == "CONDSTORE":
                    condstore = True
                elif word == "QRESYNC":
                    qresync = _qresync(reader, limits)
                else:
                    raise ProtocolError(f"unknown SELECT parameter {word[:20]}")
        return c.Select(tag, mailbox, readonly, condstore, qresync)

    return parse


def _qresync(
    reader: Reader, limits: Limits
) -> tuple[int, int, SequenceSet | None, tuple[SequenceSet, SequenceSet] | None]:
    reader.sp()
    reader.open_paren()
    validity = reader.nz_number()
    reader.sp()
    modseq = reader.number()
    known = None
    match = None
    if reader.maybe(b" "):
        if reader.peek() != b"(":
            known = sequence(reader, limits)
            reader.maybe(b" ")
        if reader.peek() == b"(":
            reader.open_paren()
            seqs = sequence(reader, limits)
            reader.sp()
            uids = sequence(reader, limits)
            reader.close_paren()
            match = (seqs, uids)
    reader.close_paren()
    return validity, modseq, known, match


def _create(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    mailbox = mailbox_arg(reader)
    uses: list[str] = []
    if reader.maybe(b" "):
        reader.open_paren()
        reader.expect(b"USE")
        reader.sp()
        uses = reader.flag_list()
        reader.close_paren()
    return c.Create(tag, mailbox, tuple(uses))


def _one_mailbox(kind: Callable[[bytes, str], c.Command]) -> Callable[[Reader, bytes, Limits], c.Command]:
    def parse(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
        return kind(tag, mailbox_arg(reader))

    return parse


def _rename(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    old = mailbox_arg(reader)
    return c.Rename(tag, old, mailbox_arg(reader))


def _list(lsub: bool) -> Callable[[Reader, bytes, Limits], c.Command]:
    def parse(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
        reader.sp()
        selection: list[str] = []
        extended = False
        if not lsub and reader.peek() == b"(":
            selection = words(reader)
            extended = True
            reader.sp()
        reference = _utf7(reader.astring())
        reader.sp()
        patterns: list[str] = []
        if not lsub and reader.peek() == b"(":
            extended = True
            reader.open_paren()
            patterns.append(_utf7(reader.list_mailbox()))
            while reader.maybe(b" "):
                patterns.append(_utf7(reader.list_mailbox()))
            reader.close_paren()
        else:
            patterns.append(_utf7(reader.list_mailbox()))
        returns: list[str] = []
        status_items: list[str] = []
        if not lsub and reader.maybe(b" RETURN "):
            extended = True
            reader.open_paren()
            while not reader.maybe(b")"):
                if returns:
                    reader.sp()
                word = reader.keyword()
                returns.append(word)
                if word == "STATUS":  # RFC 5819
                    reader.sp()
                    status_items = _status_items(reader)
            reader.depth -= 1
        return c.List(
            tag, reference, tuple(patterns), tuple(selection), tuple(returns), tuple(status_items), lsub, extended
        )

    return parse


def _utf7(raw: bytes) -> str:
    return utf7.decode(raw)


def _status_items(reader: Reader) -> list[str]:
    items = words(reader)
    for item in items:
        if item not in STATUS_ITEMS:
            raise ProtocolError(f"unknown STATUS item {item[:20]}")
    if not items:
        raise ProtocolError("STATUS needs at least one item")
    return items


def _status(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    mailbox = mailbox_arg(reader)
    reader.sp()
    return c.Status(tag, mailbox, tuple(_status_items(reader)))


def _append(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    mailbox = mailbox_arg(reader)
    reader.sp()
    flags: list[str] = []
    date = None
    if reader.peek() == b"(":
        flags = reader.flag_list()
        reader.sp()
    if reader.peek() == b'"':
        date = reader.date_time()
        reader.sp()
    if reader.peek() != b"{":
        raise ProtocolError("APPEND needs the message as a literal")
    return c.Append(tag, mailbox, tuple(flags), date, reader.literal())


def _getquotaroot(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    return c.GetQuotaRoot(tag, mailbox_arg(reader))


def _getquota(reader: Reader, tag: bytes, _limits: Limits) -> c.Command:
    reader.sp()
    return c.GetQuota(tag, reader.astring().decode("utf-8", "replace"))


_SIMPLE: dict[str, Callable[[bytes], c.Command]] = {
    "CAPABILITY": c.Capability,
    "NOOP": c.Noop,
    "LOGOUT": c.Logout,
    "STARTTLS": c.StartTls,
    "NAMESPACE": c.Namespace,
    "CHECK": c.Check,
    "CLOSE": c.Close,
    "UNSELECT": lambda tag: c.Close(tag, unselect=True),
    "EXPUNGE": c.Expunge,
    "IDLE": c.Idle,
}
_COMMANDS: dict[str, Callable[[Reader, bytes, Limits], c.Command]] = {
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ENABLE": _enable,
    "ID": _id,
    "SELECT": _select(False),
    "EXAMINE": _select(True),
    "CREATE": _create,
    "DELETE": _one_mailbox(c.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox(lambda tag, name: c.Subscribe(tag, name, True)),
    "UNSUBSCRIBE": _one_mailbox(lambda tag, name: c.Subscribe(tag, name, False)),
    "LIST": _list(False),
    "LSUB": _list(True),
    "STATUS": _status,
    "APPEND": _append,
    "GETQUOTAROOT": _getquotaroot,
    "GETQUOTA": _getquota,
    "SEARCH": parse_search,
    "FETCH": parse_fetch,
    "STORE": parse_store,
    "COPY": parse_copy(False),
    "MOVE": parse_copy(True),
}
_UID_COMMANDS: dict[str, Callable[..., c.Command]] = {
    "SEARCH": parse_search,
    "FETCH": parse_fetch,
    "STORE": parse_store,
    "COPY": parse_copy(False),
    "MOVE": parse_copy(True),
    "EXPUNGE": parse_uid_expunge,
}
