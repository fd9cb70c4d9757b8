"""Majority arithmetic: the one place that decides what "a majority of the voters" has done.

What this file owns, each rule by name (after the ``quorum`` package of etcd-io/raft):

- ``MajorityConfig.quorum`` — how many voters make a majority: more than half of them.
- ``committed_index`` — Raft §5.3: the highest log index that a majority of voters has stored.
- ``vote_result`` — Raft §5.2: an election is won by a majority of granted votes and lost once
  enough voters refused that a majority can no longer grant.
- ``has_quorum`` — CheckQuorum (thesis §6.2): were enough voters heard from recently for a leader to
  keep leading?
- ``confirmed_round`` — ReadIndex (thesis §6.4): the latest heartbeat round a majority has answered,
  which proves the leader was still leader when the round went out.

What it must never do: know about roles, messages, the log or time. Each function takes the facts
(who acknowledged what, who voted how, who was heard from) and returns a verdict.

A ``MajorityConfig`` is built from *voter* ids only. Facts about anyone else — a node that follows
the log without voting, or one being added to the cluster — are ignored by every function, so a
caller may pass what it knows about every peer it tracks. A membership change that needs two
majorities at once (joint consensus, thesis §4.3) combines two of these values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class VoteResult(StrEnum):
    PENDING = "pending"  # neither a majority granted nor a majority refused yet
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class MajorityConfig:
    voters: frozenset[str]
    quorum: int = field(init=False, compare=False)  # how many voters make a majority

    def __post_init__(self) -> None:
        if not self.voters:
            raise ValueError("a majority needs at least one voter")
        object.__setattr__(self, "quorum", len(self.voters) // 2 + 1)

    def committed_index(self, acked: Mapping[str, int]) -> int:
        """Raft §5.3: the highest index that a majority of voters has acknowledged storing.

        A voter missing from ``acked`` has acknowledged nothing (index 0). Whether that index may be
        committed by counting is the caller's decision (§5.4.2: only entries of the leader's term).
        """
        reached = sorted([acked.get(voter, 0) for voter in self.voters], reverse=True)
        return reached[self.quorum - 1]

    def confirmed_round(self, acked_rounds: Mapping[str, int]) -> int:
        """ReadIndex (thesis §6.4): the latest heartbeat round a majority of voters has answered;
        every read that waited on this round or an earlier one is confirmed. Missing voters: 0.
        The same count as ``committed_index``: the highest value a majority has reached."""
        return self.committed_index(acked_rounds)

    def vote_result(self, votes: Mapping[str, bool]) -> VoteResult:
        """Raft §5.2: won with a majority of granted votes; lost once the refusals leave too few
        voters to make one. Votes from non-voters do not count."""
        granted = refused = 0
        for voter in self.voters:
            vote = votes.get(voter)
            if vote is True:
                granted += 1
            elif vote is False:
                refused += 1
        if granted >= self.quorum:
            return VoteResult.WON
        if len(self.voters) - refused < self.quorum:
            return VoteResult.LOST
        return VoteResult.PENDING

    def has_quorum(self, ids: Iterable[str]) -> bool:
        """Do ``ids`` include a majority of the voters? CheckQuorum (thesis §6.2) asks it of the voters
        a leader heard from during the last election timeout."""
        return self.voters_among(ids) >= self.quorum

    def voters_among(self, ids: Iterable[str]) -> int:
        """How many distinct voters ``ids`` names; anyone else is not counted."""
        return len(self.voters.intersection(ids))
