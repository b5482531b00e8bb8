"""The commands the parser produces: one frozen dataclass per command, grouped by the state that allows it
(RFC 3501 §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mail_gateway.imap.protocol.fetch import FetchAttr
from mail_gateway.imap.protocol.search import SearchKey
from mail_gateway.imap.protocol.sequence_set import SequenceSet

EMPTY_SET = SequenceSet(())


@dataclass(frozen=True)
class Command:
    tag: bytes

    @property
    def name(self) -> str:
        return type(self).__name__.upper()


# Any state (RFC 3501 §6.1) -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Capability(Command):
    pass


@dataclass(frozen=True)
class Noop(Command):
    pass


@dataclass(frozen=True)
class Logout(Command):
    pass


@dataclass(frozen=True)
class Id(Command):
    """RFC 2971."""

    params: tuple[tuple[str, str | None], ...] = ()


# Not authenticated (RFC 3501 §6.2) -------------------------------------------------------------------------
@dataclass(frozen=True)
class StartTls(Command):
    pass


@dataclass(frozen=True)
class Authenticate(Command):
    mechanism: str = ""
    initial: bytes | None = None  # RFC 4959 SASL-IR, still base64


@dataclass(frozen=True)
class Login(Command):
    user: bytes = b""
    password: bytes = field(default=b"", repr=False)


# Authenticated (RFC 3501 §6.3) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Enable(Command):
    """RFC 5161."""

    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Select(Command):
    mailbox: str = ""
    readonly: bool = False  # EXAMINE
    condstore: bool = False  # RFC 7162 §3.1.8
    # RFC 7162 §3.2.5: QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])
    qresync: tuple[int, int, SequenceSet | None, tuple[SequenceSet, SequenceSet] | None] | None = None

    @property
    def name(self) -> str:
        return "EXAMINE" if self.readonly else "SELECT"


@dataclass(frozen=True)
class Create(Command):
    mailbox: str = ""
    special_use: tuple[str, ...] = ()  # RFC 6154 §3: CREATE-SPECIAL-USE


@dataclass(frozen=True)
class Delete(Command):
    mailbox: str = ""


@dataclass(frozen=True)
class Rename(Command):
    old: str = ""
    new: str = ""


@dataclass(frozen=True)
class Subscribe(Command):
    mailbox: str = ""
    subscribe: bool = True

    @property
    def name(self) -> str:
        return "SUBSCRIBE" if self.subscribe else "UNSUBSCRIBE"


@dataclass(frozen=True)
class List(Command):
    reference: str = ""
    patterns: tuple[str, ...] = ()
    selection: tuple[str, ...] = ()  # RFC 5258 §3.1: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE
    returns: tuple[str, ...] = ()  # RFC 5258 §3.2: SUBSCRIBED, CHILDREN, SPECIAL-USE; RFC 5819 STATUS
    status_items: tuple[str, ...] = ()
    lsub: bool = False
    extended: bool = False

    @property
    def name(self) -> str:
        return "LSUB" if self.lsub else "LIST"


@dataclass(frozen=True)
class Namespace(Command):
    pass


@dataclass(frozen=True)
class Status(Command):
    mailbox: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Append(Command):
    mailbox: str = ""
    flags: tuple[str, ...] = ()
    date: datetime | None = None
    message: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class GetQuotaRoot(Command):
    mailbox: str = ""


@dataclass(frozen=True)
class GetQuota(Command):
    root: str = ""


# Selected (RFC 3501 §6.4) ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check(Command):
    pass


@dataclass(frozen=True)
class Close(Command):
    unselect: bool = False  # RFC 3691 UNSELECT: close without expunging

    @property
    def name(self) -> str:
        return "UNSELECT" if self.unselect else "CLOSE"


@dataclass(frozen=True)
class Expunge(Command):
    uids: SequenceSet | None = None  # RFC 4315 UID EXPUNGE


@dataclass(frozen=True)
class Search(Command):
    key: SearchKey | None = None
    charset: str = "US-ASCII"
    uid: bool = False
    returns: tuple[str, ...] | None = None  # RFC 4731 ESEARCH: None for a classic SEARCH


@dataclass(frozen=True)
class Fetch(Command):
    messages: SequenceSet = EMPTY_SET
    attrs: tuple[FetchAttr, ...] = ()
    uid: bool = False
    changedsince: int | None = None  # RFC 7162 §3.1.4
    vanished: bool = False  # RFC 7162 §3.2.6


@dataclass(frozen=True)
class Store(Command):
    messages: SequenceSet = EMPTY_SET
    mode: str = ""  # "" replace, "+" add, "-" remove
    silent: bool = False
    flags: tuple[str, ...] = ()
    uid: bool = False
    unchangedsince: int | None = None  # RFC 7162 §3.1.3


@dataclass(frozen=True)
class Copy(Command):
    messages: SequenceSet = EMPTY_SET
    mailbox: str = ""
    uid: bool = False
    move: bool = False  # RFC 6851

    @property
    def name(self) -> str:
        return "MOVE" if self.move else "COPY"


@dataclass(frozen=True)
class Idle(Command):
    """RFC 2177."""
