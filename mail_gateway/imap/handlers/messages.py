"""APPEND, SEARCH (with ESEARCH, RFC 4731), STORE (with UNCHANGEDSINCE), COPY and MOVE (RFC 6851) with the
UIDPLUS response codes (RFC 4315)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mail_gateway.imap.errors import CommandRefused, NoSuchFolder, NotPermitted, OverQuota
from mail_gateway.imap.handlers.common import Reply, clean_flags
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol import matching
from mail_gateway.imap.protocol.response import Response, Status, Untagged, ok, string
from mail_gateway.imap.protocol.search import And, Key, Not, Or, SearchKey
from mail_gateway.imap.protocol.sequence_set import SequenceSet

if TYPE_CHECKING:
    from mail_gateway.imap.session import Session

BATCH = 200


async def append(session: Session, command: c.Append) -> Reply:
    folder = await session.store.folder(session.mailbox_id, command.mailbox)
    if folder is None:
        raise NoSuchFolder(f"{command.mailbox} does not exist", "TRYCREATE")  # RFC 3501 §6.3.11
    if not command.message:
        raise CommandRefused("an empty message cannot be stored")
    if len(command.message) > session.config.max_message_size:
        raise CommandRefused("the message is larger than APPENDLIMIT", "TOOBIG")  # RFC 7889 §4
    used, limit = await session.store.quota(session.mailbox_id)
    if limit is not None and used + len(command.message) > limit:
        raise OverQuota("the mailbox is full")
    flags = clean_flags([f for f in command.flags if f.lower() != "\\recent"])
    validity, uid = await session.store.append(session.mailbox_id, folder.id, command.message, flags, command.date)
    if session.view is not None and session.view.folder.id == folder.id:
        session.view.dirty = True
    return Reply([ok(command.tag, "APPEND completed", f"APPENDUID {validity} {uid}")])


def _has_modseq(key: SearchKey) -> bool:
    if isinstance(key, And):
        return any(_has_modseq(k) for k in key.keys)
    if isinstance(key, Or):
        return _has_modseq(key.left) or _has_modseq(key.right)
    if isinstance(key, Not):
        return _has_modseq(key.key)
    return key.name == "MODSEQ"


def _narrow(key: SearchKey, uids: list[int], session: Session) -> list[int]:
    """Apply top-level UID and sequence-set keys first, so ``UID 100:200 ...`` loads 101 messages, not all."""
    view = session.view
    assert view is not None
    keys = key.keys if isinstance(key, And) else (key,)
    for leaf in keys:
        if isinstance(leaf, Key) and leaf.name == "UID" and isinstance(leaf.value, SequenceSet):
            uids = leaf.value.select(uids, view.max_uid)
        elif isinstance(leaf, Key) and leaf.name == "SEQ" and isinstance(leaf.value, SequenceSet):
            chosen = set(leaf.value.select(range(1, view.exists + 1), view.exists))
            uids = [u for u in uids if view.msn(u) in chosen]
    return uids


async def search(session: Session, command: c.Search) -> Reply:
    view = session.view
    assert view is not None and command.key is not None
    key = command.key
    with_modseq = _has_modseq(key)
    if with_modseq:
        session.enabled.add("CONDSTORE")
    uids = _narrow(key, list(view.uids), session)
    bounds = matching.Bounds(view.exists, view.max_uid)
    level = matching.content_needed(key)
    want_structure = matching.structure_needed(key)
    found: list[tuple[int, int, int]] = []  # (msn, uid, modseq)
    for start in range(0, len(uids), BATCH):
        batch = await session.store.messages(view.folder.id, uids[start : start + BATCH], structure=want_structure)
        for message in batch:
            number = view.msn(message.uid)
            if number is None:
                continue
            content = b""
            if level and message.structure is not None:
                size = message.structure["part"]["header"][1] if level == matching.HEADER else message.size
                content = await session.store.read(message.sha256, size)
            candidate = matching.Candidate(
                number,
                message.uid,
                frozenset(message.flags),
                message.modseq,
                message.internal_date,
                message.size,
                message.structure,
                content,
            )
            if matching.matches(key, candidate, bounds):
                found.append((number, message.uid, message.modseq))
    numbers = [uid if command.uid else number for number, uid, _ in found]
    top_modseq = max((m for _, _, m in found), default=0)
    responses: list[Response] = []
    if command.returns is None:
        data = b"SEARCH" + b"".join(b" %d" % n for n in numbers)
        if with_modseq and numbers:
            data += b" (MODSEQ %d)" % top_modseq  # RFC 7162 §3.1.5
        responses.append(Untagged(data))
    else:
        responses.append(Untagged(_esearch(command, numbers, top_modseq if with_modseq else 0)))
    responses.append(ok(command.tag, "SEARCH completed"))
    return Reply(responses)


def _esearch(command: c.Search, numbers: list[int], modseq: int) -> bytes:
    """RFC 4731 §3.1."""
    parts = [b"ESEARCH (TAG " + string(command.tag) + b")"]
    if command.uid:
        parts.append(b"UID")
    returns = command.returns or ("ALL",)
    if numbers:
        if "MIN" in returns:
            parts.append(b"MIN %d" % min(numbers))
        if "MAX" in returns:
            parts.append(b"MAX %d" % max(numbers))
        if "ALL" in returns:
            parts.append(b"ALL " + str(SequenceSet.of(numbers)).encode())
    if "COUNT" in returns:
        parts.append(b"COUNT %d" % len(numbers))
    if modseq and numbers:
        parts.append(b"MODSEQ %d" % modseq)
    return b" ".join(parts)


async def store(session: Session, command: c.Store) -> Reply:
    view = session.view
    assert view is not None
    if view.readonly:
        raise NotPermitted("the folder is read-only (EXAMINE)", "READ-ONLY")
    if command.unchangedsince is not None:
        session.enabled.add("CONDSTORE")
    uids = view.resolve(command.messages, uid=command.uid)
    flags = clean_flags(command.flags)
    states, refused = await session.store.store_flags(view.folder.id, uids, command.mode, flags, command.unchangedsince)
    responses: list[Response] = []
    before = view.modseq
    for state in states:
        number = view.msn(state.uid)
        if number is None:
            continue
        changed = state.modseq > before
        view.reported(state.uid, state.modseq)
        if command.silent and not (session.condstore and changed):
            continue
        data = view.flags_data(number, state, condstore=session.condstore, uid=command.uid or session.qresync)
        responses.append(Untagged(data))
    newest = max((s.modseq for s in states), default=before)
    if newest == before + 1:
        view.modseq = newest  # one MODSEQ was allocated, ours: nobody changed the folder in between
    elif newest > before:
        view.dirty = True
    code = None
    if refused:
        code = "MODIFIED " + str(SequenceSet.of(refused if command.uid else _numbers(session, refused)))
    responses.append(ok(command.tag, "STORE completed", code))
    return Reply(responses)


def _numbers(session: Session, uids: list[int]) -> list[int]:
    view = session.view
    assert view is not None
    return [n for n in (view.msn(u) for u in uids) if n is not None]


async def copy(session: Session, command: c.Copy) -> Reply:
    view = session.view
    assert view is not None
    if command.move and view.readonly:
        raise NotPermitted("the folder is read-only (EXAMINE)", "READ-ONLY")
    target = await session.store.folder(session.mailbox_id, command.mailbox)
    if target is None:
        raise NoSuchFolder(f"{command.mailbox} does not exist", "TRYCREATE")  # RFC 3501 §6.4.7
    uids = view.resolve(command.messages, uid=command.uid)
    if not uids:
        return Reply([ok(command.tag, f"{command.name} completed")])
    used, limit = await session.store.quota(session.mailbox_id)
    if limit is not None and not command.move and used > limit:
        raise OverQuota("the mailbox is full")
    validity, pairs = await session.store.copy(view.folder.id, uids, target.id, move=command.move)
    if target.id == view.folder.id:
        view.dirty = True
    code = None
    if pairs:
        sources = str(SequenceSet.of([s for s, _ in pairs]))
        targets = str(SequenceSet.of([t for _, t in pairs]))
        code = f"COPYUID {validity} {sources} {targets}"
    if not command.move:
        return Reply([ok(command.tag, "COPY completed", code)])
    # RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
    responses: list[Response] = [Status("OK", "moved", code)] if code else []
    responses += view.flush_expunges(qresync=session.qresync)
    responses += view.remove([s for s, _ in pairs], qresync=session.qresync)
    view.dirty = True
    responses.append(ok(command.tag, "MOVE completed"))
    return Reply(responses)
