"""Planted bugs: each breaks exactly one rule of Raft, so the simulator can be shown to catch it.

Each mutant overrides the one small method of RaftNode that owns the rule (or, for the runtime bug,
sets a flag of the simulated node). If the simulator ever stops catching one of these, its checks
have gone blind.
"""

from __future__ import annotations

from todonode.raft import ClusterConfig, Entry, MajorityConfig, RaftNode


class VotesTwiceInOneTerm(RaftNode):
    """§5.2 broken: grants a vote to every up-to-date candidate, even after voting in this term."""

    def _may_vote_for(self, candidate: str) -> bool:
        return True


class SkipsUpToDateCheck(RaftNode):
    """§5.4.1 broken: votes for candidates whose logs are behind its own."""

    def _log_is_up_to_date(self, last_index: int, last_term: int) -> bool:
        return True


class CommitsOldTermByCounting(RaftNode):
    """§5.4.2 (Figure 8) broken: commits an entry of an earlier term once a majority stores it."""

    def _may_commit_by_count(self, index: int) -> bool:
        return True


class AppliesUncommitted(RaftNode):
    """§5.3 broken: hands out entries for applying as soon as they are in the log."""

    def _committed_to_apply(self) -> list[Entry]:
        if self._applied >= self.log.last_index:
            return []
        return self.log.entries(self._applied + 1)


class AppliesConfigOnlyAtCommit(RaftNode):
    """Thesis §4.1 broken: a server acts on the latest *committed* configuration in its log, not the
    latest one, so a leader goes on counting the old voters after appending a change."""

    def _config_in_effect(self) -> ClusterConfig:
        return self.log.config_at(self.commit)


class AllowsTwoChangesInFlight(RaftNode):
    """Thesis §4.1 broken: a leader proposes a change while the last one is still uncommitted, so a
    configuration two voters away from one still in use elsewhere can take effect."""

    def _one_change_at_a_time(self) -> bool:
        return True


class CountsLearnerVotes(RaftNode):
    """Thesis §4.2.1 broken: a candidate asks its learners for votes as well, and counts each grant
    towards the voters' majority."""

    def _electorate(self) -> MajorityConfig:
        voters = self.config.majority()
        everyone = MajorityConfig(frozenset(self.config.members))
        object.__setattr__(everyone, "quorum", voters.quorum)  # ... yet only the voters' count is needed
        return everyone


class LeasesWithoutDriftMargin(RaftNode):
    """Thesis §6.4.1 broken: the read lease lasts a whole election timeout by the leader's own clock, as
    if every clock ran at the same rate and a voter counted time from the very moment it was sent."""

    def _lease_ticks(self, drift_ticks: int) -> int:
        return self.opts.election_ticks


# name -> (node class, SimConfig overrides)
PLANTED_BUGS: dict[str, tuple[type[RaftNode], dict]] = {
    "vote twice in one term": (VotesTwiceInOneTerm, {}),
    "skip the up-to-date check": (SkipsUpToDateCheck, {}),
    "commit an old-term entry by counting replicas": (CommitsOldTermByCounting, {}),
    "send a vote before persisting it": (RaftNode, {"bug_send_before_persist": True}),
    "apply an uncommitted entry": (AppliesUncommitted, {}),
    "apply a configuration only at commit": (AppliesConfigOnlyAtCommit, {}),
    "allow two configuration changes in flight": (AllowsTwoChangesInFlight, {}),
    "count a learner's vote": (CountsLearnerVotes, {}),
    "lease a read without the drift margin": (LeasesWithoutDriftMargin, {}),
    "keep the read lease through a pause": (RaftNode, {"bug_lease_through_pause": True}),
}
