"""The node runtime: drives the Raft core with a clock, the disk and the network, and applies what it
commits to the task state.

One write, end to end (the HTTP handler has already validated it and built the command):

1. ``propose`` hands the encoded command to the core, which appends it to the leader's log, and waits
   on a future keyed by the entry's index.
2. ``_run`` takes the core's ``Ready``: it writes the new entries and hard state to the write-ahead
   log and fsyncs (one fsync for everything that arrived meanwhile: group commit), then gives the
   messages to the transport, which sends them to each peer over its own connection.
3. Followers do the same and answer; when a majority holds the entry the core commits it, and the
   next ``Ready`` lists it under ``committed``.
4. ``_apply`` applies it to the task state and resolves the future with the result, which the handler
   returns to the client. The commit index travels to followers at once, so they apply it too.

Everything that blocks (file writes, fsync, encoding a snapshot) runs in threads, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import logging
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pickledb import PickleDB

from .config import Config
from .errors import NoLeader, NoQuorum, NotLeader, Overloaded, StorageUnavailable, Unavailable
from .events import Event, EventHub
from .observer import NodeObserver
from .raft import (
    NOT_LEADER,
    Accepted,
    AppendEntries,
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Heartbeat,
    InstallSnapshot,
    Message,
    RaftNode,
    RaftOptions,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
)
from .state import TaskState
from .storage import (
    DataDirLock,
    Recovered,
    SnapshotCorruption,
    SnapshotStore,
    StorageError,
    WriteAheadLog,
    decode_snapshot,
)
from .transport import PeerTransport

log = logging.getLogger("todonode.node")
T = TypeVar("T")

MAX_PENDING_WRITES = 10_000  # beyond this a node answers 503 overloaded instead of queueing more
COMMIT_TIMEOUT_S = 10.0  # a proposal not applied by then has an unknown outcome
STORAGE_RETRY_S = 0.5


@dataclass
class _Proposal:
    term: int
    future: asyncio.Future[Any]


class Node:
    def __init__(self, config: Config, transport: PeerTransport | None = None):
        self.config = config
        self.id = config.node.id
        self.members = config.members  # id -> URL
        self.data_dir = Path(config.node.data_dir)
        self.events = EventHub()
        self.observer = NodeObserver()  # metrics.py replaces it to measure
        self.transport = transport or PeerTransport(
            self_id=self.id,
            members=self.members,
            secret=config.cluster.secret,
            timeout_s=config.cluster.election_timeout_ms / 1000,
            probe_interval_s=config.cluster.heartbeat_ms / 1000,
            # Two election timeouts: a peer slowed by a busy machine is not a peer gone, and the core's
            # CheckQuorum, not this, decides when a leader has really lost its majority.
            reachable_window_s=2 * config.cluster.election_timeout_ms / 1000,
            read_snapshot=self._read_snapshot_bytes,
            on_change=self._on_peer_change,
        )
        self._lock = DataDirLock(self.data_dir)
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.id}-disk")
        self.snapshots = SnapshotStore(self.data_dir / "snapshots")
        self._wal: WriteAheadLog | None = None
        self.core: RaftNode | None = None
        self.db = PickleDB(str(self.data_dir / "state.json"))  # in memory; made durable by snapshots
        self.state = TaskState(self.db.db)
        self.applied = 0  # last log index applied (tasks or no-op)
        self.last_leader_contact: float | None = None  # wall time, for /status
        self.storage_error: str | None = None
        self._snapshot_index = 0
        self._snapshot_time = time.monotonic()
        self._snapshotting = False
        self._wake = asyncio.Event()
        self.failed = asyncio.Event()
        self._leader_changed = asyncio.Event()
        self._proposals: dict[int, _Proposal] = {}
        self._reads: dict[str, asyncio.Future[int]] = {}
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._soft_state: tuple[Role, str | None, int] | None = None  # as last reported by the core

    # ========================================================================================= lifecycle

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            loaded = await self.snapshots.load_latest()
        except SnapshotCorruption as exc:
            log.error("%s", exc)
            for path in await self.snapshots.set_aside():
                log.error("set aside the damaged snapshot %s", path)
            loaded = None
        snap: Snapshot | None = None
        if loaded is not None:
            self.db = loaded.db
            self.state = TaskState(self.db.db)
            snap = Snapshot(loaded.meta, b"")  # the bytes stay on disk until a follower needs them
            self.applied = self._snapshot_index = loaded.meta.index
        self._wal, recovered = await self._on_disk(
            WriteAheadLog.open,
            self.data_dir / "wal",
            segment_bytes=self.config.storage.segment_bytes,
            fsync=self.config.storage.fsync,
        )
        for note in recovered.notes:
            log.info("recovery: %s", note)
        entries, vote_floor = recovered.entries, 0
        if recovered.first_index > self.applied + 1:
            entries, vote_floor = await self._start_over(recovered)
        cluster = self.config.cluster
        self.core = RaftNode(
            RaftOptions(
                node_id=self.id,
                config=ClusterConfig(self.config.preference_order()),
                election_ticks=cluster.election_ticks,
                heartbeat_ticks=cluster.heartbeat_ticks,
                prefer_leader=cluster.prefer_lowest_port,
                settle_ticks=max(1, cluster.leader_settle_ms // cluster.tick_ms),
                snapshot_timeout_ticks=max(cluster.election_ticks * 20, 3000 // cluster.tick_ms),
            ),
            random.Random(),
            hard_state=recovered.hard_state,
            snapshot=snap,
            entries=entries,
            vote_floor=vote_floor,
        )
        self.events.complete_after = self.applied
        # PITFALLS 16: the loaded state is long-lived; keep the collector from scanning it again and
        # again (full collections over 100,000 tasks stall the loop for long enough to miss heartbeats).
        gc.freeze()
        log.info(
            "node %s starting: term %d, log %d..%d, snapshot at %d, %d tasks",
            self.id,
            recovered.hard_state.term,
            self.core.log.first_index,
            self.core.log.last_index,
            self.applied,
            self.state.counts()["total"],
        )
        await self.transport.start()
        for coro in (self._run(), self._tick_loop()):
            self._tasks.append(asyncio.create_task(coro))
        self._wake.set()

    async def _start_over(self, recovered: Recovered) -> tuple[list[Entry], int]:
        """The log no longer joins a valid snapshot (one was damaged or removed): what lies between is
        lost. Keep the term and vote, drop the log, and let the leader send everything again. Until this
        node holds as much as it had, it must not vote: it may have acknowledged entries that a leader
        elected with its vote would lack (see RaftNode's ``vote_floor``)."""
        had = max(recovered.first_index - 1 + len(recovered.entries), recovered.hard_state.commit)
        log.error(
            "%s: the log starts at %d but no valid snapshot reaches it (entries up to %d are missing): "
            "recovering from peers; this node will not vote until it holds index %d again",
            self.data_dir,
            recovered.first_index,
            recovered.first_index - 1,
            had,
        )
        await self._on_disk(self._wal.reset, 0)
        self.db.db = {}
        self.state = TaskState(self.db.db)
        self.applied = self._snapshot_index = 0
        return [], had

    async def stop(self) -> None:
        """Stop the loops, close the log (everything acknowledged is already fsync'd) and release the
        data directory."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.transport.stop()
        for waiter in self._proposals.values():
            if not waiter.future.done():
                waiter.future.set_exception(Unavailable("the node is shutting down; retry on another node"))
        if self._wal is not None:
            await self._on_disk(self._wal.close)
        self._disk.shutdown(wait=True)
        self._lock.release()

    async def hand_over_leadership(self) -> None:
        """Before a planned stop: if leading, hand leadership to the most caught-up reachable peer, so
        the cluster does not wait an election timeout to notice the leader is gone. Call it while the
        server still accepts requests: the hand-over needs the peers' answers."""
        core = self.core
        if core is None or core.role is not Role.LEADER:
            return
        peers = sorted(core.status().peers, key=lambda p: -p.match)
        if not peers or not self.transport.is_reachable(peers[0].node_id):
            return
        target = peers[0].node_id
        core.transfer_leadership(target)
        self._wake.set()
        deadline = time.monotonic() + self.config.cluster.election_timeout_ms / 1000
        while core.role is Role.LEADER and time.monotonic() < deadline:
            await self._wait_leader_change(deadline - time.monotonic())
        if core.role is not Role.LEADER:
            log.info("handed leadership to %s before stopping", target)
        # Give the TimeoutNow time to leave before the sockets close.
        await asyncio.sleep(0)

    async def transfer_leadership(self, target: str) -> str | None:
        """On the leader: hand leadership to ``target`` (thesis §3.10) and wait, at most two election
        timeouts, until some leader is known again. Returns the leader then (None: none yet)."""
        core = self.core
        if core.role is Role.LEADER and target != self.id:
            log.info("handing leadership to %s, as asked", target)
            core.transfer_leadership(target)
            self._wake.set()
            deadline = time.monotonic() + 2 * self.config.cluster.election_timeout_ms / 1000
            while (core.role is Role.LEADER or core.leader is None) and time.monotonic() < deadline:
                await self._wait_leader_change(deadline - time.monotonic())
        return core.leader

    # ====================================================================================== the loops

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.cluster.tick_ms / 1000
        due = loop.time()
        while True:
            due += interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            lag = loop.time() - due
            if lag > interval * 10:
                # Something blocked the event loop (PITFALLS 13): long enough, and followers would start
                # elections. Say so, and do not make up for it with a burst of ticks.
                log.warning("event loop blocked for %.0f ms", lag * 1000)
                due = loop.time()
            self.core.tick()
            self.transport.poll()
            self._wake.set()

    async def _run(self) -> None:
        """Drain the core's Ready batches in the order the Ready contract demands (raft/ready.py).

        If this loop ever fails, the node must not go on answering as if it were part of the cluster:
        ``failed`` is set and the command exits with status 1."""
        try:
            await self._drain_readies()
        except Exception:
            log.critical("the consensus loop failed; stopping the node", exc_info=True)
            self.failed.set()
            raise

    async def _drain_readies(self) -> None:
        core = self.core
        while True:
            await self._wake.wait()
            self._wake.clear()
            while core.has_ready():
                # One turn of the event loop first: requests that have already arrived get proposed
                # and ride in this Ready, so under load each round carries more writes.
                await asyncio.sleep(0)
                rd = core.ready()
                if rd.send_before_persisting:
                    # A leader's appends go out while it writes its own log: the two fsyncs overlap.
                    self.transport.send(rd.messages)
                    await self._persist(rd)
                else:
                    await self._persist(rd)
                    self.transport.send(rd.messages)
                await self._apply(rd)
                core.advance(rd)
            self._maybe_snapshot()

    async def _persist(self, rd: Ready) -> None:
        """Make the Ready durable; on a disk error keep retrying, answering writes with 507 meanwhile.
        Nothing of this Ready leaves the node before it is on disk."""
        if not rd.must_sync:
            if rd.hard_state is not None:
                # Only the commit index moved: worth recording, so that a node restarted right after
                # acknowledging a write shows it at once, but not worth waiting for (a lost commit
                # index is learnt again from the leader). The disk thread keeps it in order.
                self._disk.submit(self._record_commit, rd.hard_state)
            return
        while True:
            try:
                if rd.snapshot is not None:
                    meta = await self.snapshots.install(rd.snapshot.data)
                    await self._on_disk(self._wal.reset, meta.index)
                if rd.hard_state is not None or rd.entries:
                    await self._on_disk(self._write_wal, rd)
            except (StorageError, OSError) as exc:
                if self.storage_error is None:
                    log.error("storage: %s; writes refused until it recovers", exc)
                self.storage_error = str(exc)
                await asyncio.sleep(STORAGE_RETRY_S)
                continue
            if self.storage_error is not None:
                log.warning("storage recovered")
                self.storage_error = None
            return

    def _write_wal(self, rd: Ready) -> None:
        self._wal.append(rd.hard_state, list(rd.entries))
        started = time.perf_counter()
        self._wal.sync()
        self.observer.fsync(time.perf_counter() - started)

    def _record_commit(self, hard_state: HardState) -> None:
        try:
            self._wal.append(hard_state, [])
        except (StorageError, OSError) as exc:
            log.debug("could not record the commit index: %s", exc)

    async def _apply(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            await self._restore(rd.snapshot)
        for entry in rd.committed:
            self.applied = entry.index
            if entry.kind is EntryKind.NOOP:
                self._settle(entry.index, entry.term, None)
                continue
            result = self.state.apply(entry.index, orjson.loads(entry.data))
            self._settle(entry.index, entry.term, result)
            for ev in result.events:
                change = {"type": ev.kind, "id": ev.id, "task": ev.task, "index": entry.index}
                self.events.publish(Event("task", change, entry.index))
        self._release_applied_waiters()
        for rs in rd.read_states:
            fut = self._reads.pop(rs.ctx, None)
            if fut is not None and not fut.done():
                fut.set_result(rs.index)
        for ctx in rd.failed_reads:
            fut = self._reads.pop(ctx, None)
            if fut is not None and not fut.done():
                fut.set_exception(NoLeader("leadership changed during the read; retry", retry_after=0.5))
        if rd.soft_state is not None:
            self._on_soft_state(rd.soft_state.role, rd.soft_state.leader, rd.soft_state.term)

    def _settle(self, index: int, term: int, result: Any) -> None:
        waiter = self._proposals.pop(index, None)
        if waiter is None or waiter.future.done():
            return
        if waiter.term == term:
            waiter.future.set_result(result)
        else:
            # Another leader's entry took this index: ours was never committed.
            waiter.future.set_exception(
                Unavailable("leadership changed before the write committed; retry it", retry_after=0.5)
            )

    async def _restore(self, snap: Snapshot) -> None:
        meta, state = await asyncio.to_thread(decode_snapshot, snap.data, "the snapshot from the leader")
        self.db.db = state
        self.state = TaskState(self.db.db)
        self.applied = self._snapshot_index = meta.index
        self._snapshot_time = time.monotonic()
        for index in [i for i in self._proposals if i <= meta.index]:
            self._proposals.pop(index).future.set_exception(
                Unavailable("the node was replaced by a snapshot; retry the write", retry_after=0.5)
            )
        self.events.complete_after = meta.index
        self.events.publish(Event("reset", {"reason": "snapshot_installed", "index": meta.index}))
        log.info("installed a snapshot from the leader at index %d", meta.index)

    def _on_soft_state(self, role: Role, leader: str | None, term: int) -> None:
        before = self._soft_state or (Role.FOLLOWER, None, 0)
        self._soft_state = (role, leader, term)
        votes = (self.core.votes_granted, len(self.members))
        # "role R, term T, leader L" first: tools read it (tests/chaos/history.py); then what happened.
        event = role_change_message(before, self._soft_state, votes)
        log.info("role %s, term %d, leader %s: %s", role.value, term, leader or "unknown", event)
        if leader != before[1]:
            self.observer.leader_changed(leader, term)
        self.events.publish(
            Event(
                "cluster",
                {
                    "type": "role",
                    "node": self.id,
                    "role": role.value,
                    "term": term,
                    "leader": leader,
                    "leader_url": self.members.get(leader or ""),
                },
            )
        )
        self._leader_changed.set()
        self._leader_changed = asyncio.Event()

    def _on_peer_change(self, peer: str, reachable: bool) -> None:
        log.info("peer %s is %s", peer, "reachable" if reachable else "unreachable")
        self.events.publish(Event("cluster", {"type": "peer", "node": peer, "reachable": reachable}))

    # ===================================================================================== snapshots

    def _maybe_snapshot(self) -> None:
        storage = self.config.storage
        due = self.applied - self._snapshot_index >= storage.snapshot_every or (
            self.applied > self._snapshot_index
            and time.monotonic() - self._snapshot_time >= storage.snapshot_interval_s
        )
        if due and not self._snapshotting:
            self._snapshotting = True
            self._tasks.append(asyncio.create_task(self._take_snapshot()))

    async def _take_snapshot(self) -> None:
        core = self.core
        try:
            index = self.applied
            meta = SnapshotMeta(index, core.log.term_at(index), core.config)
            started = time.monotonic()
            saved = await self.snapshots.save(meta, self.state.snapshot())
            # Keep some entries so a follower slightly behind catches up from the log, not a snapshot.
            retain = min(self.config.storage.snapshot_every, 5_000)
            core.compact(Snapshot(meta, b""), retain=retain)
            cut = core.log.snapshot_index
            if cut == max(0, index - retain) and cut > 0:
                await self._on_disk(self._wal.compact, cut)
            self._snapshot_index, self._snapshot_time = index, time.monotonic()
            took = time.monotonic() - started
            self.observer.snapshot(took, saved.size)
            log.info("snapshot at index %d: %d bytes in %.0f ms", index, saved.size, took * 1000)
        except (StorageError, OSError) as exc:
            log.error("snapshot failed: %s", exc)
        finally:
            self._snapshotting = False
            self._tasks = [t for t in self._tasks if not t.done()]

    async def _read_snapshot_bytes(self, meta: SnapshotMeta) -> bytes:
        return await self.snapshots.read_bytes(meta)

    # ===================================================================================== the API

    @property
    def role(self) -> Role:
        return self.core.role

    @property
    def is_leader(self) -> bool:
        return self.core.role is Role.LEADER

    @property
    def leader_id(self) -> str | None:
        return self.core.leader

    @property
    def leader_url(self) -> str | None:
        return self.members.get(self.core.leader or "")

    def receive(self, messages: list[Message]) -> None:
        """Messages from peers (the internal RPC handler calls this)."""
        for m in messages:
            if isinstance(m, AppendEntries | Heartbeat | InstallSnapshot) and m.term >= self.core.term:
                self.last_leader_contact = time.time()
            self.core.step(m)
        self._wake.set()

    async def propose(self, command: dict[str, Any]) -> Any:
        """Replicate ``command`` and return what applying it gave (a state.Result).

        Raises NotLeader when another node leads (the API forwards or redirects), NoLeader/NoQuorum when
        none emerges within ``write_wait_ms``, Overloaded, StorageUnavailable, or Unavailable when the
        outcome is unknown (a retry with the same Idempotency-Key is then always safe).
        """
        if self.storage_error is not None:
            raise StorageUnavailable(
                f"this node cannot write to its disk ({self.storage_error}); reads still work", retry_after=1
            )
        if len(self._proposals) >= MAX_PENDING_WRITES:
            raise Overloaded("too many writes in flight on this node; retry shortly", retry_after=1)
        data = _exact(orjson.dumps(command))
        deadline = time.monotonic() + self.config.cluster.write_wait_ms / 1000
        while True:
            if self.is_leader and not self._have_quorum():
                raise self._no_quorum()
            result = self.core.propose(data)
            if isinstance(result, Accepted):
                fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self._proposals[result.index] = _Proposal(result.term, fut)
                self._wake.set()
                try:
                    # A timeout or a client that leaves cancels only this wait: _settle skips a done future.
                    async with asyncio.timeout(COMMIT_TIMEOUT_S):
                        return await fut
                except TimeoutError:
                    raise Unavailable(
                        "the write was not confirmed in time; its outcome is unknown. Retry it with the same "
                        "Idempotency-Key to be safe",
                        retry_after=1,
                    ) from None
            if result.reason == NOT_LEADER and result.leader and result.leader != self.id:
                raise NotLeader(
                    f"{result.leader} leads the cluster; send writes there", leader=self.leader_url
                )
            # No leader yet, or a hand-over in progress: wait for the election instead of failing.
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._no_leader_error()
            await self._wait_leader_change(remaining)

    async def read_barrier(self, timeout: float | None = None) -> int:
        """Linearizable read (ReadIndex): returns once this node has applied every write acknowledged
        before the call. Returns the index it waited for."""
        timeout = self.config.cluster.write_wait_ms / 1000 if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            ctx = uuid.uuid4().hex
            refused = self.core.read_index(ctx)
            if refused is None:
                fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
                self._reads[ctx] = fut
                self._wake.set()
                try:
                    index = await asyncio.wait_for(fut, max(0.01, deadline - time.monotonic()))
                except TimeoutError:
                    self._reads.pop(ctx, None)
                    raise self._no_leader_error() from None
                except NoLeader:
                    if time.monotonic() >= deadline:
                        raise
                    continue
                await self.wait_applied(index, max(0.01, deadline - time.monotonic()))
                return index
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._no_leader_error()
            await self._wait_leader_change(remaining)

    async def wait_applied(self, index: int, timeout: float) -> bool:
        """Wait until this node has applied ``index``; False if it has not within ``timeout``."""
        if self.applied >= index:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._applied_waiters, (index, id(fut), fut))
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
            return True
        except TimeoutError:
            return False

    def _release_applied_waiters(self) -> None:
        while self._applied_waiters and self._applied_waiters[0][0] <= self.applied:
            fut = heapq.heappop(self._applied_waiters)[2]
            if not fut.done():
                fut.set_result(None)

    async def _wait_leader_change(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._leader_changed.wait(), timeout)

    def _have_quorum(self) -> bool:
        return 1 + self.transport.reachable_count() >= self.core.config.quorum()

    def _no_quorum(self) -> NoQuorum:
        up, total, need = 1 + self.transport.reachable_count(), len(self.members), self.core.config.quorum()
        return NoQuorum(
            f"{up} of {total} nodes reachable; {need} needed to accept writes. Reads still work; "
            "writes resume when enough nodes are back",
            reachable=up,
            needed=need,
            retry_after=1,
        )

    def _no_leader_error(self) -> NoLeader | NoQuorum:
        if not self._have_quorum():
            return self._no_quorum()
        return NoLeader("no leader has been elected yet; retry shortly", retry_after=0.5)

    async def _on_disk(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking storage work on the node's single disk thread (the WAL is not thread-safe)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._disk, lambda: fn(*args, **kwargs))


def _exact(data: bytes) -> bytes:
    """``data`` in an object of its own size. orjson hands back its whole working buffer — 4 KiB for a
    100-byte command, 260 KiB for a 63 KiB batch — and the log keeps thousands of entries: at 100,000
    tasks that was 50 MB of a leader's memory."""
    return bytes(memoryview(data))


def role_change_message(
    before: tuple[Role, str | None, int], after: tuple[Role, str | None, int], votes: tuple[int, int]
) -> str:
    """What a change of role, leader or term means, for the log: an election started, won or lost (with
    the votes, granted of members, of this node's latest campaign), a step down, a new leader."""
    (was, _, _), (role, leader, term) = before, after
    granted, members = votes
    campaigning = (Role.PRE_CANDIDATE, Role.CANDIDATE)
    if role is Role.LEADER and was is not Role.LEADER:
        return f"election won with {granted} of {members} votes"
    if role is Role.CANDIDATE and (was is not Role.CANDIDATE or before[2] != term):
        return "election started: campaigning"
    if role is Role.PRE_CANDIDATE and was is not Role.PRE_CANDIDATE:
        return f"election started: no leader heard from, asking for pre-votes for term {term + 1}"
    if was in campaigning and role is Role.FOLLOWER:
        stage = "pre-vote" if was is Role.PRE_CANDIDATE else "election"
        return f"{stage} lost with {granted} of {members} votes"
    if was is Role.LEADER and role is not Role.LEADER:
        return "stepped down"
    return "new leader" if leader else "no leader known"
