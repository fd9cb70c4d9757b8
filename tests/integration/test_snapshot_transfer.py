"""A follower far behind catches up through a snapshot sent in many chunks, while the leader goes on
taking writes, with no election (transport.py, node/snapshot_inbox.py)."""

from __future__ import annotations

import asyncio
import re

from .harness import Client, ProcessCluster, find_leader, wait_for

CHUNK_BYTES = 4096  # a snapshot of a thousand tasks then spans dozens of chunks


async def _terms(client: Client, cluster: ProcessCluster) -> set[int]:
    statuses = [await client.status(n) for n in cluster.nodes if n.running]
    return {s["term"] for s in statuses if s is not None}


async def test_a_follower_far_behind_catches_up_through_a_snapshot_in_chunks(make_cluster, client):
    cluster = make_cluster(
        3,
        # No hand-back to the lowest port while the test runs: the leader it found stays. An election
        # timeout of a busy machine's (the harness's 300 ms is for failover tests): an election here
        # must come from the transfer, not from a test runner that took the CPU for a moment.
        timings={
            "snapshot_chunk_bytes": CHUNK_BYTES,
            "leader_settle_ms": 600_000,
            "heartbeat_ms": 100,
            "election_timeout_ms": 2000,
        },
        storage={"snapshot_every": 50},
    )
    cluster.start_all()
    leader = await find_leader(client, cluster)
    lagging = next(n for n in cluster.nodes if n is not leader)
    cluster.kill(lagging.index)
    code, _, _ = await client.call(
        "POST",
        leader.url + "/tasks/batch",
        {"tasks": [{"title": f"task {i} " + "x" * 100} for i in range(1000)]},
    )
    assert code == 201
    for i in range(120):  # past snapshot_every, twice: the log the follower needs is compacted away
        code, _, _ = await client.call("POST", leader.url + "/tasks", {"title": f"t{i}"})
        assert code == 201
    before = await _terms(client, cluster)
    assert len(before) == 1

    writes: list[int] = []
    stop = asyncio.Event()

    async def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            code, _, _ = await client.call("POST", leader.url + "/tasks", {"title": f"during {n}"})
            writes.append(code)
            n += 1

    writer = asyncio.create_task(keep_writing())
    cluster.start(lagging.index)

    async def caught_up() -> bool:
        behind, ahead = await client.status(lagging), await client.status(leader)
        return bool(behind and ahead and writes and behind["applied_index"] >= ahead["commit_index"] - 5)

    try:
        await wait_for(caught_up, 60, "the restarted follower to catch up")
    finally:
        stop.set()
        await writer
    tasks = await wait_for(lambda: _all_tasks_on(client, lagging, 1120 + len(writes)), 30, "every task")
    assert len(tasks) == 1120 + len(writes)

    assert writes and set(writes) == {201}  # the leader took every write meanwhile
    assert await _terms(client, cluster) == before  # and nobody started an election
    received = re.findall(
        r"received a snapshot at index \d+ from \S+: (\d+) bytes in (\d+) chunks", lagging.log.read_text()
    )
    assert received, "the follower installed no snapshot received in chunks"
    size, chunks = map(int, received[-1])
    assert chunks == -(-size // CHUNK_BYTES) and chunks > 10
    assert "installed a snapshot from the leader" in lagging.log.read_text()
    assert not list((cluster.root / f"data{lagging.port}" / "snapshots").glob("incoming-*"))


async def _all_tasks_on(client: Client, node, count: int) -> list | None:
    tasks = await client.tasks(node)
    return tasks if tasks is not None and len(tasks) == count else None
