"""One session's view of its selected folder: message numbers, and when it may learn of others' changes.

RFC 3501 §2.3.1.2 and §7.4.1: message sequence numbers change only when the session is told (EXPUNGE);
EXPUNGE must not be sent while a FETCH, STORE or SEARCH by sequence number is running, so expunges seen then
are kept pending and the messages keep their numbers. New messages are announced with EXISTS, flag changes by
others with FETCH (FLAGS) (plus UID under QRESYNC, MODSEQ under CONDSTORE, RFC 7162 §3.1.4, §3.2.10), and with
QRESYNC enabled expunges are reported as VANISHED (RFC 7162 §3.2.10).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence

from mail_gateway.imap.protocol.response import Response, Untagged, plist
from mail_gateway.imap.protocol.sequence_set import SequenceSet
from mail_gateway.imap.store import Changes, FolderInfo, FolderWatch, MessageState


class FolderView:
    def __init__(self, folder: FolderInfo, uids: Sequence[int], watch: FolderWatch, *, readonly: bool) -> None:
        self.folder = folder
        self.readonly = readonly
        self.uids = array("I", uids)  # 4 bytes per message: 100,000 messages cost 400 KB per session
        self.modseq = folder.highestmodseq
        self.watch = watch
        self.pending_expunge: set[int] = set()
        self._reported: dict[int, int] = {}  # uid -> MODSEQ of flags already sent to the client
        self.dirty = False  # this session changed the folder: look again even without a notification

    @property
    def exists(self) -> int:
        return len(self.uids)

    @property
    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def msn(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def resolve(self, messages: SequenceSet, *, uid: bool) -> list[int]:
        """UIDs (ascending) named by a sequence set of UIDs or of message numbers."""
        if uid:
            # RFC 3501 §6.4.8: "*" is the largest UID in use; a range beyond it still selects that one.
            return messages.select(self.uids, self.max_uid)
        return [self.uids[n - 1] for n in messages.indexes(len(self.uids))]

    def reported(self, uid: int, modseq: int) -> None:
        self._reported[uid] = max(modseq, self._reported.get(uid, 0))

    def apply(
        self,
        changes: Changes,
        *,
        allow_expunge: bool,
        condstore: bool,
        qresync: bool,
    ) -> list[Response]:
        responses: list[Response] = []
        gone = [uid for uid in changes.expunged if self.msn(uid) is not None]
        self.pending_expunge.update(gone)
        if allow_expunge:
            responses += self.flush_expunges(qresync=qresync)
        before = len(self.uids)
        fetches: list[Response] = []
        top = self.max_uid
        for state in sorted(changes.changed, key=lambda s: s.uid):
            if state.uid > top:
                self.uids.append(state.uid)
                top = state.uid
                self._reported[state.uid] = state.modseq
                continue
            number = self.msn(state.uid)
            if number is None or state.uid in self.pending_expunge:
                continue
            if state.modseq <= self._reported.get(state.uid, 0):
                continue
            self._reported[state.uid] = state.modseq
            fetches.append(Untagged(self.flags_data(number, state, condstore=condstore, uid=qresync)))
        if len(self.uids) != before:
            responses += [Untagged(b"%d EXISTS" % len(self.uids)), Untagged(b"0 RECENT")]
        self.modseq = max(self.modseq, changes.highestmodseq)
        return responses + fetches

    def flush_expunges(self, *, qresync: bool) -> list[Response]:
        if not self.pending_expunge:
            return []
        gone = sorted(self.pending_expunge)
        self.pending_expunge.clear()
        return self.remove(gone, qresync=qresync)

    def remove(self, uids: Sequence[int], *, qresync: bool) -> list[Response]:
        """Drop expunged UIDs from the view and say so: EXPUNGE from the highest number down, or VANISHED."""
        numbers = sorted((n for n in (self.msn(uid) for uid in uids) if n is not None), reverse=True)
        present = [self.uids[n - 1] for n in numbers]
        for number in numbers:
            del self.uids[number - 1]
        for uid in present:
            self._reported.pop(uid, None)
        self.pending_expunge.difference_update(uids)
        if not numbers:
            return []
        if qresync:
            return [Untagged(b"VANISHED " + str(SequenceSet.of(present)).encode())]
        return [Untagged(b"%d EXPUNGE" % n) for n in numbers]

    @staticmethod
    def flags_data(number: int, state: MessageState, *, condstore: bool, uid: bool) -> bytes:
        items = [b"FLAGS", plist(f.encode() for f in state.flags)]
        if uid:
            items += [b"UID", b"%d" % state.uid]
        if condstore:
            items += [b"MODSEQ", b"(%d)" % state.modseq]
        return b"%d FETCH " % number + plist(items)
