"""Start-up: a node rebuilt from its disk, exactly as it was when it stopped or was killed.

The data directory's VERSION file is read first: a directory in a storage format newer than this
todonode reads stops the node before anything in it is read or changed. The newest valid snapshot
gives the applied state; the write-ahead log gives the term, the vote, the commit index and the
entries after the snapshot, which the core will apply again. The log goes on in the storage format
of the cluster version the snapshot holds, or in the newer one the directory already uses. A
damaged snapshot is set aside (never deleted) and the one before it used; a torn log tail is cut
(storage/wal.py).

When what is left no longer joins up — the log starts after the newest snapshot that could be read —
the entries in between are lost. The node then keeps its term and vote and the state of the snapshot
it has, drops its log, and takes no part in elections until it holds as much as it once did: it may
have acknowledged some of the lost entries, and a leader elected with its vote could lack them
(see ``vote_floor`` in raft/core.py). The leader sends it everything again.
"""

from __future__ import annotations

import gc
import logging
import random

from ..config import Config
from ..raft import ClusterConfig, Entry, RaftNode, RaftOptions, Snapshot
from ..storage import Recovered, SnapshotCorruption
from ..storage.member_file import Membership
from ..versions import storage_format_of
from .applied import AppliedState
from .disk import Disk

log = logging.getLogger("todonode.node")


async def recover(
    config: Config, disk: Disk, applied: AppliedState, membership: Membership | None = None
) -> RaftNode:
    """Load the snapshot into ``applied``, open the log, and return the core as it was persisted.
    ``membership``: the MEMBER file of a node that joined a running cluster (storage/member_file.py)."""
    await disk.run(disk.version.load)
    snapshot = await _load_snapshot(disk, applied)
    recovered = await disk.open_wal(max(disk.version.format, storage_format_of(applied.cluster.version)))
    for note in recovered.notes:
        log.info("recovery: %s", note)
    entries, vote_floor = recovered.entries, 0
    if recovered.first_index > applied.index + 1:
        entries, vote_floor = await _start_over(disk, applied, recovered)
    core = RaftNode(
        options(config, membership),
        random.Random(),
        hard_state=recovered.hard_state,
        snapshot=snapshot,
        entries=entries,
        vote_floor=vote_floor,
    )
    # The loaded state is long-lived: keep the collector from scanning it again and again (full
    # collections over 100,000 tasks stall the loop for long enough to miss heartbeats).
    gc.freeze()
    log.info(
        "node %s starting: term %d, log %d..%d, snapshot at %d, %d tasks, cluster version %d, "
        "storage format %d",
        core.id,
        recovered.hard_state.term,
        core.log.first_index,
        core.log.last_index,
        applied.index,
        applied.tasks.counts()["total"],
        applied.cluster.version,
        disk.storage_format,
    )
    return core


def options(config: Config, membership: Membership | None = None) -> RaftOptions:
    """The core's options from the node's config. A node that joined a running cluster never takes its
    configuration from ``cluster.nodes``: it starts with none, and waits for the leader's."""
    cluster = config.cluster
    return RaftOptions(
        node_id=config.node.id if membership is None else membership.member_id,
        config=ClusterConfig(config.preference_order() if membership is None else ()),
        election_ticks=cluster.election_ticks,
        heartbeat_ticks=cluster.heartbeat_ticks,
        prefer_leader=cluster.prefer_lowest_port,
        settle_ticks=max(1, cluster.leader_settle_ms // cluster.tick_ms),
        # Long enough for a large snapshot to cross a busy machine before it is sent again.
        snapshot_timeout_ticks=max(cluster.election_ticks * 20, 3000 // cluster.tick_ms),
        lease_drift_ticks=cluster.lease_drift_ticks,
    )


async def _load_snapshot(disk: Disk, applied: AppliedState) -> Snapshot | None:
    try:
        loaded = await disk.snapshots.load_latest()
    except SnapshotCorruption as exc:
        log.error("%s", exc)
        for path in await disk.snapshots.set_aside():
            log.error("set aside the damaged snapshot %s", path)
        return None
    if loaded is None:
        return None
    applied.replace(loaded.db.db, loaded.meta.index)
    return Snapshot(loaded.meta, b"")  # the bytes stay on disk until a follower needs them


async def _start_over(disk: Disk, applied: AppliedState, recovered: Recovered) -> tuple[list[Entry], int]:
    had = max(recovered.first_index - 1 + len(recovered.entries), recovered.hard_state.commit)
    log.error(
        "%s: the log starts at %d but no valid snapshot reaches it (entries %d..%d are missing): "
        "recovering from peers; this node will not vote until it holds index %d again",
        disk.data_dir,
        recovered.first_index,
        applied.index + 1,
        recovered.first_index - 1,
        had,
    )
    await disk.run(disk.wal.reset, applied.index)
    return [], had
