"""One IMAP connection's state machine (RFC 3501 §3): which commands each state allows, and the updates a
selected folder owes the client after each command.

Sans-IO like the protocol core: it takes commands and returns responses plus an :class:`Action` for the I/O
layer (STARTTLS, IDLE, a SASL continuation, LOGOUT). Handlers live in :mod:`mail_gateway.imap.handlers`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from mail_gateway.imap.errors import ConnectionClosing, ImapError, NoSuchFolder, ProtocolError
from mail_gateway.imap.handlers import any_state, fetching, folders, login, messages, selected
from mail_gateway.imap.handlers.common import Action, Reply, State
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol.framer import CommandRejected
from mail_gateway.imap.protocol.limits import DEFAULT_LIMITS, Limits
from mail_gateway.imap.protocol.response import Response, Status, from_error
from mail_gateway.imap.store import ImapStore
from mail_gateway.imap.view import FolderView

log = structlog.get_logger(__name__)


class Account(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def address(self) -> str: ...


class LoginOutcome(Protocol):
    @property
    def mailbox(self) -> Account | None: ...

    @property
    def reason(self) -> str: ...

    @property
    def message(self) -> str: ...


class PasswordVerifier(Protocol):
    """:class:`mail_gateway.auth.Authenticator` satisfies this."""

    async def verify_password(self, address: str, password: str, remote_ip: str) -> Any: ...


@dataclass(frozen=True)
class Config:
    hostname: str = "localhost"
    limits: Limits = DEFAULT_LIMITS
    max_message_size: int = 25 * 1024 * 1024


Handler = Callable[["Session", Any], Awaitable[Reply]]
ANY = frozenset(State) - {State.LOGOUT}
AUTHED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})
NOT_AUTHED = frozenset({State.NOT_AUTHENTICATED})
# RFC 3501 §7.4.1: no EXPUNGE while these run by sequence number (numbers would shift under the client).
_NO_EXPUNGE = (c.Fetch, c.Store, c.Search)

_TABLE: dict[type[c.Command], tuple[frozenset[State], Handler]] = {
    c.Capability: (ANY, any_state.capability),
    c.Noop: (ANY, any_state.noop),
    c.Logout: (ANY, any_state.logout),
    c.Id: (ANY, any_state.id_),
    c.StartTls: (NOT_AUTHED, login.starttls),
    c.Login: (NOT_AUTHED, login.login),
    c.Authenticate: (NOT_AUTHED, login.authenticate),
    c.Enable: (AUTHED, any_state.enable),
    c.Namespace: (AUTHED, any_state.namespace),
    c.Select: (AUTHED, selected.select),
    c.Create: (AUTHED, folders.create),
    c.Delete: (AUTHED, folders.delete),
    c.Rename: (AUTHED, folders.rename),
    c.Subscribe: (AUTHED, folders.subscribe),
    c.List: (AUTHED, folders.list_),
    c.Status: (AUTHED, folders.status),
    c.GetQuotaRoot: (AUTHED, folders.getquotaroot),
    c.GetQuota: (AUTHED, folders.getquota),
    c.Append: (AUTHED, messages.append),
    c.Idle: (AUTHED, selected.idle),
    c.Check: (SELECTED, any_state.noop),
    c.Close: (SELECTED, selected.close),
    c.Expunge: (SELECTED, selected.expunge),
    c.Search: (SELECTED, messages.search),
    c.Fetch: (SELECTED, fetching.fetch),
    c.Store: (SELECTED, messages.store),
    c.Copy: (SELECTED, messages.copy),
}


class Session:
    def __init__(
        self,
        store: ImapStore,
        verifier: PasswordVerifier,
        config: Config = Config(),
        *,
        secure: bool,
        tls_active: bool,
        starttls_available: bool,
        remote_ip: str,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.config = config
        self.secure = secure  # TLS, or loopback counted as secure
        self.tls_active = tls_active
        self.starttls_available = starttls_available
        self.remote_ip = remote_ip
        self.state = State.NOT_AUTHENTICATED
        self.account: Account | None = None
        self.view: FolderView | None = None
        self.enabled: set[str] = set()
        self.bad_commands = 0
        self.pending_sasl: bytes | None = None  # tag of an AUTHENTICATE waiting for its response
        self.idling: bytes | None = None  # tag of a running IDLE
        self.flush: Callable[[list[Response]], Awaitable[None]] | None = None  # set by the connection

    # Capabilities -------------------------------------------------------------------------------------

    @property
    def condstore(self) -> bool:
        return "CONDSTORE" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    @property
    def mailbox_id(self) -> int:
        assert self.account is not None
        return self.account.id

    def capabilities(self) -> list[str]:
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"]
        if self.state == State.NOT_AUTHENTICATED:
            if self.starttls_available and not self.tls_active:
                caps.append("STARTTLS")
            # RFC 3501 §6.2.3: LOGINDISABLED until the connection is private.
            caps += ["AUTH=PLAIN"] if self.secure else ["LOGINDISABLED"]
            return caps
        return [
            *caps,
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "CHILDREN",
            "SPECIAL-USE",
            "CREATE-SPECIAL-USE",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "ESEARCH",
            "CONDSTORE",
            "QRESYNC",
            "QUOTA",
            "QUOTA=RES-STORAGE",
            f"APPENDLIMIT={self.config.max_message_size}",
        ]

    # Entry points ---------------------------------------------------------------------------------------

    def greeting(self) -> Response:
        caps = " ".join(self.capabilities())
        return Status("OK", f"{self.config.hostname} IMAP ready", f"CAPABILITY {caps}")

    async def handle(self, command: c.Command) -> Reply:
        entry = _TABLE.get(type(command))
        if entry is None or self.state not in entry[0]:
            return self.bad(command.tag, ProtocolError(f"{command.name} is not allowed now"))
        try:
            reply = await entry[1](self, command)
        except ImapError as error:
            reply = self.refusal(command.tag, error)
        if self.view is not None and self.state == State.SELECTED and reply.action != Action.IDLE:
            try:
                updates = await self.updates(allow_expunge=not _by_number(command))
            except ImapError as error:
                return self.refusal(command.tag, error)
            if updates and reply.responses and isinstance(reply.responses[-1], Status):
                reply.responses[-1:-1] = updates
            else:
                reply.responses[0:0] = updates
        if reply.responses and isinstance(reply.responses[-1], Status) and reply.responses[-1].status == "BAD":
            self.bad_commands += 1
            if self.bad_commands >= self.config.limits.max_bad_commands:
                reply.responses.append(Status("BYE", "too many bad commands", "LIMIT"))
                reply.action = Action.LOGOUT
        return reply

    def rejected(self, event: CommandRejected) -> Reply:
        """A command the framer could not accept (syntax, limits)."""
        self.bad_commands += event.error.status == "BAD"
        responses: list[Response] = [from_error(event.tag, event.error)]
        reply = Reply(responses)
        if event.error.disconnect or self.bad_commands >= self.config.limits.max_bad_commands:
            text = "too many bad commands" if not event.error.disconnect else event.error.text
            responses.append(Status("BYE", text, event.error.code or "LIMIT"))
            reply.action = Action.LOGOUT
        return reply

    def bad(self, tag: bytes, error: ImapError) -> Reply:
        return Reply([from_error(tag, error)])

    def refusal(self, tag: bytes, error: ImapError) -> Reply:
        if isinstance(error, ConnectionClosing):
            return Reply([from_error(None, error)], Action.LOGOUT)
        reply = Reply([from_error(tag, error)])
        if error.disconnect:
            reply.responses.append(Status("BYE", error.text, error.code))
            reply.action = Action.LOGOUT
        return reply

    async def sasl_response(self, line: bytes) -> Reply:
        tag, self.pending_sasl = self.pending_sasl or b"*", None
        try:
            return await login.sasl_response(self, tag, line)
        except ImapError as error:
            return self.refusal(tag, error)

    # Updates for the selected folder --------------------------------------------------------------------

    async def updates(self, *, allow_expunge: bool, force: bool = False) -> list[Response]:
        view = self.view
        if view is None:
            return []
        announced = view.watch.collect()
        if not (force or view.dirty or announced > view.modseq):
            # Nothing newer than what this session knows (its own STORE included): no database read.
            return view.flush_expunges(qresync=self.qresync) if allow_expunge else []
        view.dirty = False
        try:
            changes = await self.store.changes(view.folder.id, view.modseq)
        except NoSuchFolder:
            self.deselect()
            raise ConnectionClosing("the selected folder was deleted by another session") from None
        return view.apply(changes, allow_expunge=allow_expunge, condstore=self.condstore, qresync=self.qresync)

    def deselect(self) -> None:
        if self.view is not None:
            self.view.watch.close()
            self.view = None
        if self.state == State.SELECTED:
            self.state = State.AUTHENTICATED

    def close(self) -> None:
        """Release what the session holds (its folder subscription); called when the connection ends."""
        self.deselect()
        self.state = State.LOGOUT


def _by_number(command: c.Command) -> bool:
    return isinstance(command, _NO_EXPUNGE) and not getattr(command, "uid", False)


__all__ = ["Action", "Config", "Reply", "Session", "State"]
