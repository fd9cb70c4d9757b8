"""Start-up from the disk (node/recovery.py): the state, the log and the core agree on where they are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson

from todonode.config import Config
from todonode.node.applied import AppliedState
from todonode.node.disk import Disk
from todonode.node.recovery import recover
from todonode.raft import ClusterConfig, Entry, HardState, RaftNode, SnapshotMeta
from todonode.state import TaskState, create_command
from todonode.storage import SnapshotStore, WriteAheadLog

from ..api.conftest import load, write_config

AT = "2026-12-01T00:00:00.000Z"


def _command_entry(index: int, title: str) -> Entry:
    command = create_command(title, task_id=f"t{index}", at=AT)
    return Entry(term=1, index=index, data=orjson.dumps(command))


def _state_after(entries: list[Entry]) -> dict:
    state: dict = {}
    tasks = TaskState(state)
    for e in entries:
        tasks.apply(e.index, orjson.loads(e.data))
    return state


async def _write_disk(data_dir: Path, voters: tuple[str, ...]) -> list[Entry]:
    """A node's disk after two snapshots (at 3 and 10) and a log compacted to keep 8..12."""
    entries = [_command_entry(i, f"task {i}") for i in range(1, 13)]
    data_dir.mkdir(mode=0o700, parents=True)  # as a node makes it: private
    store = SnapshotStore(data_dir / "snapshots")
    config = ClusterConfig(voters)
    await store.save(SnapshotMeta(3, 1, config), _state_after(entries[:3]))
    await store.save(SnapshotMeta(10, 1, config), _state_after(entries[:10]))
    wal, _ = WriteAheadLog.open(data_dir / "wal")
    wal.append(HardState(term=1, vote=voters[0], commit=12), entries)
    wal.sync()
    wal.compact(7)
    wal.close()
    return entries


@asynccontextmanager
async def recovered(config: Config) -> AsyncIterator[tuple[RaftNode, AppliedState]]:
    """The core and the applied state as ``recover`` rebuilds them from the config's data directory."""
    disk = Disk(config.node.id, config.node.data_dir, config.storage)
    disk.lock()
    applied = AppliedState(config.node.data_dir / "state.json")
    try:
        yield await recover(config, disk, applied), applied
    finally:
        await disk.close()


async def test_a_node_that_lost_its_newest_snapshot_keeps_the_older_one_consistently(tmp_path: Path):
    """The log no longer joins the older snapshot: the node starts over from that snapshot. Its state,
    its applied index and its core must all stand at the snapshot, never a mix (the core at 3 with an
    empty state would apply entry 4 on top of nothing)."""
    config = load(write_config(tmp_path / "node"))
    data_dir = config.node.data_dir
    entries = await _write_disk(data_dir, (config.node.id,))
    newest = sorted((data_dir / "snapshots").glob("snap-*.json"))[-1]
    newest.write_bytes(b"{damaged")
    async with recovered(config) as (core, applied):
        assert applied.index == 3
        assert applied.db.db == _state_after(entries[:3])
        assert (core.log.snapshot_index, core.log.last_index, core.commit) == (3, 3, 3)
        assert core.term == 1  # the term and vote survive


async def test_a_node_restarts_from_its_newest_snapshot_and_replays_the_log_after_it(tmp_path: Path):
    config = load(write_config(tmp_path / "node"))
    entries = await _write_disk(config.node.data_dir, (config.node.id,))
    async with recovered(config) as (core, applied):
        assert applied.index == 10
        assert applied.db.db == _state_after(entries[:10])
        assert (core.log.snapshot_index, core.log.last_index, core.commit) == (10, 12, 12)
