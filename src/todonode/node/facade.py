"""``Node``: the one object the API talks to.

It starts and stops the node's parts, and offers what a request needs: propose a write and wait for
its result, confirm a linearizable read, wait until an index is applied, move the leadership, take
peer messages in, and report the node's status. How the work is done lives next to it, one concern a
file:

- ``recovery.py``: start-up, from the snapshot and the write-ahead log;
- ``ready_loop.py``: the Ready loop, which persists, sends, applies and settles;
- ``clock.py``: the ticks that drive the core's timers;
- ``snapshot_policy.py``: when to snapshot and compact the log;
- ``versioning.py``: peers' versions, the cluster version and when it moves;
- ``waiters.py``: who waits for what; ``status.py``: the status snapshot; ``disk.py``: the disk thread;
- ``snapshot_inbox.py``: snapshots arriving from the leader in chunks;
- ``demo.py``: in demo mode only, the faults the demo supervisor injects and the reports it gets.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import orjson

from .. import tls
from ..cluster_state import IDENTITY_VERSION, keep_learner_command
from ..config import Config
from ..deadline import Deadline
from ..errors import (
    MembershipRefused,
    NoLeader,
    NoQuorum,
    NotLeader,
    Overloaded,
    RemovedFromCluster,
    StorageUnavailable,
    Unavailable,
)
from ..events import Event, EventHub
from ..observer import NodeObserver
from ..raft import (
    NOT_LEADER,
    Accepted,
    AppendEntries,
    ChangeKind,
    ConfigChange,
    Heartbeat,
    InstallSnapshot,
    Message,
    RaftNode,
    Refused,
    Role,
    Snapshot,
    SnapshotMeta,
)
from ..snapshot_chunks import Chunk
from ..state import Result, TaskState
from ..storage import member_file
from ..storage.member_file import Membership
from ..transport import PeerTransport
from ..versions import Announcement, ClusterTooNew
from .applied import AppliedState
from .autopilot import Autopilot
from .backup_point import BackupPoint, backup_point
from .clock import TickClock, tick_forever
from .demo import DemoLink
from .disk import Disk
from .identity import ClusterIdentity
from .joining import ask_to_join
from .members import Members, membership_refusal, new_member_id
from .ready_loop import ReadyLoop
from .recovery import recover
from .role_changes import RoleChanges
from .snapshot_inbox import SnapshotInbox, TransferRefused
from .snapshot_policy import SnapshotPolicy
from .status import MembershipStatus, NodeStatus, QuorumStatus, capture, quorum
from .versioning import ClusterVersioning, PeerStream
from .waiters import AppliedWaiters, Proposals, ReadWaiters

log = logging.getLogger("todonode.node")

MAX_PENDING_WRITES = 10_000  # beyond this a node answers 503 overloaded instead of queueing more
COMMIT_TIMEOUT_S = 10.0  # a write accepted but not applied by then has an unknown outcome


class Node:
    def __init__(self, config: Config, transport: PeerTransport | None = None):
        self.config = config
        # A node that joined a running cluster is the member its MEMBER file names; any other is the
        # member its config file names, in a cluster that file bootstrapped.
        self._membership = member_file.load(config.node.data_dir)
        self.id = config.node.id if self._membership is None else self._membership.member_id
        self.members = self._first_address_book()  # id -> URL; node/members.py keeps it in step
        self.events = EventHub()
        self.observer = NodeObserver()  # see observe()
        self.transport = transport or PeerTransport(
            self_id=self.id,
            members={member: config.peer_url(url) for member, url in self.members.items()},
            # Under mutual TLS the certificate is the credential; the secret then never leaves the node.
            secret=None if config.tls.mutual else config.cluster.secret,
            ssl_context=tls.client_context(config.tls, present_certificate=True),
            timeout_s=config.cluster.election_timeout_ms / 1000,
            probe_interval_s=config.cluster.heartbeat_ms / 1000,
            # Two election timeouts: a peer slowed by a busy machine is not a peer gone, and the core's
            # CheckQuorum, not this, decides when a leader has really lost its majority.
            reachable_window_s=2 * config.cluster.election_timeout_ms / 1000,
            read_snapshot=self._read_snapshot_bytes,
            on_change=self._on_peer_change,
            snapshot_path=lambda meta: self._disk.snapshots.path_of(meta),
            snapshot_chunk_bytes=config.cluster.snapshot_chunk_bytes,
        )
        self.failed = asyncio.Event()  # the consensus loop failed: the command exits with status 1
        # Removed and added back under a new id (auto_rejoin): the command restarts as that member.
        self.rejoined: Membership | None = None
        self.restart = asyncio.Event()
        self.failure: BaseException | None = None  # why, once ``failed`` is set
        self.last_leader_contact: float | None = None  # wall time, for /status
        self._applied = AppliedState(config.node.data_dir / "state.json")
        self._disk = Disk(self.id, config.node.data_dir, config.storage)
        self._inbox = SnapshotInbox(self._disk.snapshots, config.storage.max_snapshot_bytes)
        self._proposals = Proposals()
        self._reads = ReadWaiters()
        self._applied_waiters = AppliedWaiters()
        self._role_changes: RoleChanges | None = None
        self._core: RaftNode | None = None
        self._ready_loop: ReadyLoop | None = None
        self._snapshot_policy: SnapshotPolicy | None = None
        self._versioning: ClusterVersioning | None = None
        self._identity: ClusterIdentity | None = None
        self._members: Members | None = None
        self._told_removed = False  # a member refused this node's stream: it was removed
        self._tasks: list[asyncio.Task[None]] = []
        # Half the drift margin for ticks running late, half for clocks running at different rates.
        self._clock = TickClock(config.cluster.tick_ms, slack_ms=config.cluster.lease_drift_margin_ms / 2)

    # ========================================================================================= lifecycle

    def observe(self, observer: NodeObserver) -> None:
        """Report to ``observer`` from now on (metrics.py); call it before ``start``."""
        self.observer = observer
        self.transport.on_rtt = observer.replication_rtt

    def _first_address_book(self) -> dict[str, str]:
        if self._membership is None:
            return dict(self.config.members)
        return {**self._membership.addresses, self.id: self.config.self_url}

    async def start(self) -> None:
        self._disk.lock()
        join = self.config.cluster.join
        if self._membership is None and join is not None and self._disk.is_empty():
            self._adopt(await ask_to_join(self.config, self.config.self_url, [join]))
        core = self._core = await recover(self.config, self._disk, self._applied, self._membership)
        self._role_changes = RoleChanges(
            self.id, self.members, self.events, self.observer, lambda: self.last_leader_contact
        )
        self._snapshot_policy = SnapshotPolicy(
            core, self._applied, self._disk, self.config.storage, self.observer
        )
        self._versioning = ClusterVersioning(core, self._applied, self._disk)
        joined = self._membership
        self._identity = ClusterIdentity(core, self._applied, joined.cluster_id if joined else None)
        self.transport.cluster_id = lambda: self.cluster_id
        self.transport.on_removed = self._on_removed
        self.transport.leads_in = lambda term: core.role is Role.LEADER and core.term == term
        self._members = Members(
            core,
            self.transport,
            self.members,
            file_members=self.config.members if joined is None else {self.id: self.config.self_url},
            joined_addresses=joined.addresses if joined else {},
            peer_url=self.config.peer_url,
        )
        self._ready_loop = ReadyLoop(
            core=core,
            disk=self._disk,
            transport=self.transport,
            applied=self._applied,
            events=self.events,
            role_changes=self._role_changes,
            proposals=self._proposals,
            reads=self._reads,
            applied_waiters=self._applied_waiters,
            snapshot_policy=self._snapshot_policy,
            versioning=self._versioning,
            identity=self._identity,
            members=self._members,
            observer=self.observer,
            inbox=self._inbox,
        )
        self.events.complete_after = self._applied.index
        demo = self.config.demo
        demo_link = DemoLink(self.id, demo, self.events, self.transport, self._disk) if demo.enabled else None
        if demo_link is not None:
            self._tasks.append(await demo_link.follow_faults())  # before any peer hears from this node
        await self.transport.start()
        self._tasks += [
            asyncio.create_task(self._run_ready_loop()),
            asyncio.create_task(tick_forever(self._clock, core, self.transport, self._ready_loop)),
        ]
        if demo_link is not None:
            self._tasks.append(asyncio.create_task(demo_link.run()))
        autopilot = Autopilot(
            core,
            self.transport,
            self._applied,
            self.config.cluster,
            change=self._change,
            removed=lambda: self.removal_committed,
            rejoin=self.rejoin,
        )
        self._tasks.append(asyncio.create_task(autopilot.run()))
        self._ready_loop.wake()

    async def stop(self) -> None:
        """Stop the loops, fail the writes still waiting, close the log and release the data directory."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._snapshot_policy is not None:
            await self._snapshot_policy.stop()
        await self.transport.stop()
        self._proposals.fail_all(Unavailable("the node is shutting down; retry on another node"))
        await self._disk.close()

    def _adopt(self, membership: Membership) -> None:
        """This node joined a cluster as ``membership`` says: from now on it is that member."""
        member_file.save(self.config.node.data_dir, membership)
        self._membership = membership
        self.id = membership.member_id
        self.members.clear()
        self.members.update(self._first_address_book())
        self.transport.self_id = self.id
        self.transport.set_peers(
            {m: self.config.peer_url(url) for m, url in self.members.items() if m != self.id}
        )

    async def _run_ready_loop(self) -> None:
        """If the Ready loop ever fails, the node must not go on answering as if it were part of the
        cluster: ``failed`` is set and the command exits."""
        try:
            await self.ready_loop.run()
        except ClusterTooNew as exc:
            log.error("%s", exc)
            self.failure = exc
            self.failed.set()
            raise
        except Exception as exc:
            log.critical("the consensus loop failed; stopping the node", exc_info=True)
            self.failure = exc
            self.failed.set()
            raise

    # ====================================================================================== reading

    @property
    def started(self) -> bool:
        return self._core is not None

    @property
    def core(self) -> RaftNode:
        assert self._core is not None, "the core exists once the node has started"
        return self._core

    @property
    def versioning(self) -> ClusterVersioning:
        assert self._versioning is not None, "versions are followed once the node has started"
        return self._versioning

    @property
    def cluster_id(self) -> str | None:
        """The id of the cluster this node belongs to; None until it is known (node/identity.py)."""
        return None if self._identity is None else self._identity.cluster_id

    @property
    def ready_loop(self) -> ReadyLoop:
        assert self._ready_loop is not None, "the Ready loop exists once the node has started"
        return self._ready_loop

    @property
    def state(self) -> TaskState:
        """The applied task state, for reads."""
        return self._applied.tasks

    @property
    def applied(self) -> int:
        return self._applied.index

    @property
    def last_index(self) -> int:
        """The last index in this node's log (applied or not)."""
        return self.core.log.last_index

    @property
    def is_leader(self) -> bool:
        return self.core.role is Role.LEADER

    @property
    def leader_id(self) -> str | None:
        return self.core.leader

    @property
    def leader_url(self) -> str | None:
        return self.members.get(self.core.leader or "")

    @property
    def storage_error(self) -> str | None:
        return self._disk.error

    def status(self) -> NodeStatus:
        """Everything worth reporting about this node, as one frozen value."""
        return capture(
            self.core,
            self.transport,
            self.members,
            applied_index=self._applied.index,
            last_leader_contact=self.last_leader_contact,
            storage_error=self._disk.error,
            tick_ms=self.config.cluster.tick_ms,
            demo=self.config.demo.enabled,
            versions=self.versioning.status(),
            cluster_id=self.cluster_id,
            membership=self._membership_status(),
        )

    def _membership_status(self) -> MembershipStatus:
        config, cluster = self.core.config, self._applied.cluster
        if self.removed:
            role = "removed"
        elif not config.voters:
            role = "joining"
        else:
            role = "voter" if self.id in config.voters else "learner"
        return MembershipStatus(
            role=role,
            retired=tuple(sorted(cluster.retired)),
            kept_learners=tuple(sorted(cluster.kept_learners)),
            promote_lag=self.config.cluster.promote_lag,
            config_disagreement=None if self._members is None else self._members.disagreement,
        )

    # ==================================================================================== peers

    def receive(self, peer: str, messages: list[Message]) -> None:
        """A batch of messages from ``peer`` (the peer stream handler, api/internal.py)."""
        if not self.transport.received(peer, messages) or not messages:
            return  # an empty batch is a probe: it tells the transport the peer is there, the core nothing
        core = self.core
        self._distrust_late_ticks()  # a follower's read may be among them
        for m in messages:
            if isinstance(m, InstallSnapshot) and m.snapshot is not None and self._foreign(peer, m.snapshot):
                continue
            if isinstance(m, AppendEntries | Heartbeat | InstallSnapshot) and m.term >= core.term:
                self.last_leader_contact = time.time()
            core.step(m)
        self.ready_loop.wake()

    async def receive_snapshot_chunk(self, peer: str, chunk: Chunk) -> None:
        """A chunk of a snapshot ``peer`` sends (api/internal.py). Once the last is in, the core gets the
        snapshot by reference, as an ``InstallSnapshot`` without its bytes (node/snapshot_inbox.py)."""
        if chunk.dst != self.id or not self.transport.received(peer, []):
            return
        try:
            received = await self._inbox.accept(peer, chunk)
        except TransferRefused as exc:
            log.warning("refused a snapshot from %s: %s", peer, exc)
            return
        if received is None:
            return
        assert self._identity is not None, "chunks are received once the node has started"
        snapshot = Snapshot(received.meta, b"")
        if self._identity.refuse_snapshot(peer, received.tail):
            await self._inbox.discard(received)
            return
        self.receive(peer, [InstallSnapshot(term=received.term, src=peer, dst=self.id, snapshot=snapshot)])
        if self.core.snapshot is not snapshot:
            log.info(
                "dropped the snapshot at index %d from %s: stale, or this node holds all of it (commit %d)",
                received.meta.index,
                peer,
                self.core.commit,
            )
            await self._inbox.discard(received)
            return
        self._inbox.claim(received)
        log.info(
            "received a snapshot at index %d from %s: %d bytes in %d chunks",
            received.meta.index,
            peer,
            received.size,
            received.chunks,
        )

    async def snapshot_stream_closed(self, peer: str) -> None:
        """``peer``'s stream closed: a snapshot it was sending will not arrive whole."""
        await self._inbox.abandon(peer)

    def peer_stream_opened(self, peer: str, announced: Announcement, stream: PeerStream) -> str | None:
        """A stream from ``peer`` is opening (api/internal.py): None to accept it, or why it is refused."""
        return self.versioning.stream_opened(peer, announced, stream)

    def foreign_peer(self, peer: str, cluster_id: str | None) -> str | None:
        """Why a stream from ``peer``, which says it belongs to ``cluster_id``, is refused; None if not."""
        return None if self._identity is None else self._identity.refuse_peer(peer, cluster_id)

    def _foreign(self, peer: str, snapshot: Snapshot) -> bool:
        assert self._identity is not None, "messages are received once the node has started"
        return self._identity.refuse_snapshot(peer, snapshot.data)

    def peer_stream_closed(self, peer: str, stream: PeerStream) -> None:
        self.versioning.stream_closed(peer, stream)

    def _on_peer_change(self, peer: str, reachable: bool) -> None:
        log.info("peer %s is %s", peer, "reachable" if reachable else "unreachable")
        self.events.publish(Event("cluster", {"type": "peer", "node": peer, "reachable": reachable}))

    async def _read_snapshot_bytes(self, meta: SnapshotMeta) -> bytes:
        return await self._disk.snapshots.read_bytes(meta)

    # ==================================================================================== writes

    async def propose(self, command: dict[str, Any], deadline: Deadline) -> Result | None:
        """Replicate ``command`` and return what applying it gave.

        Waits until ``deadline`` for a leader when there is none. Raises NotLeader when another node
        leads (the API forwards or redirects), NoLeader or NoQuorum when none emerges in time,
        Overloaded, StorageUnavailable, or Unavailable when the outcome is unknown (a retry with the
        same Idempotency-Key is then always safe).
        """
        if self.removed:
            raise self._removed_error()
        if self._disk.error is not None:
            raise StorageUnavailable(
                f"this node cannot write to its disk ({self._disk.error}); reads still work", retry_after=1
            )
        if len(self._proposals) >= MAX_PENDING_WRITES:
            raise Overloaded("too many writes in flight on this node; retry shortly", retry_after=1)
        data = exact_copy(orjson.dumps(command))
        while True:
            if self.is_leader and not self._quorum().met:
                raise self._no_quorum()
            answer = self.core.propose(data)
            if isinstance(answer, Accepted):
                future = self._proposals.add(answer.index, answer.term)
                self.ready_loop.wake()
                try:
                    # A timeout or a client that leaves cancels only this wait: settling skips it.
                    result: Result | None = await Deadline(COMMIT_TIMEOUT_S).run(future)
                    return result
                except TimeoutError:
                    raise Unavailable(
                        "the write was not confirmed in time; its outcome is unknown. Retry it with the same "
                        "Idempotency-Key to be safe",
                        retry_after=1,
                    ) from None
            if answer.reason == NOT_LEADER and answer.leader and answer.leader != self.id:
                raise NotLeader(
                    f"{answer.leader} leads the cluster; send writes there", leader=self.leader_url
                )
            # No leader yet, or a hand-over in progress: wait for the election instead of failing.
            await self._next_role_change(deadline)

    async def _change_applied(self, accepted: Accepted) -> None:
        """Once the entry the core accepted for a membership change is applied here."""
        future = self._proposals.add(accepted.index, accepted.term)
        self.ready_loop.wake()
        try:
            await Deadline(COMMIT_TIMEOUT_S).run(future)
        except TimeoutError:
            raise Unavailable(
                "the change was not confirmed in time; it may still be made: GET /cluster/members says "
                "whether it was",
                retry_after=1,
            ) from None

    # ================================================================================ membership

    @property
    def removed(self) -> bool:
        """This node was a member and is no more: the configuration in its log leaves it out, or a
        member refused its stream because it was removed."""
        config = self.core.config
        return self._told_removed or (bool(config.voters) and self.id not in config.members)

    @property
    def removal_committed(self) -> bool:
        """Removed for good: by a committed change, not one a new leader could still cut from the log."""
        committed = self.core.committed_config
        return self._told_removed or (bool(committed.voters) and self.id not in committed.members)

    def _removed_error(self) -> RemovedFromCluster:
        rejoin = (
            "it asks to be added back under a new id"
            if self.config.cluster.auto_rejoin
            else ("add it again (todonode cluster add) to have it back: it will get a new id")
        )
        return RemovedFromCluster(f"{self.id} was removed from the cluster; {rejoin}")

    async def rejoin(self) -> None:
        """Removed, with ``cluster.auto_rejoin``: ask to be added back, under a new id; ``restart`` is
        then set, and the command starts over as that member (node/joining.py)."""
        if self.rejoined is not None:
            return
        urls = [url for member, url in self.members.items() if member != self.id]
        if self.config.cluster.join is not None:
            urls.append(self.config.cluster.join)
        log.info("%s was removed from the cluster: asking to be added back (cluster.auto_rejoin)", self.id)
        self.rejoined = await ask_to_join(self.config, self.config.self_url, urls)
        self.restart.set()

    def _on_removed(self, by: str) -> None:
        if not self._told_removed:
            log.warning("%s refused this node's stream: %s was removed from the cluster", by, self.id)
            self._told_removed = True

    def was_member(self, member: str) -> bool:
        """``member`` was removed from the cluster by a committed change (its id is retired)."""
        return member in self._applied.cluster.retired

    async def add_member(self, url: str, member_id: str | None, *, learner: bool) -> str:
        """On the leader: add the node at ``url`` as a learner, under ``member_id`` or a new id, and keep
        it a learner if ``learner`` (else it is promoted once caught up). Returns its id once applied."""
        config = self.core.config
        taken = set(config.members) | self._applied.cluster.retired
        if member_id in self._applied.cluster.retired:
            raise MembershipRefused(
                "id_retired", f"{member_id} was a member before; a node joins under an id no member ever had"
            )
        holder = next((m for m in config.members if self.members.get(m) == url), None)
        if holder is not None:
            if self._awaits_its_node(holder, member_id):
                return holder  # added already, and nothing of it has arrived: the same add, asked again
            raise MembershipRefused("url_in_use", f"{holder} is at {url}: remove it first, or use another")
        member_id = member_id or new_member_id(url, taken, self.members.values())
        self._may_change_members()
        if learner:
            keep = orjson.dumps(keep_learner_command(member_id))
            await self._change_applied(self._accepted(self.core.propose(keep)))
        await self._change(ConfigChange(ChangeKind.ADD_LEARNER, member_id, url))
        log.info("added %s at %s as a learner", member_id, url)
        return member_id

    def _awaits_its_node(self, member: str, asked_id: str | None) -> bool:
        """``member`` is a learner that has acknowledged nothing yet: the node at its URL may start with
        an empty disk and take its place (an administrator adds it, then starts it with cluster.join)."""
        progress = {p.node_id: p.match for p in self.core.status().peers}
        learner = member in self.core.config.learners
        return learner and progress.get(member) == 0 and asked_id in (None, member)

    async def remove_member(self, member_id: str) -> None:
        """On the leader: remove ``member_id``, voter or learner; returns once the removal is applied."""
        self._may_change_members()
        await self._change(ConfigChange(ChangeKind.REMOVE, member_id))
        log.info("removed %s from the cluster", member_id)

    async def promote(self, member_id: str) -> None:
        await self._change(ConfigChange(ChangeKind.PROMOTE, member_id))
        log.info("promoted %s to voter", member_id)

    def _may_change_members(self) -> None:
        if self._applied.cluster.version < IDENTITY_VERSION:
            raise MembershipRefused(
                "cluster_version_too_old",
                f"members change from cluster version {IDENTITY_VERSION} on; the cluster runs at "
                f"{self._applied.cluster.version} until every voter runs a release that has it",
            )

    async def _change(self, change: ConfigChange) -> None:
        await self._change_applied(self._accepted(self.core.propose_config_change(change)))

    def _accepted(self, answer: Accepted | Refused) -> Accepted:
        if isinstance(answer, Accepted):
            return answer
        if answer.reason == NOT_LEADER and answer.leader and answer.leader != self.id:
            raise NotLeader(f"{answer.leader} leads the cluster; ask it", leader=self.leader_url)
        raise membership_refusal(answer)

    # ===================================================================================== reads

    async def read_barrier(self, deadline: Deadline) -> int:
        """Linearizable read (ReadIndex): returns once this node has applied every write acknowledged
        before the call. Returns the index it waited for."""
        while True:
            ctx = uuid.uuid4().hex
            self._distrust_late_ticks()
            if self.core.read_index(ctx) is not None:  # refused: no leader known
                await self._next_role_change(deadline)
                continue
            future = self._reads.add(ctx)
            self.ready_loop.wake()
            try:
                index = await deadline.run(future)
            except TimeoutError:
                self._reads.discard(ctx)
                raise self._no_leader_error() from None
            except NoLeader:
                if deadline.expired:
                    raise
                continue  # leadership changed during the read: ask the new leader
            if not await self.wait_applied(index, deadline):
                raise Unavailable(
                    f"this node could not apply up to the read index {index} in time (it has applied "
                    f"{self._applied.index}); retry, or read from the leader",
                    retry_after=1,
                )
            return index

    def backup_point(self) -> BackupPoint:
        """The applied state at this node's applied index, consistent, for a backup (backup_point.py)."""
        return backup_point(self.core, self._applied, self.cluster_id, self._disk.storage_format)

    async def wait_applied(self, index: int, deadline: Deadline) -> bool:
        """Wait until this node has applied ``index``; False if it has not by ``deadline``."""
        return await self._applied_waiters.wait(index, self._applied.index, deadline.remaining())

    # ============================================================================= leadership

    async def transfer_leadership(self, target: str) -> str | None:
        """On the leader: hand leadership to ``target`` (thesis §3.10) and wait, at most two election
        timeouts, until some leader is known again. Returns the leader then (None: none yet)."""
        core = self.core
        if core.role is Role.LEADER and target != self.id:
            log.info("handing leadership to %s, as asked", target)
            core.transfer_leadership(target)
            self.ready_loop.wake()
            deadline = Deadline(2 * self.config.cluster.election_timeout_ms / 1000)
            while (core.role is Role.LEADER or core.leader is None) and not deadline.expired:
                await self._next_role_change(deadline)
        return core.leader

    async def hand_over_leadership(self) -> None:
        """Before a planned stop: if leading, hand leadership to the most caught-up reachable peer, so
        the cluster does not wait an election timeout to notice the leader is gone. Call it while the
        server still accepts requests: the hand-over needs the peers' answers."""
        if self._core is None or not self.is_leader:
            return
        peers = [p for p in self.status().peers if p.voter and p.match_index is not None]
        if not peers:
            return
        target = max(peers, key=lambda p: p.match_index or 0)
        if not target.reachable:
            return
        core = self.core
        core.transfer_leadership(target.id)
        self.ready_loop.wake()
        deadline = Deadline(self.config.cluster.election_timeout_ms / 1000)
        while core.role is Role.LEADER and not deadline.expired:
            await self._next_role_change(deadline)
        if core.role is not Role.LEADER:
            log.info("handed leadership to %s before stopping", target.id)
        await asyncio.sleep(0)  # let the TimeoutNow leave before the sockets close

    # ================================================================================== helpers

    async def _next_role_change(self, deadline: Deadline) -> None:
        """Wait for the next change of role, term or leader; the error to answer once ``deadline``
        has passed without a leader."""
        if deadline.expired:
            raise self._no_leader_error()
        assert self._role_changes is not None, "roles change once the node has started"
        await deadline.wait(self._role_changes.next_change())

    def _distrust_late_ticks(self) -> None:
        """Before the core may answer a read by lease: ticks that fell behind real time undercount it."""
        if self._clock.behind():
            self.core.expire_lease()

    def _quorum(self) -> QuorumStatus:
        return quorum(self.core, self.transport)

    def _no_quorum(self) -> NoQuorum:
        q = self._quorum()
        return NoQuorum(
            f"{q.reachable} of {q.voters} nodes reachable; {q.needed} needed to accept writes. Reads still "
            "work; writes resume when enough nodes are back",
            reachable=q.reachable,
            needed=q.needed,
            retry_after=1,
        )

    def _no_leader_error(self) -> NoLeader | NoQuorum:
        if not self._quorum().met:
            return self._no_quorum()
        return NoLeader("no leader has been elected yet; retry shortly", retry_after=0.5)


def exact_copy(data: bytes) -> bytes:
    """``data`` in an object of its own size. orjson hands back its whole working buffer — 4 KiB even
    for a 100-byte command — and the log keeps thousands of entries; at 100,000 tasks the difference
    is tens of megabytes of a leader's memory."""
    return bytes(memoryview(data))
