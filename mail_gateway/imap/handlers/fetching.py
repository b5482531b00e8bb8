"""FETCH and UID FETCH (RFC 3501 §6.4.5), with CHANGEDSINCE and VANISHED (RFC 7162 §3.1.4, §3.2.6).

Messages are loaded in batches: metadata and the cached parse from the store, then only as many leading bytes
of each blob as the requested sections need (none for FLAGS, ENVELOPE or BODYSTRUCTURE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mail_gateway.imap.handlers.common import Reply
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol import fetch as items
from mail_gateway.imap.protocol.response import Response, Untagged, ok
from mail_gateway.imap.protocol.sequence_set import SequenceSet
from mail_gateway.imap.store import MessageState, StoredMessage
from mail_gateway.imap.view import FolderView

if TYPE_CHECKING:
    from mail_gateway.imap.session import Session

BATCH = 200  # messages loaded at once with their cached parse
STATE_BATCH = 10_000  # flags only: one range query per 10,000 messages
FLUSH_BYTES = 1024 * 1024  # responses beyond this are sent before the next batch is loaded
_STATE = frozenset({"UID", "FLAGS", "MODSEQ"})
_STRUCTURED = frozenset({"ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"})


async def fetch(session: Session, command: c.Fetch) -> Reply:
    view = session.view
    assert view is not None
    attrs = list(command.attrs)
    if command.changedsince is not None or "MODSEQ" in attrs:
        session.enabled.add("CONDSTORE")  # RFC 7162 §3.1: CONDSTORE enabling commands
    if command.changedsince is not None and "MODSEQ" not in attrs:
        attrs.append("MODSEQ")
    if session.qresync and command.uid and "UID" not in attrs:
        attrs.insert(0, "UID")
    uids = view.resolve(command.messages, uid=command.uid)
    responses: list[Response] = []
    if command.vanished and command.changedsince is not None:
        changes = await session.store.changes(view.folder.id, command.changedsince)
        gone = command.messages.select(sorted(changes.expunged), view.max_uid or None)
        if gone:
            responses.append(Untagged(b"VANISHED (EARLIER) " + str(SequenceSet.of(gone)).encode()))
    if command.changedsince is not None:
        since = command.changedsince
        states = await session.store.states(view.folder.id, uids)
        uids = [s.uid for s in states if s.modseq > since]
    want_structure = any(isinstance(a, items.Section) or a in _STRUCTURED for a in attrs)
    mark_seen = items.sets_seen(attrs) and not view.readonly
    state_only = set(attrs) <= _STATE
    pending_bytes = 0
    step = STATE_BATCH if state_only else BATCH
    for start in range(0, len(uids), step):
        chunk = uids[start : start + step]
        if state_only:  # FLAGS/UID/MODSEQ: no join with the contents, no per-item rendering (resync path)
            states = await session.store.states(view.folder.id, chunk)
            responses += _render_states(attrs, states, view)
            continue
        else:
            batch = await session.store.messages(view.folder.id, chunk, structure=want_structure)
        newly_seen: set[int] = set()
        if mark_seen:
            batch, newly_seen = await _mark_seen(session, batch)
        needed = [items.bytes_needed(attrs, m.structure) if m.structure is not None else 0 for m in batch]
        contents = iter(await session.store.read_many([(m.sha256, n) for m, n in zip(batch, needed, strict=True) if n]))
        for message, length in zip(batch, needed, strict=True):
            content = next(contents) if length else b""
            number = view.msn(message.uid)
            if number is None:
                continue
            data = items.MessageData(
                number,
                message.uid,
                message.flags,
                message.modseq,
                message.internal_date,
                message.size,
                message.structure,
            )
            wanted = attrs
            if "FLAGS" not in attrs and message.uid in newly_seen:
                wanted = [*attrs, "FLAGS"]  # RFC 3501 §6.4.5: the implicit \Seen is reported
            rendered = Untagged(b"%d FETCH " % number + items.render(wanted, data, content))
            responses.append(rendered)
            pending_bytes += len(rendered.data)
        if pending_bytes > FLUSH_BYTES and session.flush is not None:
            await session.flush(responses)  # a FETCH 1:* BODY[] must not be held whole in memory
            responses = []
            pending_bytes = 0
    responses.append(ok(command.tag, "FETCH completed"))
    return Reply(responses)


def _render_states(attrs: list[items.FetchAttr], states: list[MessageState], view: FolderView) -> list[Response]:
    """``n FETCH (UID u FLAGS (...) MODSEQ (m))`` straight to bytes: a 100,000-message resync stays cheap."""
    out: list[Response] = []
    uids = view.uids
    count = len(uids)
    index = 0
    flag_lists: dict[tuple[str, ...], bytes] = {}  # a folder has few distinct flag sets
    for state in states:
        uid = state.uid
        # States come in UID order, as the view: walk both instead of a binary search per message.
        while index < count and uids[index] < uid:
            index += 1
        if index >= count or uids[index] != uid:
            continue
        flags = flag_lists.get(state.flags)
        if flags is None:
            flags = flag_lists[state.flags] = b"FLAGS (" + " ".join(state.flags).encode() + b")"
        parts = [
            b"UID %d" % uid if attr == "UID" else flags if attr == "FLAGS" else b"MODSEQ (%d)" % state.modseq
            for attr in attrs
        ]
        out.append(Untagged(b"%d FETCH (%b)" % (index + 1, b" ".join(parts))))
    return out


async def _mark_seen(session: Session, batch: list[StoredMessage]) -> tuple[list[StoredMessage], set[int]]:
    view = session.view
    assert view is not None
    unseen = [m.uid for m in batch if "\\Seen" not in m.flags]
    if not unseen:
        return batch, set()
    states, _ = await session.store.store_flags(view.folder.id, unseen, "+", ["\\Seen"], None)
    by_uid = {s.uid: s for s in states}
    out: list[StoredMessage] = []
    for message in batch:
        state = by_uid.get(message.uid)
        if state is None:
            out.append(message)
            continue
        view.reported(state.uid, state.modseq)
        updated = StoredMessage(
            message.uid,
            state.flags,
            state.modseq,
            message.internal_date,
            message.size,
            message.sha256,
            message.structure,
        )
        out.append(updated)
    return out, set(by_uid) & set(unseen)
