"""Commands valid in any state (RFC 3501 §6.1), and ENABLE, NAMESPACE, ID."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mail_gateway.imap.handlers.common import Action, Reply
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol.response import Status, Untagged, nstring, ok, plist, string

if TYPE_CHECKING:
    from mail_gateway.imap.session import Session

SERVER_ID = (("name", "mssante-gateway"), ("vendor", "mssante-gateway"), ("support-url", None))
ENABLEABLE = ("CONDSTORE", "QRESYNC")


async def capability(session: Session, command: c.Capability) -> Reply:
    return Reply([Untagged(("CAPABILITY " + " ".join(session.capabilities())).encode()), ok(command.tag, "done")])


async def noop(session: Session, command: c.Command) -> Reply:
    # NOOP and CHECK: the session appends the selected folder's updates (RFC 3501 §6.1.2, §6.4.1).
    if session.view is not None:
        session.view.dirty = True
    return Reply([ok(command.tag, f"{command.name} completed")])


async def logout(session: Session, command: c.Logout) -> Reply:
    session.close()
    return Reply([Status("BYE", "logging out"), ok(command.tag, "LOGOUT completed")], Action.LOGOUT)


async def id_(session: Session, command: c.Id) -> Reply:
    # RFC 2971: the client's fields are not logged (they may name a person's device).
    fields = plist(item for key, value in SERVER_ID for item in (string(key), nstring(value)))
    return Reply([Untagged(b"ID " + fields), ok(command.tag, "ID completed")])


async def enable(session: Session, command: c.Enable) -> Reply:
    """RFC 5161; QRESYNC implies CONDSTORE (RFC 7162 §3.2.3)."""
    newly: list[str] = []
    for name in command.capabilities:
        if name in ENABLEABLE and name not in session.enabled:
            session.enabled.add(name)
            newly.append(name)
    if "QRESYNC" in session.enabled:
        session.enabled.add("CONDSTORE")
    return Reply([Untagged(("ENABLED " + " ".join(newly)).strip().encode()), ok(command.tag, "ENABLE completed")])


async def namespace(session: Session, command: c.Namespace) -> Reply:
    """RFC 2342: one personal namespace with "/" as delimiter, no other users' or shared namespaces."""
    return Reply([Untagged(b'NAMESPACE (("" "/")) NIL NIL'), ok(command.tag, "NAMESPACE completed")])
