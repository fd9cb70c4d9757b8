"""Raft's safety properties, checked incrementally as the simulated cluster runs.

Each check is called at the moment its property could first break, so a violation is reported at the
step that caused it:

- Election Safety: at most one leader per term.                          (on_leader)
- Leader Append-Only: a leader never overwrites or deletes its entries.  (on_persist)
- Log Matching: entries with the same index and term hold the same
  command and follow the same history (checked inductively: same
  (index, term) => same data and same previous term).                    (on_persist)
- Leader Completeness: a new leader holds every committed entry.         (on_leader)
- State Machine Safety: no two nodes apply or commit different entries
  at one index, and a node applies indexes in order.                     (on_leader_commit, on_apply)
- Identical State: the same applied index gives the same state digest.   (on_apply)
- Acknowledged Writes Survive: a client's acked command is in the final
  state, exactly once.                                                   (check_acked_survive)
- Linearizable Reads: a ReadIndex read sees every write acknowledged
  before the read began.                                                 (on_read)
- Terms Never Go Back: a node's term never decreases, even across a crash. (on_term)

Membership (raft/membership.py):

- Configuration From The Log: a node acts on the latest configuration in
  its log, committed or not (thesis §4.1), as its disk shows it.         (on_config)
- One Voter Per Change: a configuration a leader appends adds or removes
  at most one voter to the one before it in its log (thesis §4.1).       (on_leader_config)
- Overlapping Majorities: at every step, the configurations in effect on
  the live nodes that hold every committed entry, taken pairwise, have
  no two majorities that share no voter.                                 (check_majorities)

Why only nodes that hold every committed entry: a node cut off while two changes went through, or one
still holding an uncommitted configuration of an old term, can have a configuration whose majorities
miss today's — and that is correct Raft. Lacking a committed entry it cannot win an election (Leader
Completeness is checked on its own), so it decides nothing. The nodes that can still decide hold the
latest committed configuration; with one change at a time, what they act on is it or the one change
after it, and any two of those overlap. Two changes in flight, or a change before the leader committed
its term, break exactly that.

Every violation carries the name of the rule it breaks (``Violation.rule``, one of ``RULES``), so a test
can tell which property failed, and a failure of the checker's rules apart from any other failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

from todonode.raft import ClusterConfig, Entry, EntryKind, RaftNode, decode_config

ELECTION_SAFETY = "Election Safety"
LEADER_APPEND_ONLY = "Leader Append-Only"
LOG_MATCHING = "Log Matching"
LEADER_COMPLETENESS = "Leader Completeness"
STATE_MACHINE_SAFETY = "State Machine Safety"
IDENTICAL_STATE = "Identical State"
ACKED_WRITES_SURVIVE = "Acknowledged Writes Survive"
LINEARIZABLE_READS = "Linearizable Reads"
TERMS_NEVER_GO_BACK = "Terms Never Go Back"
CONFIGURATION_FROM_THE_LOG = "Configuration From The Log"
ONE_VOTER_PER_CHANGE = "One Voter Per Change"
OVERLAPPING_MAJORITIES = "Overlapping Majorities"
RULES = (
    ELECTION_SAFETY,
    LEADER_APPEND_ONLY,
    LOG_MATCHING,
    LEADER_COMPLETENESS,
    STATE_MACHINE_SAFETY,
    IDENTICAL_STATE,
    ACKED_WRITES_SURVIVE,
    LINEARIZABLE_READS,
    TERMS_NEVER_GO_BACK,
    CONFIGURATION_FROM_THE_LOG,
    ONE_VOTER_PER_CHANGE,
    OVERLAPPING_MAJORITIES,
)


class Violation(AssertionError):
    """A safety property failed: ``rule`` names it (one of RULES), the message gives the evidence."""

    def __init__(self, rule: str, evidence: str) -> None:
        assert rule in RULES, rule
        super().__init__(f"{rule}: {evidence}")
        self.rule = rule


def disjoint_majorities(a: frozenset[str], b: frozenset[str]) -> tuple[list[str], list[str]] | None:
    """A majority of voters ``a`` and a majority of voters ``b`` that share no voter, if there are any.

    Counted here from first principles rather than by raft/quorum.py, which is under test: each side
    takes its voters the other lacks first, and the shared ones only as far as it must."""
    only_a, only_b, shared = sorted(a - b), sorted(b - a), sorted(a & b)
    need_a = max(0, len(a) // 2 + 1 - len(only_a))
    need_b = max(0, len(b) // 2 + 1 - len(only_b))
    if need_a + need_b > len(shared):
        return None
    majority_a = only_a[: len(a) // 2 + 1] + shared[:need_a]
    majority_b = only_b[: len(b) // 2 + 1] + shared[need_a : need_a + need_b]
    return majority_a, majority_b


@dataclass(frozen=True, slots=True)
class _Seen:
    data: bytes
    kind: str
    prev_term: int | None


class Checker:
    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}  # term -> leader
        self.entries: dict[tuple[int, int], _Seen] = {}  # (index, term) -> what it holds
        self.committed: dict[int, tuple[int, bytes]] = {}  # index -> (term, data), learned from applies
        self.commit_term: dict[int, int] = {}  # index -> term of the first leader that committed it
        self._max_commit_seen = 0
        self._max_commit_term = 0  # term of the entry at _max_commit_seen
        self.voters_in_effect: dict[str, frozenset[str]] = {}  # live node -> voters of its configuration
        self.digests: dict[int, int] = {}  # applied index -> state digest
        self.acked: dict[str, int] = {}  # command id -> index at which it was acknowledged
        self.last_term: dict[str, int] = {}
        self.leader_last: dict[str, tuple[int, int]] = {}  # node -> (term, last index) while leader

    def on_term(self, node: str, term: int) -> None:
        if term < self.last_term.get(node, 0):
            raise Violation(TERMS_NEVER_GO_BACK, f"{node}: {self.last_term[node]} -> {term}")
        self.last_term[node] = term

    def on_leader(self, core: RaftNode) -> None:
        term, node = core.term, core.id
        other = self.leaders.setdefault(term, node)
        if other != node:
            raise Violation(ELECTION_SAFETY, f"{other} and {node} both leaders in term {term}")
        # Leader Completeness speaks of entries committed in *earlier* terms: a node can still win an
        # old term (its votes were delayed) after a later term committed more.
        for index, (eterm, _) in self.committed.items():
            if self.commit_term.get(index, term) >= term:
                continue
            if index > core.log.snapshot_index and core.log.term_at(index) != eterm:
                raise Violation(
                    LEADER_COMPLETENESS,
                    f"{node} leads term {term} without committed entry {index} "
                    f"(term {eterm}); it has term {core.log.term_at(index)} there",
                )

    def on_leader_commit(self, core: RaftNode) -> None:
        """A leader's commit index moved: what it now calls committed must never be lost."""
        first = max(self._max_commit_seen + 1, core.log.first_index)
        for e in core.log.entries(first, core.commit) if first <= core.commit else ():
            self.commit_term[e.index] = core.term
            known = self.committed.setdefault(e.index, (e.term, e.data))
            if known != (e.term, e.data):
                raise Violation(
                    STATE_MACHINE_SAFETY,
                    f"{core.id} (leader, term {core.term}) commits index {e.index} "
                    f"as term {e.term}, but term {known[0]} was committed there before",
                )
        if core.commit > self._max_commit_seen:
            self._max_commit_seen = core.commit
            self._max_commit_term = core.log.term_at(core.commit) or 0

    def on_persist(self, core: RaftNode, entries: tuple[Entry, ...], was_leader_in: int | None) -> None:
        node = core.id
        if entries and was_leader_in is not None:
            prev = self.leader_last.get(node)
            if prev and prev[0] == was_leader_in and entries[0].index <= prev[1]:
                raise Violation(
                    LEADER_APPEND_ONLY,
                    f"{node} (leader in term {was_leader_in}) rewrote from index "
                    f"{entries[0].index} though it already held up to {prev[1]}",
                )
        for e in entries:
            try:
                prev_term = core.log.term_at(e.index - 1)
            except LookupError:
                prev_term = None
            seen = _Seen(e.data, e.kind.value, prev_term)
            known = self.entries.setdefault((e.index, e.term), seen)
            if known.data != seen.data or known.kind != seen.kind:
                raise Violation(
                    LOG_MATCHING,
                    f"two different entries at index {e.index} term {e.term} "
                    f"({known.data!r} vs {seen.data!r} on {node})",
                )
            if None not in (known.prev_term, prev_term) and known.prev_term != prev_term:
                raise Violation(
                    LOG_MATCHING,
                    f"entry {e.index}/{e.term} follows term {known.prev_term} on one node "
                    f"and term {prev_term} on {node}",
                )
        if core.role.value == "leader" and entries:
            self.leader_last[node] = (core.term, entries[-1].index)

    def on_config(self, node: str, in_effect: ClusterConfig, in_log: ClusterConfig) -> None:
        """``node`` processed what happened to it: it must act on the latest configuration in its log."""
        if in_effect != in_log:
            raise Violation(
                CONFIGURATION_FROM_THE_LOG,
                f"{node} acts on voters {in_effect.voters} and learners {in_effect.learners}, but the "
                f"latest configuration in its log has voters {in_log.voters} and learners {in_log.learners}",
            )
        self.voters_in_effect[node] = frozenset(in_effect.voters)

    def on_down(self, node: str) -> None:
        self.voters_in_effect.pop(node, None)

    def on_leader_config(self, node: str, before: ClusterConfig, entries: Sequence[Entry]) -> None:
        """A leader is about to persist configurations it appended; ``before`` is the one in its log
        ahead of them. Each may add or remove one voter at most."""
        for e in entries:
            if e.kind is not EntryKind.CONFIG:
                continue
            after = decode_config(e.data)
            changed = sorted(set(before.voters) ^ set(after.voters))
            if len(changed) > 1:
                raise Violation(
                    ONE_VOTER_PER_CHANGE,
                    f"{node} appends at {e.index} voters {after.voters} after {before.voters}: "
                    f"{changed} change at once",
                )
            before = after

    def check_majorities(self, core_of: Callable[[str], RaftNode]) -> None:
        """After every step: no two majorities that can still decide something may miss each other."""
        if len(set(self.voters_in_effect.values()) - {frozenset()}) <= 1:
            return  # one configuration everywhere: nothing to compare
        index, term = self._max_commit_seen, self._max_commit_term
        deciding: dict[frozenset[str], str] = {}  # voters -> a node acting on them
        for node, voters in self.voters_in_effect.items():
            if voters and core_of(node).log.matches(index, term):
                deciding.setdefault(voters, node)
        for (a, node_a), (b, node_b) in combinations(deciding.items(), 2):
            apart = disjoint_majorities(a, b)
            if apart is not None:
                raise Violation(
                    OVERLAPPING_MAJORITIES,
                    f"{node_a} acts on voters {sorted(a)} and {node_b} on {sorted(b)}, both holding every "
                    f"committed entry (to {index}): majorities {apart[0]} and {apart[1]} share no voter",
                )

    def on_apply(self, node: str, entry: Entry, expected_index: int, digest: int) -> None:
        if entry.index != expected_index:
            raise Violation(
                STATE_MACHINE_SAFETY, f"{node} applied index {entry.index} when {expected_index} was next"
            )
        known = self.committed.setdefault(entry.index, (entry.term, entry.data))
        if known != (entry.term, entry.data):
            raise Violation(
                STATE_MACHINE_SAFETY,
                f"index {entry.index} applied as {known} on one node and as "
                f"{(entry.term, entry.data)} on {node}",
            )
        seen = self.digests.setdefault(entry.index, digest)
        if seen != digest:
            raise Violation(IDENTICAL_STATE, f"state digests differ at applied index {entry.index} ({node})")

    def on_ack(self, command_id: str, index: int) -> None:
        self.acked.setdefault(command_id, index)

    def on_read(self, node: str, visible: set[str], acked_before: set[str]) -> None:
        missing = acked_before - visible
        if missing:
            raise Violation(
                LINEARIZABLE_READS,
                f"a read on {node} missed {len(missing)} acknowledged writes, e.g. {sorted(missing)[:3]}",
            )

    def check_acked_survive(self, final_ids: list[str]) -> None:
        present = set(final_ids)
        lost = [c for c in self.acked if c not in present]
        if lost:
            raise Violation(
                ACKED_WRITES_SURVIVE, f"acknowledged commands lost: {lost[:5]} ({len(lost)} in all)"
            )
        if len(present) != len(final_ids):
            raise Violation(ACKED_WRITES_SURVIVE, "a command was applied twice after deduplication by id")
