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
from ..config import Config
from ..deadline import Deadline
from ..errors import NoLeader, NoQuorum, NotLeader, Overloaded, StorageUnavailable, Unavailable
from ..events import Event, EventHub
from ..observer import NodeObserver
from ..raft import (
    NOT_LEADER,
    Accepted,
    AppendEntries,
    Heartbeat,
    InstallSnapshot,
    Message,
    RaftNode,
    Role,
    SnapshotMeta,
)
from ..state import Result, TaskState
from ..transport import PeerTransport
from ..versions import Announcement, ClusterTooNew
from .applied import AppliedState
from .clock import TickClock, tick_forever
from .demo import DemoLink
from .disk import Disk
from .ready_loop import ReadyLoop
from .recovery import recover
from .role_changes import RoleChanges
from .snapshot_policy import SnapshotPolicy
from .status import NodeStatus, QuorumStatus, capture, quorum
from .versioning import ClusterVersioning, PeerStream
from .waiters import AppliedWaiters, Proposals, ReadWaiters

log = logging.getLogger("todonode.node")

MAX_PENDING_WRITES = 10_000  # beyond this a node answers 503 overloaded instead of queueing more
COMMIT_TIMEOUT_S = 10.0  # a write accepted but not applied by then has an unknown outcome


class Node:
    def __init__(self, config: Config, transport: PeerTransport | None = None):
        self.config = config
        self.id = config.node.id
        self.members = config.members  # id -> URL
        self.events = EventHub()
        self.observer = NodeObserver()  # see observe()
        self.transport = transport or PeerTransport(
            self_id=self.id,
            members=config.peer_urls,
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
        )
        self.failed = asyncio.Event()  # the consensus loop failed: the command exits with status 1
        self.failure: BaseException | None = None  # why, once ``failed`` is set
        self.last_leader_contact: float | None = None  # wall time, for /status
        self._applied = AppliedState(config.node.data_dir / "state.json")
        self._disk = Disk(self.id, config.node.data_dir, config.storage)
        self._proposals = Proposals()
        self._reads = ReadWaiters()
        self._applied_waiters = AppliedWaiters()
        self._role_changes: RoleChanges | None = None
        self._core: RaftNode | None = None
        self._ready_loop: ReadyLoop | None = None
        self._snapshot_policy: SnapshotPolicy | None = None
        self._versioning: ClusterVersioning | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Half the drift margin for ticks running late, half for clocks running at different rates.
        self._clock = TickClock(config.cluster.tick_ms, slack_ms=config.cluster.lease_drift_margin_ms / 2)

    # ========================================================================================= lifecycle

    def observe(self, observer: NodeObserver) -> None:
        """Report to ``observer`` from now on (metrics.py); call it before ``start``."""
        self.observer = observer
        self.transport.on_rtt = observer.replication_rtt

    async def start(self) -> None:
        self._disk.lock()
        core = self._core = await recover(self.config, self._disk, self._applied)
        self._role_changes = RoleChanges(
            self.id, self.members, self.events, self.observer, lambda: self.last_leader_contact
        )
        self._snapshot_policy = SnapshotPolicy(
            core, self._applied, self._disk, self.config.storage, self.observer
        )
        self._versioning = ClusterVersioning(core, self._applied, self._disk)
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
            observer=self.observer,
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
        )

    # ==================================================================================== peers

    def receive(self, peer: str, messages: list[Message]) -> None:
        """A batch of messages from ``peer`` (the peer stream handler, api/internal.py)."""
        if not self.transport.received(peer, messages):
            return
        core = self.core
        self._distrust_late_ticks()  # a follower's read may be among them
        for m in messages:
            if isinstance(m, AppendEntries | Heartbeat | InstallSnapshot) and m.term >= core.term:
                self.last_leader_contact = time.time()
            core.step(m)
        self.ready_loop.wake()

    def peer_stream_opened(self, peer: str, announced: Announcement, stream: PeerStream) -> str | None:
        """A stream from ``peer`` is opening (api/internal.py): None to accept it, or why it is refused."""
        return self.versioning.stream_opened(peer, announced, stream)

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
