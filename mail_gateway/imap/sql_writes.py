"""The writing side of the SQL store shared by its operations: UID and MODSEQ allocation, removal with
``expunged_uids``, and COPY/MOVE between folders (see :mod:`mail_gateway.imap.sql_store` for the rules)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mail_gateway.imap.errors import NoSuchFolder
from mail_gateway.store.models import ExpungedUid, Folder, FolderMessage, Mailbox, MessageContent

CHUNK = 500  # bound parameters per IN (...) list


def has_flag(flag: str) -> ColumnElement[bool]:
    padded = literal(" ") + FolderMessage.flags + literal(" ")
    return padded.contains(f" {flag} ", autoescape=True)


def uid_filter(uids: Sequence[int]) -> list[ColumnElement[bool]]:
    """Conditions selecting ``uids``: a BETWEEN for a dense run (``1:*`` on a large folder), IN lists else."""
    if not uids:
        return [FolderMessage.uid.in_([])]
    low, high = min(uids), max(uids)
    if len(uids) > CHUNK and high - low < 4 * len(uids):
        return [FolderMessage.uid.between(low, high)]
    ordered = sorted(uids)
    return [FolderMessage.uid.in_(ordered[i : i + CHUNK]) for i in range(0, len(ordered), CHUNK)]


async def bump(session: AsyncSession, folder_id: int, uids: int = 0) -> tuple[int, int, int]:
    """Allocate one MODSEQ (and ``uids`` UIDs) in a folder: (modseq, first uid, uidvalidity)."""
    row = (
        await session.execute(
            update(Folder)
            .where(Folder.id == folder_id)
            .values(highestmodseq=Folder.highestmodseq + 1, uidnext=Folder.uidnext + uids)
            .returning(Folder.highestmodseq, Folder.uidnext, Folder.uidvalidity)
        )
    ).first()
    if row is None:
        raise NoSuchFolder("the folder no longer exists")
    modseq, uidnext, validity = row
    return int(modseq), int(uidnext) - uids, int(validity)


async def remove(session: AsyncSession, folder_id: int, uids: list[int]) -> int:
    """Delete messages from a folder, remember their UIDs, release their bytes; return the MODSEQ used."""
    modseq, _, _ = await bump(session, folder_id)
    mailbox_id = await session.scalar(select(Folder.mailbox_id).where(Folder.id == folder_id))
    size = 0
    for i in range(0, len(uids), CHUNK):
        chunk = uids[i : i + CHUNK]
        size += int(
            await session.scalar(
                select(func.coalesce(func.sum(MessageContent.size), 0))
                .join(FolderMessage, FolderMessage.content_id == MessageContent.id)
                .where(FolderMessage.folder_id == folder_id, FolderMessage.uid.in_(chunk))
            )
            or 0
        )
        await session.execute(
            delete(FolderMessage).where(FolderMessage.folder_id == folder_id, FolderMessage.uid.in_(chunk))
        )
    await session.execute(insert(ExpungedUid), [{"folder_id": folder_id, "uid": uid, "modseq": modseq} for uid in uids])
    await session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(used_bytes=Mailbox.used_bytes - size))
    return modseq


async def transfer(session: AsyncSession, folder_id: int, uids: Sequence[int], target_id: int, *, move: bool) -> int:
    _, _, source_modseq, _ = await transfer_pairs(session, folder_id, uids, target_id, move=move)
    return source_modseq


async def transfer_pairs(
    session: AsyncSession, folder_id: int, uids: Sequence[int], target_id: int, *, move: bool
) -> tuple[int, list[tuple[int, int]], int, int]:
    wanted = set(uids)
    rows: list[tuple[int, int, str, datetime, int]] = []
    for condition in uid_filter(uids):
        result = await session.execute(
            select(
                FolderMessage.uid,
                FolderMessage.content_id,
                FolderMessage.flags,
                FolderMessage.internal_date,
                MessageContent.size,
            )
            .join(MessageContent, MessageContent.id == FolderMessage.content_id)
            .where(FolderMessage.folder_id == folder_id, condition)
        )
        rows += [(int(r[0]), int(r[1]), r[2], r[3], int(r[4])) for r in result if r[0] in wanted]
    rows.sort()
    # Lock folders in id order: two COPY in opposite directions cannot deadlock.
    locked: dict[int, tuple[int, int, int]] = {}
    for fid in sorted({folder_id, target_id}):
        locked[fid] = await bump(session, fid, len(rows) if fid == target_id else 0)
    target_modseq, first_uid, validity = locked[target_id]
    pairs = [(row[0], first_uid + i) for i, row in enumerate(rows)]
    if rows:
        await session.execute(
            insert(FolderMessage),
            [
                {
                    "folder_id": target_id,
                    "uid": new,
                    "content_id": row[1],
                    "flags": row[2],
                    "modseq": target_modseq,
                    "internal_date": row[3],
                }
                for row, (_, new) in zip(rows, pairs, strict=True)
            ],
        )
    source_modseq = locked[folder_id][0]
    if rows:
        mailbox_id = await session.scalar(select(Folder.mailbox_id).where(Folder.id == target_id))
        await session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id)
            .values(used_bytes=Mailbox.used_bytes + sum(row[4] for row in rows))
        )
    if rows and move:
        source_modseq = await remove(session, folder_id, [row[0] for row in rows])
    return validity, pairs, source_modseq, target_modseq
