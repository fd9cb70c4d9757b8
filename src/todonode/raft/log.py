"""The in-memory view of one node's Raft log: entries after the last snapshot, and how far it is durable.

Indexes start at 1. Everything up to ``snapshot_index`` has been compacted into a snapshot; the log
remembers only that point's index and term, which is all the consistency check needs.

The log also owns its durable boundary (as etcd-io/raft's ``log_unstable.go`` does), so that no rule
that changes the log has any bookkeeping of its own to remember. Its entries fall in three parts:

    first_index .. durable_index     known to be on disk (``persisted`` said so)
    .. the first unstable index      handed out for persisting (``take_unstable``), not yet confirmed
    .. last_index                    unstable: still to be handed out

- ``append`` adds unstable entries.
- ``truncate_from`` (a conflicting suffix, Raft §5.3) hands its replacements out again and lowers the
  durable index below the cut: what is on disk there is no longer this log.
- ``restore`` (a snapshot from the leader, thesis §5) replaces the whole log; the snapshot itself is
  unstable until handed out, and only what the previous snapshot covered stays known durable.
- ``persisted`` reports what a handed-out batch made durable. A batch handed out before a truncation
  may report entries the log no longer holds; they are ignored, and their replacements are reported
  by a later batch.

For the same reason the log knows which cluster configuration each part of it holds (thesis §4.1: a
server uses the latest configuration in its log, committed or not): ``append``, ``truncate_from``,
``compact`` and ``restore`` keep a ``ConfigHistory`` in step, so a configuration entry that is cut
away takes its configuration with it and no caller has to remember to go back to the one before.

This class knows nothing about disks: the core hands the unstable part to the node through ``Ready``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .membership import ConfigHistory
from .messages import ClusterConfig, Entry, EntryKind, Snapshot, decode_config

NO_MEMBERS = ClusterConfig(voters=())
_CONFIG = EntryKind.CONFIG


class CompactedError(LookupError):
    """The requested index lies inside the snapshot; its entry is gone."""


class RaftLog:
    def __init__(
        self,
        snapshot_index: int = 0,
        snapshot_term: int = 0,
        entries: Sequence[Entry] = (),
        config: ClusterConfig = NO_MEMBERS,
    ):
        """``config`` is the configuration in effect at ``snapshot_index``: the snapshot's, or the one
        a brand-new cluster starts from."""
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._configs = ConfigHistory(snapshot_index, config)
        self._entries: list[Entry] = []
        for e in entries:
            if e.index > snapshot_index:
                self._append_one(e)
        # What the log starts from was read back from disk: all of it is durable.
        self._durable = self.last_index
        self._unstable_from = self.last_index + 1  # the first entry not yet handed out for persisting
        self._unstable_snapshot: Snapshot | None = None

    # ---------------------------------------------------------------------------------------- queries

    @property
    def first_index(self) -> int:
        return self.snapshot_index + 1

    @property
    def last_index(self) -> int:
        return self.snapshot_index + len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.snapshot_term

    @property
    def durable_index(self) -> int:
        """The last index known to be on disk: a leader counts its own log toward a majority only
        this far (thesis §10.2.1), because it writes its entries while it replicates them."""
        return self._durable

    def term_at(self, index: int) -> int | None:
        """Term of the entry at ``index``; 0 for index 0; None if beyond the end.

        Raises CompactedError for an index inside the snapshot (other than its last one).
        """
        if index == self.snapshot_index:
            return self.snapshot_term
        if index < self.snapshot_index:
            raise CompactedError(index)
        if index > self.last_index:
            return None
        return self._entries[index - self.first_index].term

    def matches(self, index: int, term: int) -> bool:
        """Raft's consistency check: do we hold an entry at ``index`` with ``term``?"""
        try:
            return self.term_at(index) == term
        except CompactedError:
            # Everything inside the snapshot is committed, and committed entries match every leader's.
            return True

    def entries(self, lo: int, hi: int | None = None, max_count: int | None = None) -> list[Entry]:
        """Entries with lo <= index <= hi (hi defaults to the last index)."""
        if lo < self.first_index:
            raise CompactedError(lo)
        hi = self.last_index if hi is None else min(hi, self.last_index)
        if max_count is not None:
            hi = min(hi, lo + max_count - 1)
        if hi < lo:
            return []
        base = self.first_index
        return self._entries[lo - base : hi - base + 1]

    def first_index_of_term(self, index: int) -> int:
        """The first index of the run of entries that share the term of the entry at ``index``.

        Used for the fast back-off hint a follower returns on a rejected AppendEntries.
        """
        term = self.term_at(index)
        i = index
        while i - 1 > self.snapshot_index and self.term_at(i - 1) == term:
            i -= 1
        return i

    def last_index_of_term(self, term: int) -> int | None:
        """The highest index holding ``term``, if any (the leader's side of fast back-off)."""
        for e in reversed(self._entries):
            if e.term == term:
                return e.index
            if e.term < term:
                return None
        return None

    @property
    def config(self) -> ClusterConfig:
        """The latest configuration in the log, committed or not (thesis §4.1)."""
        return self._configs.latest

    @property
    def config_index(self) -> int:
        """Where ``config`` was appended (at or below ``snapshot_index`` when it came with the log's
        start: a snapshot or the bootstrap configuration)."""
        return self._configs.latest_index

    def config_at(self, index: int) -> ClusterConfig:
        """The configuration in effect when the log ended at ``index`` (``index`` >= snapshot_index)."""
        return self._configs.at(index)

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Raft §5.4.1: a log with a later last term, or the same last term and at least as many
        entries, is at least as up to date as ours."""
        return (last_term, last_index) >= (self.last_term, self.last_index)

    # -------------------------------------------------------------------------------------- mutations

    def append(self, entries: Sequence[Entry]) -> None:
        for e in entries:
            self._append_one(e)

    def _append_one(self, e: Entry) -> None:
        if e.index != self.last_index + 1:
            raise ValueError(f"log gap: appending index {e.index} after {self.last_index}")
        self._entries.append(e)
        if e.kind is _CONFIG:
            self._configs.record(e.index, decode_config(e.data))

    def truncate_from(self, index: int) -> None:
        """Drop every entry at ``index`` and above (a conflicting suffix, Raft §5.3). What replaces
        them must be persisted anew, and what the disk holds from ``index`` on is no longer ours."""
        if index <= self.snapshot_index:
            raise CompactedError(index)
        del self._entries[index - self.first_index :]
        self._configs.truncate_from(index)
        self._unstable_from = min(self._unstable_from, index)
        self._durable = min(self._durable, index - 1)

    def compact(self, index: int, term: int) -> None:
        """Forget entries up to ``index``: a snapshot the caller saved now covers them."""
        if index <= self.snapshot_index:
            return
        if index >= self.last_index:
            self._entries = []
        else:
            del self._entries[: index - self.snapshot_index]
        self.snapshot_index, self.snapshot_term = index, term
        self._configs.compact(index)
        self._unstable_from = max(self._unstable_from, index + 1)

    def restore(self, snapshot: Snapshot) -> None:
        """Discard the whole log in favour of ``snapshot`` (thesis §5), which must now be persisted.
        Until it is, only what the previous snapshot covered is known to be on disk."""
        self._durable = min(self._durable, self.snapshot_index)
        self._entries = []
        self.snapshot_index, self.snapshot_term = snapshot.meta.index, snapshot.meta.term
        self._configs.reset(snapshot.meta.index, snapshot.meta.config)
        self._unstable_from = self.snapshot_index + 1
        self._unstable_snapshot = snapshot

    # --------------------------------------------------------------------------------- durability

    def has_unstable(self) -> bool:
        """Is there a snapshot or an entry not yet handed out for persisting?"""
        # Spelled out rather than through last_index: the node asks several times per write.
        return (
            self._unstable_from <= self.snapshot_index + len(self._entries)
            or self._unstable_snapshot is not None
        )

    def take_unstable(self) -> tuple[Snapshot | None, tuple[Entry, ...]]:
        """Hand out what must be persisted next: the snapshot the log was restored from, if it has
        not been handed out yet, and every entry not handed out yet. They count as durable only once
        ``persisted`` reports them."""
        snapshot, self._unstable_snapshot = self._unstable_snapshot, None
        entries = tuple(self.entries(self._unstable_from))
        self._unstable_from = self.last_index + 1
        return snapshot, entries

    def persisted(self, snapshot: Snapshot | None, entries: Sequence[Entry]) -> None:
        """The caller made a batch from ``take_unstable`` durable. Whatever this log no longer holds
        (a truncation or a newer snapshot replaced it since) is ignored."""
        if snapshot is not None:
            self._stable_to(snapshot.meta.index, snapshot.meta.term)
        if entries:
            self._stable_to(entries[-1].index, entries[-1].term)

    def _stable_to(self, index: int, term: int) -> None:
        # Log Matching (Raft §5.3): if we still hold (index, term), we hold everything before it as
        # it was handed out, so all of it is on disk now.
        if index > self._durable and self.matches(index, term):
            self._durable = index
