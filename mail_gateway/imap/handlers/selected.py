"""SELECT, EXAMINE (with CONDSTORE and QRESYNC), CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE and IDLE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mail_gateway.imap.errors import NoSuchFolder, NotPermitted
from mail_gateway.imap.handlers.common import SYSTEM_FLAGS, Action, Reply, State
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol.response import Continuation, Response, Status, Untagged, ok
from mail_gateway.imap.protocol.sequence_set import SequenceSet
from mail_gateway.imap.view import FolderView

if TYPE_CHECKING:
    from mail_gateway.imap.session import Session

_FLAGS = b"FLAGS (" + " ".join(SYSTEM_FLAGS).encode() + b")"
_PERMANENT = "PERMANENTFLAGS (" + " ".join(SYSTEM_FLAGS) + " \\*)"


async def select(session: Session, command: c.Select) -> Reply:
    responses: list[Response] = []
    if session.view is not None:
        session.deselect()
        responses.append(Status("OK", "previous folder closed", "CLOSED"))  # RFC 7162 §3.2.11
    if command.condstore:
        session.enabled.add("CONDSTORE")
    if command.qresync is not None and not session.qresync:
        raise NotPermitted("ENABLE QRESYNC first (RFC 7162 §3.2.5)")
    folder = await session.store.folder(session.mailbox_id, command.mailbox)
    if folder is None:
        raise NoSuchFolder(f"{command.mailbox} does not exist")
    watch = session.store.watch(folder.id)  # subscribe before the snapshot: no change falls in between
    try:
        snapshot = await session.store.snapshot(folder.id)
    except BaseException:
        watch.close()
        raise
    view = FolderView(snapshot.folder, snapshot.uids, watch, readonly=command.readonly)
    session.view = view
    session.state = State.SELECTED
    folder = snapshot.folder
    responses += [
        Untagged(_FLAGS),
        Status("OK", "flags you can keep", _PERMANENT if not command.readonly else "PERMANENTFLAGS ()"),
        Untagged(b"%d EXISTS" % view.exists),
        Untagged(b"0 RECENT"),
    ]
    if snapshot.first_unseen_uid is not None:
        number = view.msn(snapshot.first_unseen_uid)
        if number is not None:
            responses.append(Status("OK", "first unseen", f"UNSEEN {number}"))
    responses += [
        Status("OK", "UIDs valid", f"UIDVALIDITY {folder.uidvalidity}"),
        Status("OK", "predicted next UID", f"UIDNEXT {folder.uidnext}"),
        Status("OK", "highest", f"HIGHESTMODSEQ {folder.highestmodseq}"),
    ]
    if command.qresync is not None:
        responses += await _qresync(session, view, command.qresync)
    mode = "READ-ONLY" if command.readonly else "READ-WRITE"
    responses.append(ok(command.tag, f"{command.name} completed", mode))
    return Reply(responses)


async def _qresync(
    session: Session,
    view: FolderView,
    params: tuple[int, int, SequenceSet | None, tuple[SequenceSet, SequenceSet] | None],
) -> list[Response]:
    """RFC 7162 §3.2.5.1: what changed since the client's MODSEQ, if its UIDVALIDITY is still ours."""
    validity, modseq, known, _match = params
    if validity != view.folder.uidvalidity:
        return []
    changes = await session.store.changes(view.folder.id, modseq)
    out: list[Response] = []
    vanished = list(changes.expunged)
    if known is not None:
        vanished = known.select(sorted(vanished), view.max_uid or None)
    if vanished:
        out.append(Untagged(b"VANISHED (EARLIER) " + str(SequenceSet.of(vanished)).encode()))
    for state in changes.changed:
        number = view.msn(state.uid)
        if number is not None:
            view.reported(state.uid, state.modseq)
            out.append(Untagged(view.flags_data(number, state, condstore=True, uid=True)))
    return out


async def close(session: Session, command: c.Close) -> Reply:
    view = session.view
    assert view is not None
    if not command.unselect and not view.readonly:
        # RFC 3501 §6.4.2: CLOSE expunges silently.
        await session.store.expunge(view.folder.id, None)
    session.deselect()
    return Reply([ok(command.tag, f"{command.name} completed")])


async def expunge(session: Session, command: c.Expunge) -> Reply:
    view = session.view
    assert view is not None
    if view.readonly:
        raise NotPermitted("the folder is read-only (EXAMINE)", "READ-ONLY")
    uids = view.resolve(command.uids, uid=True) if command.uids is not None else None
    if uids == []:
        return Reply([ok(command.tag, "EXPUNGE completed")])
    removed = await session.store.expunge(view.folder.id, uids)
    responses = view.flush_expunges(qresync=session.qresync)
    responses += view.remove(removed, qresync=session.qresync)
    view.dirty = True
    responses += await session.updates(allow_expunge=True)
    code = f"HIGHESTMODSEQ {view.modseq}" if session.condstore and removed else None
    responses.append(ok(command.tag, "EXPUNGE completed", code))
    return Reply(responses)


async def idle(session: Session, command: c.Idle) -> Reply:
    """RFC 2177: the I/O layer pushes updates until the client sends DONE."""
    session.idling = command.tag
    updates = await session.updates(allow_expunge=True)
    return Reply([*updates, Continuation(b"idling")], Action.IDLE)


async def idle_updates(session: Session) -> list[Response]:
    return await session.updates(allow_expunge=True, force=True)


def idle_done(session: Session, line: bytes) -> Reply:
    tag = session.idling or b"*"
    session.idling = None
    if line.strip().upper() != b"DONE":
        return Reply([Status("BAD", "expected DONE to end IDLE", tag=tag)])
    return Reply([ok(tag, "IDLE terminated")])
