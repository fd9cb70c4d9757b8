"""The Ready loop: the one coroutine that carries out what the Raft core decides.

Each round takes the core's ``Ready`` and does what its contract (raft/ready.py) demands, in order:

1. **persist** the snapshot, entries and hard state to disk, fsync'd (one fsync for everything that
   arrived since the last round: group commit);
2. **send** the messages to the peers (a leader may send its appends while its own write runs: its
   followers' fsyncs and its own then overlap, and it counts itself toward a majority only once its
   own is done);
3. **apply** committed entries to the task state and **settle** whoever waits on them: the write that
   proposed an entry gets the result of applying it, a linearizable read gets its read index; then
   follow the cluster version those entries may have moved (node/versioning.py);
4. **advance** the core.

Nothing a node promises leaves it before its disk has it. If the disk refuses a write the round is
retried until it succeeds, and meanwhile the node answers writes 507 and goes on serving reads.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from ..errors import NoLeader, Unavailable
from ..events import Event, EventHub
from ..observer import NodeObserver
from ..raft import EntryKind, HardState, RaftNode, Ready, Snapshot, SnapshotMeta
from ..state import TaskState
from ..storage import StorageError, decode_snapshot
from ..transport import PeerTransport
from .applied import AppliedState
from .disk import Disk
from .identity import ClusterIdentity
from .members import Members
from .role_changes import RoleChanges
from .snapshot_inbox import SnapshotInbox
from .snapshot_policy import SnapshotPolicy
from .versioning import ClusterVersioning
from .waiters import AppliedWaiters, Proposals, ReadWaiters

log = logging.getLogger("todonode.node")

STORAGE_RETRY_S = 0.5


class ReadyLoop:
    def __init__(
        self,
        *,
        core: RaftNode,
        disk: Disk,
        transport: PeerTransport,
        applied: AppliedState,
        events: EventHub,
        role_changes: RoleChanges,
        proposals: Proposals,
        reads: ReadWaiters,
        applied_waiters: AppliedWaiters,
        snapshot_policy: SnapshotPolicy,
        versioning: ClusterVersioning,
        identity: ClusterIdentity,
        members: Members,
        observer: NodeObserver,
        inbox: SnapshotInbox,
    ) -> None:
        self.core = core
        self.disk = disk
        self.transport = transport
        self.applied = applied
        self.events = events
        self.role_changes = role_changes
        self.proposals = proposals
        self.reads = reads
        self.applied_waiters = applied_waiters
        self.snapshot_policy = snapshot_policy
        self.versioning = versioning
        self.identity = identity
        self.members = members
        self.observer = observer
        self.inbox = inbox
        self._wake = asyncio.Event()
        # The state of a snapshot installed from a file, decoded while installing, until it is restored.
        self._installed: tuple[dict[str, Any], TaskState] | None = None

    def wake(self) -> None:
        """The core may have something ready: a tick, a message, a proposal or a read arrived."""
        self._wake.set()

    async def run(self) -> None:
        core = self.core
        while True:
            await self._wake.wait()
            self._wake.clear()
            while core.has_ready():
                # One turn of the event loop first: requests that have already arrived get proposed
                # and ride in this Ready, so under load each round carries more writes.
                await asyncio.sleep(0)
                rd = core.ready()
                messages = self.versioning.deliverable(rd.messages)
                if rd.send_before_persisting:
                    self.transport.send(messages)
                    # One turn first, in which the senders put the appends on the wire: the log write
                    # below may run on this thread (Disk.write_log), and the followers' fsyncs should
                    # overlap it, not follow it.
                    await asyncio.sleep(0)
                    await self._persist(rd)
                else:
                    await self._persist(rd)
                    self.transport.send(messages)
                await self._apply(rd)
                core.advance(rd)
                self.members.follow_config()
            self.snapshot_policy.maybe_start()
            if self.versioning.maybe_propose() or self.identity.maybe_propose():
                self.wake()

    # ========================================================================================= persist

    async def _persist(self, rd: Ready) -> None:
        if not rd.must_sync:
            if (hard_state := rd.hard_state) is not None:
                # Only the commit index moved: worth recording, so that a node restarted right after
                # acknowledging a write shows it at once, but not worth an fsync (a lost commit index
                # is learnt again from the leader).
                await self.disk.write_log(lambda: self._record_commit(hard_state))
            return
        while True:
            try:
                if rd.snapshot is not None:
                    meta = await self._install(rd.snapshot)
                    await self.disk.run(self.disk.wal.reset, meta.index)
                if rd.hard_state is not None or rd.entries:
                    await self.disk.write_log(lambda: self._write_wal(rd))
            except (StorageError, OSError) as exc:
                if self.disk.error is None:
                    log.error("storage: %s; writes refused until it recovers", exc)
                self.disk.error = str(exc)
                await asyncio.sleep(STORAGE_RETRY_S)
                continue
            if self.disk.error is not None:
                log.warning("storage recovered")
                self.disk.error = None
            return

    async def _install(self, snap: Snapshot) -> SnapshotMeta:
        """Store a leader's snapshot: its bytes (from a 0.1.0 leader, in one message), or the file its
        chunks were reassembled in (node/snapshot_inbox.py), whose state is then kept for _restore."""
        if snap.data:
            return await self.disk.install_snapshot(snap.data)
        meta, state = await self.disk.install_snapshot_file(self.inbox.claimed(snap.meta))
        self._installed = state, await asyncio.to_thread(TaskState, state)
        if meta != snap.meta:
            raise ValueError(f"the snapshot received for index {snap.meta.index} holds index {meta.index}")
        await self.inbox.installed(meta)
        return meta

    def _write_wal(self, rd: Ready) -> None:  # through Disk.write_log
        self.disk.wal.append(rd.hard_state, list(rd.entries))
        self.observer.fsync(self.disk.sync_log())

    def _record_commit(self, hard_state: HardState) -> None:  # through Disk.write_log
        try:
            self.disk.wal.append(hard_state, [])
        except (StorageError, OSError) as exc:
            log.debug("could not record the commit index: %s", exc)

    # ================================================================================ apply and settle

    async def _apply(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            await self._restore(rd.snapshot)
        for entry in rd.committed:
            before = self.core.config_at(entry.index - 1) if entry.kind is EntryKind.CONFIG else None
            result = self.applied.apply(entry, before)
            self.snapshot_policy.applied(entry)
            self.proposals.settle(entry.index, entry.term, result)
            if result is None:
                continue
            await self.events.publish_many(
                Event(
                    "task", {"type": ev.kind, "id": ev.id, "task": ev.task, "index": entry.index}, entry.index
                )
                for ev in result.events
            )
        await self.versioning.follow()
        self.applied_waiters.release(self.applied.index)
        for rs in rd.read_states:
            self.reads.resolve(rs.ctx, rs.index)
        for ctx in rd.failed_reads:
            self.reads.fail(ctx, NoLeader("leadership changed during the read; retry", retry_after=0.5))
        if rd.soft_state is not None:
            self.role_changes.report(rd.soft_state, self.core.votes_granted)
        if rd.votes:
            self.role_changes.voted(rd.votes)

    async def _restore(self, snap: Snapshot) -> None:
        if self._installed is not None:
            meta, (state, tasks), self._installed = snap.meta, self._installed, None
        else:
            meta, state = await asyncio.to_thread(decode_snapshot, snap.data, "the snapshot from the leader")
            tasks = await asyncio.to_thread(TaskState, state)
        self.applied.replace(state, meta.index, tasks)
        # Long-lived from now on, as a recovered state is (node/recovery.py): kept out of the full
        # collections, which over a million tasks hold the interpreter lock for most of a second.
        gc.freeze()
        self.snapshot_policy.restored(meta.index)
        self.proposals.fail_through(
            meta.index, Unavailable("the node was replaced by a snapshot; retry the write", retry_after=0.5)
        )
        self.events.complete_after = meta.index
        self.events.publish(Event("reset", {"reason": "snapshot_installed", "index": meta.index}))
        log.info("installed a snapshot from the leader at index %d", meta.index)
