"""What a leader knows about each follower's log, and how fast it may send to it.

A follower is in one of three replication states (as in etcd's raft):

- PROBE: we do not know where its log diverges from ours. Send one AppendEntries at a time and wait
  for the answer (or the next heartbeat) before sending another.
- REPLICATE: its log matches ours up to ``match``. Stream entries optimistically, advancing ``next``
  as we send, with at most ``max_inflight`` unacknowledged messages so one slow follower cannot make
  the leader queue without bound.
- SNAPSHOT: it needs entries we have compacted away; a snapshot is on its way. Send nothing else.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum


class ReplicationState(StrEnum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Progress:
    def __init__(self, next_index: int, max_inflight: int):
        self.match = 0
        self.next = next_index
        self.state = ReplicationState.PROBE
        self.probe_sent = False  # PROBE: an append is outstanding; wait for its answer or a heartbeat
        self.pending_snapshot = 0  # SNAPSHOT: index of the snapshot in flight
        self.inflight: deque[int] = deque()  # REPLICATE: last index of each unacknowledged append
        self.max_inflight = max_inflight
        self.recent_active = False  # heard from it since the last CheckQuorum round
        self.acked_round = 0  # highest heartbeat round it answered (ReadIndex)
        self.waiting_since = 0  # tick since which an answer is awaited (stalled replication is restarted)
        self.commit_sent = 0  # highest commit index this follower has been told it may apply
        self.last_contact_tick: int | None = None  # for /cluster/status, never for safety
        self.caught_up_since: int | None = None  # leader preference: when it last became caught up

    def is_paused(self) -> bool:
        """May the leader send this follower another append right now?"""
        if self.state is ReplicationState.PROBE:
            return self.probe_sent
        if self.state is ReplicationState.SNAPSHOT:
            return True
        return len(self.inflight) >= self.max_inflight

    def become_probe(self) -> None:
        # After a snapshot, resume just past it; otherwise from the first index not known to match.
        self.next = max(self.match + 1, self.pending_snapshot + 1)
        self.state = ReplicationState.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflight.clear()

    def become_replicate(self) -> None:
        self.next = self.match + 1
        self.state = ReplicationState.REPLICATE
        self.probe_sent = False
        self.inflight.clear()

    def become_snapshot(self, index: int) -> None:
        self.state = ReplicationState.SNAPSHOT
        self.pending_snapshot = index
        self.inflight.clear()

    def sent_entries(self, last_index: int) -> None:
        """Record an append that carried entries up to ``last_index``."""
        if self.state is ReplicationState.REPLICATE:
            self.next = last_index + 1
            self.inflight.append(last_index)
        elif self.state is ReplicationState.PROBE:
            self.probe_sent = True

    def acknowledge(self, match: int) -> bool:
        """The follower's log matches ours up to ``match``. Returns True if that is news."""
        if match <= self.match:
            return False
        self.match = match
        self.next = max(self.next, match + 1)
        while self.inflight and self.inflight[0] <= match:
            self.inflight.popleft()
        return True

    def forget_match(self, index: int) -> None:
        """The follower lost entries it had acknowledged (a damaged disk): it holds only up to
        ``index`` now. Lowering ``match`` is safe: commit never moves back, it only advances later."""
        self.match = min(self.match, index)
        self.commit_sent = min(self.commit_sent, index)
        self.become_probe()

    def reject(self, rejected: int, hint: int) -> bool:
        """An append whose prev_index was ``rejected`` failed; retry from ``hint``.

        Returns False when the rejection is stale (it answers an append older than what we already
        know matches), so a reordered reply cannot drag ``next`` backwards.
        """
        if self.state is ReplicationState.REPLICATE:
            if rejected <= self.match:
                return False
            self.become_probe()
        elif rejected != self.next - 1:
            return False
        self.next = max(min(hint, rejected), self.match + 1)
        self.probe_sent = False
        return True
