"""Folder commands of the authenticated state: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB,
STATUS (RFC 3501 §6.3), with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154),
CHILDREN (RFC 3348) and QUOTA (RFC 9208)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mail_gateway.imap.errors import FolderExists, NoSuchFolder, NotPermitted, ProtocolError
from mail_gateway.imap.handlers.common import Reply, check_name, mailbox_name, parents
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol.reader import normalise_mailbox
from mail_gateway.imap.protocol.response import Response, Untagged, ok, plist
from mail_gateway.imap.store import DELIMITER, FolderCounts, FolderInfo

if TYPE_CHECKING:
    from mail_gateway.imap.session import Session

SPECIAL_USES = frozenset({"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"})
MAX_PATTERN = 1000


async def create(session: Session, command: c.Create) -> Reply:
    name = check_name(command.mailbox)
    if name == "INBOX":
        raise FolderExists("INBOX always exists")
    uses = list(command.special_use)
    if any(use not in SPECIAL_USES for use in uses) or len(uses) > 1:
        raise NotPermitted("unsupported special use", "USEATTR")  # RFC 6154 §3
    existing = {f.name for f in await session.store.folders(session.mailbox_id)}
    if name in existing:
        raise FolderExists(f"{name} already exists")
    # RFC 3501 §6.3.3: create the superior levels too, so every level is a real folder.
    for parent in parents(name):
        if parent not in existing and parent != "INBOX":
            await session.store.create_folder(session.mailbox_id, parent)
    await session.store.create_folder(session.mailbox_id, name, uses[0] if uses else None)
    return Reply([ok(command.tag, "CREATE completed")])


async def delete(session: Session, command: c.Delete) -> Reply:
    name = command.mailbox
    if name == "INBOX":
        raise NotPermitted("INBOX cannot be deleted")  # RFC 3501 §6.3.4
    names = {f.name for f in await session.store.folders(session.mailbox_id)}
    if name not in names:
        raise NoSuchFolder(f"{name} does not exist")
    # RFC 3501 §6.3.4: subfolders stay; the name lives on as a \Noselect level of the hierarchy in LIST.
    if session.view is not None and session.view.folder.name == name:
        session.deselect()
    await session.store.delete_folder(session.mailbox_id, name)
    return Reply([ok(command.tag, "DELETE completed")])


async def rename(session: Session, command: c.Rename) -> Reply:
    new = check_name(command.new)
    old = command.old
    if new == "INBOX" or new.startswith(old + DELIMITER):
        raise NotPermitted(f"cannot rename {old} to {new}")
    names = {f.name for f in await session.store.folders(session.mailbox_id)}
    if old not in names:
        raise NoSuchFolder(f"{old} does not exist")
    if new in names:
        raise FolderExists(f"{new} already exists")
    for parent in parents(new):
        if parent not in names and parent != old and not parent.startswith(old + DELIMITER):
            await session.store.create_folder(session.mailbox_id, parent)
    await session.store.rename_folder(session.mailbox_id, old, new)
    return Reply([ok(command.tag, "RENAME completed")])


async def subscribe(session: Session, command: c.Subscribe) -> Reply:
    await session.store.set_subscribed(session.mailbox_id, command.mailbox, command.subscribe)
    return Reply([ok(command.tag, f"{command.name} completed")])


def _pattern(reference: str, pattern: str) -> re.Pattern[str]:
    """RFC 3501 §6.3.8: ``*`` matches anything, ``%`` anything but the hierarchy delimiter."""
    full = normalise_mailbox(reference + pattern)
    if len(full) > MAX_PATTERN or full.count("*") + full.count("%") > 20:
        raise ProtocolError("LIST pattern too long or with too many wildcards")
    regex = "".join(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in full)
    return re.compile(regex + r"\Z", re.DOTALL)


async def list_(session: Session, command: c.List) -> Reply:
    if not command.lsub and command.patterns == ("",):
        # RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root.
        return Reply([Untagged(b'LIST (\\Noselect) "/" ""'), ok(command.tag, "LIST completed")])
    folders = await session.store.folders(session.mailbox_id)
    by_name = {f.name: f for f in folders}
    virtual = {p for f in folders for p in parents(f.name)} - set(by_name)
    patterns = [_pattern(command.reference, p) for p in command.patterns]
    subscribed_only = command.lsub or "SUBSCRIBED" in command.selection
    special_only = "SPECIAL-USE" in command.selection
    recursive = "RECURSIVEMATCH" in command.selection
    show_subscribed = subscribed_only or "SUBSCRIBED" in command.returns
    responses: list[Response] = []
    for name in sorted(set(by_name) | virtual, key=lambda n: (n != "INBOX", n)):
        if not any(p.match(name) for p in patterns):
            continue
        folder = by_name.get(name)
        children = [f for f in folders if f.name.startswith(name + DELIMITER)]
        attrs: list[str] = []
        extra = b""
        if folder is None:
            attrs.append("\\NonExistent" if command.extended else "\\Noselect")
        if subscribed_only and (folder is None or not folder.subscribed):
            if not (recursive and any(child.subscribed for child in children)):
                continue
            extra = b' ("CHILDINFO" ("SUBSCRIBED"))'
        if special_only and (folder is None or not folder.special_use):
            continue
        if not command.lsub:
            attrs.append("\\HasChildren" if children else "\\HasNoChildren")
        if folder is not None:
            if show_subscribed and folder.subscribed and not command.lsub:
                attrs.append("\\Subscribed")
            if folder.special_use:
                attrs.append(folder.special_use)
        verb = b"LSUB " if command.lsub else b"LIST "
        data = verb + plist(a.encode() for a in attrs) + b' "/" ' + mailbox_name(name) + extra
        responses.append(Untagged(data))
        if command.status_items and folder is not None:
            counts = await session.store.counts(folder.id)
            responses.append(Untagged(status_data(name, command.status_items, counts)))
    responses.append(ok(command.tag, f"{command.name} completed"))
    return Reply(responses)


def status_data(name: str, items: tuple[str, ...], counts: FolderCounts) -> bytes:
    values = {
        "MESSAGES": counts.messages,
        "RECENT": 0,  # \Recent is not kept (RFC 9051 drops it); 0 is always true
        "UIDNEXT": counts.uidnext,
        "UIDVALIDITY": counts.uidvalidity,
        "UNSEEN": counts.unseen,
        "HIGHESTMODSEQ": counts.highestmodseq,
        "SIZE": counts.size,
        "DELETED": counts.deleted,
    }
    return b"STATUS " + mailbox_name(name) + b" " + plist(b"%s %d" % (i.encode(), values[i]) for i in items)


async def _folder(session: Session, name: str) -> FolderInfo:
    folder = await session.store.folder(session.mailbox_id, name)
    if folder is None:
        raise NoSuchFolder(f"{name} does not exist")
    return folder


async def status(session: Session, command: c.Status) -> Reply:
    folder = await _folder(session, command.mailbox)
    counts = await session.store.counts(folder.id)
    if "HIGHESTMODSEQ" in command.items:
        session.enabled.add("CONDSTORE")  # RFC 7162 §3.1: a CONDSTORE enabling command
    return Reply([Untagged(status_data(folder.name, command.items, counts)), ok(command.tag, "STATUS completed")])


async def _quota_data(session: Session) -> bytes:
    used, limit = await session.store.quota(session.mailbox_id)
    if limit is None:
        return b'QUOTA "" ()'
    # RFC 9208 §5.1: STORAGE is counted in units of 1024 octets.
    return b'QUOTA "" (STORAGE %d %d)' % ((used + 1023) // 1024, limit // 1024)


async def getquotaroot(session: Session, command: c.GetQuotaRoot) -> Reply:
    folder = await _folder(session, command.mailbox)
    root = Untagged(b"QUOTAROOT " + mailbox_name(folder.name) + b' ""')
    return Reply([root, Untagged(await _quota_data(session)), ok(command.tag, "GETQUOTAROOT completed")])


async def getquota(session: Session, command: c.GetQuota) -> Reply:
    if command.root != "":
        raise NoSuchFolder('the only quota root is ""')
    return Reply([Untagged(await _quota_data(session)), ok(command.tag, "GETQUOTA completed")])
