"""The leader's read lease (thesis §6.4.1, etcd's ReadOnlyLeaseBased): a linearizable read answered
at once, without a heartbeat round, while no other leader can exist yet.

Why it holds: a voter that heard from its leader within the minimum election timeout grants no vote
(thesis §4.2.3, ``_in_leader_lease`` in core.py), and one that has just started grants none for an
election timeout either, in case it answered a lease-holding leader just before it stopped. So once a
majority has answered a heartbeat round, no other leader can be elected until an election timeout
after the round went out — measured by the voters' clocks. The leader measures with its own, so its
lease ends earlier by a margin for how far clocks may drift apart in that time, and by one tick more:
a voter counts whole ticks from a message that may arrive just before its next tick.

Nothing here reads a clock: time is the core's tick count. A runtime whose ticks fell behind real time
(its event loop or its process was stopped) must call ``expire``: ticks then undercount the time that
passed, and a lease measured in them would outlast the voters' patience.
"""

from __future__ import annotations

from .messages import ClusterConfig


def lease_ticks(election_ticks: int, drift_ticks: int) -> int:
    """How long a lease lasts from the tick its round went out: an election timeout, less one tick for
    a voter's whole-tick count and the drift margin (the module docstring says why)."""
    return election_ticks - 1 - drift_ticks


class ReadLease:
    def __init__(self, length: int) -> None:
        if length < 1:
            raise ValueError(
                f"a lease of {length} ticks: the drift margin leaves no lease within an election timeout"
            )
        self.length = length
        self._sent_at: dict[int, int] = {}  # heartbeat round -> the tick it went out at
        self._until = 0  # the lease holds while the tick count is below this
        self._config: ClusterConfig | None = None  # the configuration whose majority granted it

    def round_sent(self, round_: int, now: int) -> None:
        self._sent_at[round_] = now

    def round_confirmed(self, round_: int, config: ClusterConfig) -> None:
        """A majority of ``config``'s voters answered ``round_`` (or a later one)."""
        sent_at = self._sent_at.get(round_)
        if sent_at is None:
            return
        self._until = max(self._until, sent_at + self.length)
        self._config = config
        self._sent_at = {r: t for r, t in self._sent_at.items() if r > round_}

    def holds(self, now: int, config: ClusterConfig) -> bool:
        """Whether a read may be answered now without a round. A lease granted by the majority of
        another configuration binds nobody under this one."""
        return now < self._until and config == self._config

    def expire(self) -> None:
        """Until a round sent from now on is confirmed, every read takes a round."""
        self._sent_at.clear()
        self._until = 0
        self._config = None
