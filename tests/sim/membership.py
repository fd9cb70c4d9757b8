"""The simulated runtime's side of membership: what the operator wants, and the changes that get there.

The nemesis asks for changes (a brand-new node with a fresh disk and a new id, a promotion, a removal
of a voter, a learner or the leader, a replacement); ``Membership`` records each as the role a member
should have. On every tick of the leader it proposes a change that brings the leader's configuration
closer to that — mostly adds first, then promotions of learners that have caught up, then removals, so
a replacement is add, promote, remove — and goes on as long as the core takes them: the core alone
decides when a change may go in (one in flight, not before the leader committed its term).

The decisions here are the runtime's, as the core's design leaves them: when a learner is caught up
enough to promote (``CAUGHT_UP_LAG``), and how few voters the operator may ask for (``MIN_VOTERS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from todonode.raft import Accepted, ChangeKind, ConfigChange, RaftNode

if TYPE_CHECKING:
    from .cluster import SimCluster

VOTER, LEARNER, GONE = "voter", "learner", "gone"
MEMBERSHIP_FAULTS = ("add_learner", "promote", "remove", "remove_leader", "replace", "decommission")
CAUGHT_UP_LAG = 5  # a learner within this many entries of the leader's last one is promoted
MIN_VOTERS = 2  # the nemesis never asks for fewer voters than this
VOTERS_AFTER_HEALING = 3  # enough that the leader can be killed to measure failover
MAX_NODES = 9  # running nodes, members or not
LEARNERS_KEPT = 0.3  # share of new nodes added to stay learners (never promoted)
CHANGES_PER_TICK = 3  # proposals tried back to back; the core refuses all but one in flight
OTHER_CHANGE = 0.25  # how often the runtime makes another needed change than the first


class Membership:
    def __init__(self, cluster: SimCluster, voters: tuple[str, ...]):
        self.cluster = cluster
        self.wanted: dict[str, str] = dict.fromkeys(voters, VOTER)  # member -> the role asked for
        self.accepted = 0  # changes the core took (some may be cut from the log again)

    # ---------------------------------------------------------------------------- the operator's wishes

    def act(self, action: str) -> None:
        """The nemesis asks for one membership change."""
        c = self.cluster
        voters = self._wanted(VOTER)
        if action == "add_learner" and len(c.nodes) < MAX_NODES:
            node_id = c.spawn()
            self.wanted[node_id] = LEARNER if c.rng.random() < LEARNERS_KEPT else VOTER
            c.trace(f"operator adds {node_id} (to be a {self.wanted[node_id]})")
        elif action == "promote" and self._wanted(LEARNER):
            node_id = c.rng.choice(self._wanted(LEARNER))
            self.wanted[node_id] = VOTER
            c.trace(f"operator promotes {node_id}")
        elif action == "remove" and self._members():
            node_id = c.rng.choice(self._members())
            if self.wanted[node_id] != VOTER or len(voters) > MIN_VOTERS:
                self.wanted[node_id] = GONE
                c.trace(f"operator removes {node_id}")
        elif action == "remove_leader":
            leader = c.current_leader()
            if leader is not None and self.wanted.get(leader.id) == VOTER and len(voters) > MIN_VOTERS:
                self.wanted[leader.id] = GONE
                c.trace(f"operator removes the leader {leader.id}")
        elif action == "replace" and voters and len(c.nodes) < MAX_NODES:
            old, new = c.rng.choice(voters), c.spawn()
            self.wanted[old], self.wanted[new] = GONE, VOTER
            c.trace(f"operator replaces {old} with {new}")
        elif action == "decommission":
            self._decommission()

    def _decommission(self) -> None:
        """Stop for good a node whose removal is committed (one that never learnt of it included)."""
        c = self.cluster
        leader = c.current_leader()
        if leader is None:
            return
        committed = leader.core.committed_config.members
        gone = [n for n, want in self.wanted.items() if want == GONE and n in c.nodes and n not in committed]
        if gone:
            c.retire(c.rng.choice(gone))

    def heal(self) -> None:
        """After the faults: ask for enough voters that a leader crash can be survived and measured."""
        while len(self._wanted(VOTER)) < VOTERS_AFTER_HEALING:
            learners = self._wanted(LEARNER)
            node_id = learners[0] if learners else self.cluster.spawn()
            self.wanted[node_id] = VOTER
            self.cluster.trace(f"operator wants {node_id} to vote, to survive the failover test")

    def _wanted(self, role: str) -> list[str]:
        return [n for n, want in self.wanted.items() if want == role]

    def _members(self) -> list[str]:
        return [n for n, want in self.wanted.items() if want != GONE]

    # ---------------------------------------------------------------------------------- the runtime

    def drive(self, leader: RaftNode) -> None:
        """On each tick of the leader: propose the next change it needs, and the next, while it takes
        them (a correct core takes one and refuses the next until the first is committed)."""
        for _ in range(CHANGES_PER_TICK):
            change = self._next_change(leader)
            if change is None:
                return
            result = leader.propose_config_change(change)
            if not isinstance(result, Accepted):
                return  # in flight, not committed in its term, not leader: the next tick tries again
            self.accepted += 1
            self.cluster.trace(f"{leader.id} appends {change.kind.value} {change.member} at {result.index}")

    def _next_change(self, leader: RaftNode) -> ConfigChange | None:
        """Usually the first change still needed, adds before promotions before removals; now and then
        another one, as a second operator (or the next leader's runtime) might choose."""
        needed = self._changes_needed(leader)
        if len(needed) > 1 and self.cluster.rng.random() < OTHER_CHANGE:
            return self.cluster.rng.choice(needed[1:])
        return needed[0] if needed else None

    def _changes_needed(self, leader: RaftNode) -> list[ConfigChange]:
        config = leader.config
        adds = [
            ConfigChange(ChangeKind.ADD_LEARNER, node_id, f"sim://{node_id}")
            for node_id, want in self.wanted.items()
            if want != GONE and node_id not in config.members
        ]
        promotions = [
            ConfigChange(ChangeKind.PROMOTE, node_id)
            for node_id in config.learners
            if self.wanted.get(node_id) == VOTER and self._caught_up(leader, node_id)
        ]
        removals = [
            ConfigChange(ChangeKind.REMOVE, node_id)
            for node_id in config.members
            if self.wanted.get(node_id, GONE) == GONE
        ]
        return adds + promotions + removals

    @staticmethod
    def _caught_up(leader: RaftNode, node_id: str) -> bool:
        """The runtime's decision, from the facts the core's status offers: the learner's match."""
        peer = next((p for p in leader.status().peers if p.node_id == node_id), None)
        return peer is not None and leader.log.last_index - peer.match <= CAUGHT_UP_LAG

    def settled(self, leader: RaftNode) -> bool:
        """Every wish granted, committed, and nothing in flight."""
        config = leader.config
        if leader.committed_config != config:
            return False
        for node_id, want in self.wanted.items():
            if want == GONE and node_id in config.members:
                return False
            if want == VOTER and node_id not in config.voters:
                return False
            if want == LEARNER and node_id not in config.learners:
                return False
        return True
