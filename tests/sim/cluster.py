"""A simulated cluster that drives real RaftNode cores through a seeded fault schedule.

Time is simulated milliseconds. A *step* is one event: a node's tick, a message delivery, a client
action or a fault. Each node keeps a simulated disk that holds exactly what its core asked to persist;
a crash throws away everything else (the core, the state machine, unsent messages) and a restart
rebuilds the node from that disk, as a real restart would.

The node runtime here follows the Ready contract of ``todonode.raft.ready``: persist, then send, then
apply, then advance. Faults can strike between those steps. One planted bug, ``bug_send_before_persist``,
lets every message leave before the disk write so the checker can be shown to catch it.

Clocks may drift (``clock_drift``): each node ticks at its own fixed rate, up to that share faster or
slower than TICK_MS, which is what a lease read (raft/lease.py) must survive. A paused node misses its
ticks and does not make them up, as a stopped process would; on resuming, the runtime tells the core
its ticks fell behind (``expire_lease``) — unless the planted bug ``bug_lease_through_pause`` forgets to.

Membership changes are faults too (membership.py): brand-new nodes start with a fresh disk, a new id
and no configuration at all, and wait for the leader; removed nodes go on running (and crashing, and
restarting) until the nemesis stops them for good. The members at any moment are whatever the log
says; convergence is asked of them alone.
"""

from __future__ import annotations

import json
import random
import zlib
from collections import deque
from dataclasses import dataclass, field

from todonode.raft import (
    Accepted,
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    RaftNode,
    RaftOptions,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
    decode_config,
)

from .checker import Checker
from .membership import MEMBERSHIP_FAULTS, Membership
from .network import SimNetwork

TICK_MS = 50.0
ELECTION_TICKS = 10  # 500 ms, as on a real node
HEARTBEAT_TICKS = 2  # 100 ms
SETTLE_TICKS = 20  # leader preference: 1 s caught up before leadership moves back

DEFAULT_FAULTS = {
    "crash": 2,
    "crash_leader": 1,
    "pause": 1,
    "partition": 2,
    "isolate_leader": 1,
    "one_way": 1,
    "bridge": 1,
    "heal": 2,
    "flaky": 1,
    # membership.py: each asks the simulated runtime for a change it then makes through the core
    "add_learner": 2,
    "promote": 1,
    "remove": 1,
    "remove_leader": 1,
    "replace": 1,
    "decommission": 1,
}
CRASH_POINTS = ("before_persist", "after_persist", "after_send", "after_apply")


@dataclass
class SimConfig:
    nodes: int = 3
    steps: int = 2000
    fault_rate: float = 0.004  # chance per step that the nemesis acts
    client_rate: float = 0.05  # chance per step that a client acts
    read_rate: float = 0.01
    clients: int = 3
    compact_every: int = 25  # applied entries between local snapshots
    max_entries_per_append: int = 64
    prefer_leader: bool = True
    bug_send_before_persist: bool = False  # planted runtime bug: every message leaves before the disk write
    clock_drift: float = 0.0  # each node ticks up to this share faster or slower than TICK_MS
    lease_drift_ticks: int | None = None  # lease reads on, with this drift margin (raft/lease.py)
    stale_read_rate: float = 0.0  # share of reads sent to any node that believes it leads
    bug_lease_through_pause: bool = False  # planted runtime bug: a resumed node keeps its lease
    heal_limit_ms: float = 60_000.0
    downtime_ms: tuple[float, float] = (100.0, 3000.0)
    slow_rate: float = 0.01  # share of messages delayed by up to slow_delay_ms
    # How often the nemesis picks each fault (relative weights).
    faults: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_FAULTS))
    node_class: type[RaftNode] = RaftNode


class Stalled(Exception):
    """Liveness, not safety: after every fault healed, the cluster did not recover in time."""


# ------------------------------------------------------------------------------------ state machine


