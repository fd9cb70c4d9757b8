"""A deterministic in-memory cluster of Raft cores, after the ``network`` type of etcd's raft_test.go.

Nothing here does I/O or reads a clock. Time passes only through ``tick``; messages wait in one FIFO
queue until ``deliver_all``; every core gets its own seeded ``random.Random``. Each node runs the
Ready contract: "persist" (into ``stored``), queue the messages, record what was committed, advance.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable

from todonode.raft import (
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Message,
    RaftNode,
    RaftOptions,
    ReadState,
    Ready,
    Role,
    Snapshot,
    encode_config,
)

IDS = ("n1", "n2", "n3")


def log_of(*terms: int) -> tuple[Entry, ...]:
    """A log whose entries, at indexes 1, 2, ..., have the given terms."""
    return tuple(Entry(term=t, index=i) for i, t in enumerate(terms, start=1))


def config_entry(term: int, index: int, voters: Iterable[str], learners: Iterable[str] = ()) -> Entry:
    """A CONFIG log entry that makes ``voters`` and ``learners`` the cluster."""
    config = ClusterConfig(tuple(voters), tuple(learners))
    return Entry(term=term, index=index, data=encode_config(config), kind=EntryKind.CONFIG)


def new_node(
    node_id: str = "n1",
    voters: Iterable[str] = IDS,
    *,
    learners: Iterable[str] = (),
    seed: int = 0,
    hard_state: HardState | None = None,
    log: Iterable[Entry] = (),
    snapshot: Snapshot | None = None,
    vote_floor: int = 0,
    **options,
) -> RaftNode:
    opts = RaftOptions(node_id=node_id, config=ClusterConfig(tuple(voters), tuple(learners)), **options)
    return RaftNode(
        opts,
        random.Random(seed),
        hard_state=hard_state,
        snapshot=snapshot,
        entries=tuple(log),
        vote_floor=vote_floor,
    )


def take(node: RaftNode) -> Ready:
    """Take the node's next Ready and advance at once (as if it had been persisted, sent and applied)."""
    rd = node.ready()
    node.advance(rd)
    return rd


def outbox(node: RaftNode) -> list[Message]:
    """Every message the node has queued, taken through ready()/advance()."""
    msgs: list[Message] = []
    while node.has_ready():
        msgs.extend(take(node).messages)
    return msgs


class Network:
    """``size`` voters n1..n<size>, then ``learners`` learners numbered after them."""

    def __init__(
        self,
        size: int = 3,
        *,
        learners: int = 0,
        logs: dict[str, tuple[Entry, ...]] | None = None,
        hard_states: dict[str, HardState] | None = None,
        **options,
    ):
        self.ids = tuple(f"n{i}" for i in range(1, size + learners + 1))
        voters, learner_ids = self.ids[:size], self.ids[size:]
        logs, hard_states = logs or {}, hard_states or {}
        self._options = options
        self.nodes = {
            nid: new_node(
                nid,
                voters,
                learners=learner_ids,
                seed=seed,
                hard_state=hard_states.get(nid),
                log=logs.get(nid, ()),
                **options,
            )
            for seed, nid in enumerate(self.ids, start=1)
        }
        self.stored = {nid: {e.index: e for e in logs.get(nid, ())} for nid in self.ids}
        self.committed: dict[str, list[Entry]] = {nid: [] for nid in self.ids}
        self.read_states: dict[str, list[ReadState]] = {nid: [] for nid in self.ids}
        self.snapshots: dict[str, list[Snapshot]] = {nid: [] for nid in self.ids}
        self.sent: list[Message] = []  # every message that left a node, dropped or not, in order
        self.queue: deque[Message] = deque()
        self._drops: list[Callable[[Message], bool]] = []

    def __getitem__(self, node_id: str) -> RaftNode:
        return self.nodes[node_id]

    def join(self, node_id: str) -> RaftNode:
        """Start a brand-new node with an empty log that knows no member: it waits for a leader."""
        node = new_node(node_id, (), seed=len(self.ids) + 1, **self._options)
        self.ids += (node_id,)
        self.nodes[node_id] = node
        self.stored[node_id], self.committed[node_id] = {}, []
        self.read_states[node_id], self.snapshots[node_id] = [], []
        return node

    # -------------------------------------------------------------------------------- faults

    def drop(self, predicate: Callable[[Message], bool]) -> None:
        """Lose every message, from now on, for which ``predicate`` is true."""
        self._drops.append(predicate)

    def isolate(self, node_id: str) -> None:
        self.drop(lambda m: node_id in (m.src, m.dst))

    def heal(self) -> None:
        self._drops.clear()

    # ---------------------------------------------------------------------------------- time

    def tick(self, *ids: str, times: int = 1) -> None:
        """Tick the named nodes (all if none named), delivering every message after each tick."""
        for _ in range(times):
            for nid in ids or self.ids:
                self.nodes[nid].tick()
            self.deliver_all()

    def campaign(self, node_id: str) -> None:
        """Tick only ``node_id`` until its election timeout fires, then let the election run."""
        node = self.nodes[node_id]
        while node.status().role is Role.FOLLOWER:
            node.tick()
        self.deliver_all()

    def elect(self, node_id: str) -> RaftNode:
        self.campaign(node_id)
        leader = self.nodes[node_id]
        assert leader.status().role is Role.LEADER, f"{node_id} did not win: {leader.status()}"
        return leader

    def leader(self) -> str | None:
        leaders = [nid for nid, n in self.nodes.items() if n.status().role is Role.LEADER]
        return max(leaders, key=lambda nid: self.nodes[nid].status().term, default=None)

    # ------------------------------------------------------------------------------ messages

    def collect(self, node_id: str) -> list[Ready]:
        """Drain the node's Ready batches: persist, queue the messages, apply, advance."""
        node, readies = self.nodes[node_id], []
        while node.has_ready():
            rd = node.ready()
            self._persist(node_id, rd)
            self.sent.extend(rd.messages)
            self.queue.extend(rd.messages)
            self.committed[node_id].extend(rd.committed)
            self.read_states[node_id].extend(rd.read_states)
            node.advance(rd)
            readies.append(rd)
        return readies

    def deliver_all(self, limit: int = 100_000) -> None:
        """Collect from every node and deliver until no message is left in flight."""
        for _ in range(limit):
            for nid in self.ids:
                self.collect(nid)
            if not self.queue:
                return
            m = self.queue.popleft()
            if not any(drop(m) for drop in self._drops):
                self.nodes[m.dst].step(m)
        raise AssertionError(f"messages still in flight after {limit} deliveries")

    def _persist(self, node_id: str, rd: Ready) -> None:
        """The Ready contract, step 1; then check that nothing committed is missing from "disk"."""
        stored = self.stored[node_id]
        if rd.snapshot is not None:
            stored.clear()
            self.snapshots[node_id].append(rd.snapshot)
        if rd.entries:
            # An entry at index i replaces every stored entry at i and above.
            for index in [i for i in stored if i >= rd.entries[0].index]:
                del stored[index]
        stored.update((e.index, e) for e in rd.entries)
        for e in rd.committed:
            assert stored.get(e.index) == e, f"{node_id} applies {e} before it is stored"
