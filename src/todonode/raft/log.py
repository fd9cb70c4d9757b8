"""The in-memory view of one node's Raft log: entries after the last snapshot.

Indexes start at 1. Everything up to ``snapshot_index`` has been compacted into a snapshot; the log
remembers only that point's index and term, which is all the consistency check needs. This class
knows nothing about disks: the core tells the node, through ``Ready``, which entries to persist.
"""

from __future__ import annotations

from collections.abc import Sequence

from .messages import Entry


class CompactedError(LookupError):
    """The requested index lies inside the snapshot; its entry is gone."""


class RaftLog:
    def __init__(self, snapshot_index: int = 0, snapshot_term: int = 0, entries: Sequence[Entry] = ()):
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._entries: list[Entry] = []
        for e in entries:
            if e.index > snapshot_index:
                self._append_one(e)

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

    def truncate_from(self, index: int) -> None:
        """Drop every entry at ``index`` and above (a conflicting suffix, Raft §5.3)."""
        if index <= self.snapshot_index:
            raise CompactedError(index)
        del self._entries[index - self.first_index :]

    def compact(self, index: int, term: int) -> None:
        """Forget entries up to ``index``: a snapshot now covers them."""
        if index <= self.snapshot_index:
            return
        if index >= self.last_index:
            self._entries = []
        else:
            del self._entries[: index - self.snapshot_index]
        self.snapshot_index, self.snapshot_term = index, term

    def reset(self, index: int, term: int) -> None:
        """Discard the whole log in favour of a snapshot that ends at (index, term)."""
        self._entries = []
        self.snapshot_index, self.snapshot_term = index, term