class SimStateMachine:
    """Applies client commands ``b"<command id>"``, ignoring an id it has seen (retries are deduped)."""

    def __init__(self) -> None:
        self.applied = 0
        self.ids: list[str] = []
        self._seen: set[str] = set()
        self.digest = 0

    def apply(self, entry: Entry) -> None:
        self.applied = entry.index
        if entry.kind is EntryKind.COMMAND:
            cid = entry.data.decode()
            if cid not in self._seen:
                self._seen.add(cid)
                self.ids.append(cid)
        self.digest = zlib.crc32(entry.data, zlib.crc32(str(entry.index).encode(), self.digest))

    def contains(self, cid: str) -> bool:
        return cid in self._seen

    def visible(self) -> set[str]:
        return set(self._seen)

    def to_bytes(self) -> bytes:
        return json.dumps({"applied": self.applied, "ids": self.ids, "digest": self.digest}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SimStateMachine:
        raw = json.loads(data)
        sm = cls()
        sm.applied, sm.ids, sm.digest = raw["applied"], raw["ids"], raw["digest"]
        sm._seen = set(sm.ids)
        return sm


# ------------------------------------------------------------------------------------------- nodes


@dataclass
class SimDisk:
    """Exactly what the core asked to persist; survives crashes."""

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)
    _config_entry: Entry | None = None  # the latest CONFIG entry in ``entries``
    _decoded: tuple[Entry, ClusterConfig] | None = None  # that entry's configuration, decoded once

    def persist(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            self.snapshot = rd.snapshot
            self.entries = []  # a received snapshot replaces the whole log
            self._config_entry = None
        if rd.entries:
            first = rd.entries[0].index
            self.entries = [e for e in self.entries if e.index < first]
            self.entries.extend(rd.entries)
            if self._config_entry is not None and self._config_entry.index >= first:
                self._config_entry = self._latest_config_entry(self.entries[: -len(rd.entries)])
            self._config_entry = self._latest_config_entry(rd.entries) or self._config_entry
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state

    def save_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.entries = [e for e in self.entries if e.index > snap.meta.index]
        if self._config_entry is not None and self._config_entry.index <= snap.meta.index:
            self._config_entry = None

    def config(self, bootstrap: ClusterConfig) -> ClusterConfig:
        """The latest configuration on this disk (thesis §4.1), worked out apart from the core: the
        last CONFIG entry, else the snapshot's, else the one the node was first started with."""
        entry = self._config_entry
        if entry is not None:
            if self._decoded is None or self._decoded[0] is not entry:
                self._decoded = (entry, decode_config(entry.data))
            return self._decoded[1]
        return self.snapshot.meta.config if self.snapshot is not None else bootstrap

    @staticmethod
    def _latest_config_entry(entries: list[Entry] | tuple[Entry, ...]) -> Entry | None:
        return next((e for e in reversed(entries) if e.kind is EntryKind.CONFIG), None)


class SimNode:
    def __init__(self, cluster: SimCluster, node_id: str, rng_seed: int, bootstrap: ClusterConfig):
        """``bootstrap``: the configuration of a brand-new cluster, or none at all for a node joining."""
        self.cluster = cluster
        self.id = node_id
        self.bootstrap = bootstrap
        self.disk = SimDisk()
        self.rng_seed = rng_seed
        self.core: RaftNode | None = None
        self.sm = SimStateMachine()
        self.paused = False
        self.crash_at: str | None = None  # crash at this point of the next Ready
        self.next_tick = 0.0
        drift = cluster.cfg.clock_drift
        self.tick_ms = TICK_MS * (1 + cluster.rng.uniform(-drift, drift)) if drift else TICK_MS
        self.boot()

    @property
    def up(self) -> bool:
        return self.core is not None

    def boot(self) -> None:
        c = self.cluster
        self.rng_seed += 1
        snap = self.disk.snapshot
        self.core = c.cfg.node_class(
            RaftOptions(
                node_id=self.id,
                config=self.bootstrap,
                election_ticks=ELECTION_TICKS,
                heartbeat_ticks=HEARTBEAT_TICKS,
                prefer_leader=c.cfg.prefer_leader,
                settle_ticks=SETTLE_TICKS,
                max_entries_per_append=c.cfg.max_entries_per_append,
                snapshot_timeout_ticks=ELECTION_TICKS * 2,
                lease_drift_ticks=c.cfg.lease_drift_ticks,
            ),
            random.Random(self.rng_seed),
            hard_state=self.disk.hard_state,
            snapshot=snap,
            entries=list(self.disk.entries),
        )
        self.sm = SimStateMachine.from_bytes(snap.data) if snap else SimStateMachine()
        self.crash_at = None
        c.checker.on_term(self.id, self.core.term)
        c.checker.on_config(self.id, self.core.config, self.disk.config(self.bootstrap))

    def crash(self) -> None:
        self.core = None
        self.paused = False
        self.cluster.checker.on_down(self.id)

    def process(self) -> None:
        """Drain the core's Ready batches, obeying (or, with a planted bug, breaking) the contract."""
        core = self.core
        c = self.cluster
        processed = False
        while core is not None and core.has_ready():
            processed = True
            was_leader_in = core.term if core.role is Role.LEADER else None
            rd = core.ready()
            if self._crash_here("before_persist"):
                return
            send_first = rd.send_before_persisting or c.cfg.bug_send_before_persist
            if send_first:
                self._send(rd)
                if self._crash_here("after_send"):
                    return
            if was_leader_in is not None and any(e.kind is EntryKind.CONFIG for e in rd.entries):
                c.checker.on_leader_config(self.id, self.disk.config(self.bootstrap), rd.entries)
            self.disk.persist(rd)
            c.checker.on_persist(core, rd.entries, was_leader_in)
            c.checker.on_term(self.id, core.term)
            if self._crash_here("after_persist"):
                return
            if not send_first:
                self._send(rd)
                if self._crash_here("after_send"):
                    return
            self._apply(rd)
            if self._crash_here("after_apply"):
                return
            core.advance(rd)
            if core.role is Role.LEADER or was_leader_in == core.term:
                # (a leader that a committed change removed has stepped down in its own term)
                c.checker.on_leader_commit(core)
            if rd.soft_state and rd.soft_state.role is Role.LEADER:
                c.checker.on_leader(core)
                c.on_new_leader(self, core.term)
        if processed and core is not None:
            c.checker.on_config(self.id, core.config, self.disk.config(self.bootstrap))

    def _crash_here(self, point: str) -> bool:
        if self.crash_at != point:
            return False
        self.cluster.trace(f"{self.id} crashes {point.replace('_', ' ')}")
        self.crash()
        return True

    def _send(self, rd: Ready) -> None:
        for m in rd.messages:
            self.cluster.network.send(m, self.cluster.now)

    def _apply(self, rd: Ready) -> None:
        c = self.cluster
        if rd.snapshot is not None:
            self.sm = SimStateMachine.from_bytes(rd.snapshot.data)
        for e in rd.committed:
            expected = self.sm.applied + 1
            self.sm.apply(e)
            c.checker.on_apply(self.id, e, expected, self.sm.digest)
            c.on_applied(self, e)
        for rs in rd.read_states:
            c.on_read_index(self, rs.ctx, rs.index)
        for ctx in rd.failed_reads:
            c.reads.pop(ctx, None)
        self._maybe_compact()

    def _maybe_compact(self) -> None:
        core = self.core
        assert core is not None
        if self.sm.applied - core.log.snapshot_index < self.cluster.cfg.compact_every:
            return
        applied = self.sm.applied
        meta = SnapshotMeta(applied, core.log.term_at(applied), core.config_at(applied))
        snap = Snapshot(meta, self.sm.to_bytes())
        self.disk.save_snapshot(snap)
        core.compact(snap, retain=self.cluster.rng.randrange(0, 10))


# ------------------------------------------------------------------------------------------ clients


@dataclass
class PendingWrite:
    command_id: str
    node: str
    index: int
    term: int
    deadline: float


@dataclass
class PendingRead:
    node: str
    acked_before: set[str]
    index: int | None = None


# ------------------------------------------------------------------------------------------ cluster


class SimCluster:
    def __init__(self, seed: int, cfg: SimConfig, *, trace_all: bool = False):
        self.seed = seed
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.now = 0.0
        self.steps = 0
        self.trace_all = trace_all
        self._trace: deque[str] = deque(maxlen=200)
        self.checker = Checker()
        self.network = SimNetwork(random.Random(self.rng.random()))
        self.network.conditions.slow_rate = cfg.slow_rate
        ids = [f"n{i}" for i in range(cfg.nodes)]
        bootstrap = ClusterConfig(tuple(ids))
        self.nodes = {nid: SimNode(self, nid, self.rng.randrange(1 << 30), bootstrap) for nid in ids}
        for n in self.nodes.values():
            n.next_tick = self.rng.uniform(0, TICK_MS)
        self._next_node = cfg.nodes  # new nodes get ids never used before
        self.retired: dict[str, SimNode] = {}  # removed and stopped for good
        self.membership = Membership(self, bootstrap.voters)
        self.writes: dict[str, PendingWrite] = {}
        self.reads: dict[str, PendingRead] = {}
        self._next_command = 0
        self._next_read = 0
        self.resume_at: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.leader_changes: list[tuple[float, str, int]] = []
        self.failover_ms: list[float] = []

    # ------------------------------------------------------------------------------------ tracing

    def trace(self, line: str) -> None:
        text = f"[{self.now:9.1f}ms step {self.steps}] {line}"
        self._trace.append(text)
        if self.trace_all:
            print(text)

    def trace_tail(self) -> str:
        return "\n".join(self._trace)

    # ---------------------------------------------------------------------------------- main loop

    def run(self) -> None:
        """Phase 1: faults while clients write. Phase 2: heal and check liveness and convergence.

        Raises the checker's Violation when a safety rule breaks, Stalled when the healed cluster does
        not recover in time; anything else raised comes from the core itself."""
        for _ in range(self.cfg.steps):
            self.step(faults=True)
        self.heal_everything()
        self.await_convergence()
        self.measure_failover()
        self.checker.check_acked_survive(self.leader_node().sm.ids)

    def step(self, *, faults: bool, clients: bool = True) -> None:
        self.steps += 1
        if faults and self.rng.random() < self.cfg.fault_rate:
            self.nemesis()
        if clients and self.rng.random() < self.cfg.client_rate:
            self.client_write()
        if clients and self.rng.random() < self.cfg.read_rate:
            self.client_read()
        self._advance_to_next_event()
        self.checker.check_majorities(self._core_of)

    def _core_of(self, nid: str) -> RaftNode:
        core = self.nodes[nid].core
        assert core is not None, f"{nid} is down"
        return core

    def _advance_to_next_event(self) -> None:
        node = min(self.nodes.values(), key=lambda n: n.next_tick)
        t_msg = self.network.next_time()
        timers = [t for t in (*self.resume_at.values(), *self.restart_at.values())]
        t_timer = min(timers) if timers else None
        if t_timer is not None and t_timer <= node.next_tick and (t_msg is None or t_timer <= t_msg):
            self.now = t_timer
            self._fire_timers()
        elif t_msg is not None and t_msg < node.next_tick:
            self.now = t_msg
            self._deliver()
        else:
            self.now = node.next_tick
            node.next_tick += node.tick_ms
            if node.up and not node.paused:
                node.core.tick()
                node.process()
                if node.core is not None and node.core.role is Role.LEADER:
                    self.membership.drive(node.core)  # the runtime's timer: changes it was asked for
                    node.process()
        self._expire_writes()

    def _fire_timers(self) -> None:
        for nid, at in list(self.resume_at.items()):
            if at <= self.now:
                del self.resume_at[nid]
                node = self.nodes[nid]
                node.paused = False
                self.trace(f"{nid} resumes")
                if node.core is not None and not self.cfg.bug_lease_through_pause:
                    node.core.expire_lease()  # its ticks fell behind while it was stopped
        for nid, at in list(self.restart_at.items()):
            if at <= self.now:
                del self.restart_at[nid]
                self.restart(nid)

    def _deliver(self) -> None:
        msg = self.network.pop_due()
        if msg is None:
            return
        node = self.nodes.get(msg.dst)
        if node is None or not node.up:
            return  # a node stopped for good, or down
        if node.paused:
            self.network.hold(msg, self.resume_at.get(node.id, self.now) + 0.1)
            return
        node.core.step(msg)
        node.process()

    # ------------------------------------------------------------------------------------ nemesis

    def nemesis(self) -> None:
        ids = list(self.nodes)
        faults = self.cfg.faults
        action = self.rng.choices(list(faults), weights=list(faults.values()))[0]
        if action in MEMBERSHIP_FAULTS:
            self.membership.act(action)
        elif action in ("crash", "crash_leader"):
            leader = self.current_leader()
            victim = leader.id if action == "crash_leader" and leader else self.rng.choice(ids)
            node = self.nodes[victim]
            if node.up and victim not in self.restart_at:
                point = self.rng.choice(("now", *CRASH_POINTS))
                if point == "now":
                    self.trace(f"{victim} crashes")
                    node.crash()
                else:
                    node.crash_at = point
                self.restart_at[victim] = self.now + self.rng.uniform(*self.cfg.downtime_ms)
        elif action in ("pause", "pause_leader"):
            leader = self.current_leader()
            victim = leader.id if action == "pause_leader" and leader else self.rng.choice(ids)
            if self.nodes[victim].up and not self.nodes[victim].paused:
                self.nodes[victim].paused = True
                self.resume_at[victim] = self.now + self.rng.uniform(200, 2500)
                self.trace(f"{victim} pauses")
        elif action == "partition":
            shuffled = self.rng.sample(ids, len(ids))
            cut = self.rng.randrange(1, len(ids))
            self.network.isolate([shuffled[:cut], shuffled[cut:]])
            self.trace(f"partition {shuffled[:cut]} | {shuffled[cut:]}")
        elif action == "isolate_leader":
            leader = self.current_leader()
            if leader:
                self.network.isolate([[leader.id], [i for i in ids if i != leader.id]])
                self.trace(f"isolate leader {leader.id}")
        elif action == "one_way":
            a, b = self.rng.sample(ids, 2)
            self.network.cut_one_way(a, b)
            self.trace(f"cut {a} -> {b}")
        elif action == "bridge":
            bridge, *rest = self.rng.sample(ids, len(ids))
            half = len(rest) // 2 or 1
            left, right = rest[:half], rest[half:]
            self.network.isolate([left, right])
            self.trace(f"bridge {bridge} between {left} and {right}")
        elif action == "heal":
            self.network.heal()
            self.trace("network heals")
        else:
            c = self.network.conditions
            c.loss_rate = self.rng.choice((0.0, 0.05, 0.2))
            c.duplicate_rate = self.rng.choice((0.0, 0.05, 0.2))
            self.trace(f"network loss {c.loss_rate} duplication {c.duplicate_rate}")

    def spawn(self) -> str:
        """A brand-new node: a fresh disk, an id never used before, and no configuration at all."""
        nid = f"n{self._next_node}"
        self._next_node += 1
        node = SimNode(self, nid, self.rng.randrange(1 << 30), ClusterConfig(voters=()))
        node.next_tick = self.now + self.rng.uniform(0, TICK_MS)
        self.nodes[nid] = node
        return nid

    def retire(self, nid: str) -> None:
        """Stop a removed node for good: messages to it are lost from now on."""
        node = self.nodes.pop(nid)
        node.crash()
        self.retired[nid] = node
        self.restart_at.pop(nid, None)
        self.resume_at.pop(nid, None)
        self.trace(f"{nid} is stopped for good")

    def restart(self, nid: str) -> None:
        node = self.nodes[nid]
        if node.up:
            node.crash()
        node.boot()
        self.trace(f"{nid} restarts at term {node.core.term}, log up to {node.core.log.last_index}")

    # ------------------------------------------------------------------------------------ clients

    def client_write(self, node_id: str | None = None) -> None:
        """A new command, or a retry of one that timed out, sent to the leader a client believes in."""
        self._next_command += 1
        cid = f"c{self._next_command}"
        self._propose(cid, node_id)

    def _propose(self, cid: str, node_id: str | None) -> None:
        node = self.nodes[node_id] if node_id else self._guess_leader()
        for _ in range(2):  # ask the node, then the leader it names
            if not node.up or node.paused:
                return
            result = node.core.propose(cid.encode())
            if isinstance(result, Accepted):
                self.writes[cid] = PendingWrite(cid, node.id, result.index, result.term, self.now + 2000)
                node.process()
                return
            if result.leader is None or result.leader == node.id or result.leader not in self.nodes:
                return
            node = self.nodes[result.leader]

    def _guess_leader(self) -> SimNode:
        leader = self.current_leader()
        if leader is not None and self.rng.random() < 0.9:
            return leader
        return self.nodes[self.rng.choice(list(self.nodes))]

    def _expire_writes(self) -> None:
        for cid, w in list(self.writes.items()):
            if self.now >= w.deadline:
                # The client gave up waiting; it retries the same command elsewhere (duplicates are
                # expected in the log, the state machine drops them by id).
                del self.writes[cid]
                self._propose(cid, self.rng.choice(list(self.nodes)))

    def on_applied(self, node: SimNode, entry: Entry) -> None:
        if entry.kind is not EntryKind.COMMAND:
            return
        cid = entry.data.decode()
        w = self.writes.get(cid)
        if w and w.node == node.id and w.index == entry.index and w.term == entry.term:
            del self.writes[cid]
            self.checker.on_ack(cid, entry.index)

    def client_read(self) -> None:
        node = self._guess_leader()
        if self.cfg.stale_read_rate and self.rng.random() < self.cfg.stale_read_rate:
            # A client still talking to a node that believes it leads, deposed or not.
            believers = [n for n in self.nodes.values() if n.up and n.core.role is Role.LEADER]
            node = self.rng.choice(believers) if believers else node
        if not node.up or node.paused:
            return
        self._next_read += 1
        ctx = f"r{self._next_read}"
        if node.core.read_index(ctx) is None:
            self.reads[ctx] = PendingRead(node.id, set(self.checker.acked))
            node.process()

    def on_read_index(self, node: SimNode, ctx: str, index: int) -> None:
        read = self.reads.pop(ctx, None)
        if read is None or read.node != node.id:
            return
        # The sim applies synchronously, so the read is served once this node's applied index reaches
        # the read index; if it is behind, the read waits (dropped here: nothing to check yet).
        if node.sm.applied >= index:
            self.checker.on_read(node.id, node.sm.visible(), read.acked_before)

    # ------------------------------------------------------------------------------- heal phase

    def heal_everything(self) -> None:
        self.network.heal()
        c = self.network.conditions
        c.loss_rate = c.duplicate_rate = 0.0
        for nid in list(self.restart_at):
            del self.restart_at[nid]
            self.restart(nid)
        for nid, node in self.nodes.items():
            if not node.up:
                self.restart(nid)
            node.paused = False
        self.resume_at.clear()
        self.membership.heal()
        self.trace("--- all faults healed ---")

    def await_convergence(self) -> None:
        """After healing: a leader, the preferred one once settled, and every node identical."""
        deadline = self.now + self.cfg.heal_limit_ms
        for _ in range(5):  # a few writes after healing must commit everywhere
            self.client_write()
        while self.now < deadline:
            self.step(faults=False, clients=False)
            if self._converged():
                return
        raise Stalled(
            f"no convergence within {self.cfg.heal_limit_ms / 1000:.0f} s of healing: {self.describe()}"
        )

    def _converged(self) -> bool:
        """A leader, every membership change asked for made and committed, the preferred voter
        leading, and every member (never a removed node) identical."""
        leader = self.current_leader()
        if leader is None or self.writes or not self.membership.settled(leader.core):
            return False
        config = leader.core.config
        if self.cfg.prefer_leader and leader.id != config.voters[0]:
            return False
        members = [self.nodes[m] for m in config.members]
        applied = {n.sm.applied for n in members}
        digests = {n.sm.digest for n in members}
        return len(applied) == 1 and len(digests) == 1 and applied == {leader.core.commit}

    def measure_failover(self) -> None:
        """Kill the settled leader; a new one must be elected within a bounded simulated time."""
        old = self.current_leader()
        assert old is not None
        crashed_at = self.now
        old.crash()
        self.trace(f"{old.id} (leader) killed to measure failover")
        deadline = self.now + 10_000
        while self.now < deadline:
            self.step(faults=False, clients=False)
            leader = self.current_leader()
            if leader is not None and leader is not old:
                self.failover_ms.append(self.now - crashed_at)
                break
        else:
            raise Stalled(f"no new leader within 10 s of killing {old.id}: {self.describe()}")
        self.restart(old.id)
        self.await_convergence()

    def on_new_leader(self, node: SimNode, term: int) -> None:
        self.leader_changes.append((self.now, node.id, term))
        self.trace(f"{node.id} becomes leader of term {term}")
        if node.core is not None:
            self.membership.drive(node.core)  # the runtime takes up what it was asked for at once

    def current_leader(self) -> SimNode | None:
        """The up, unpaused leader with the highest term (a deposed one may not know it yet)."""
        best = None
        for n in self.nodes.values():
            if (
                n.up
                and not n.paused
                and n.core.role is Role.LEADER
                and (best is None or n.core.term > best.core.term)
            ):
                best = n
        return best

    def leader_node(self) -> SimNode:
        leader = self.current_leader()
        assert leader is not None
        return leader

    def describe(self) -> str:
        parts = []
        for n in self.nodes.values():
            if not n.up:
                parts.append(f"{n.id}:down")
                continue
            c = n.core
            kind = "voter" if n.id in c.config.voters else "learner" if n.id in c.config.learners else "out"
            parts.append(
                f"{n.id}:{c.role.value}/{kind}/t{c.term}/commit{c.commit}/applied{n.sm.applied}"
                f"/last{c.log.last_index}"
            )
        return " ".join(parts)
