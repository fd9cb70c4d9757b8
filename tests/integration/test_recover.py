"""``todonode recover --force-new-cluster`` with real processes (docs/guarantees.md#force-new-cluster):
one node of four survives and becomes a cluster of its own that serves everything it held, takes
writes, grows back and fails over; a running node's directory is refused; a node of the old cluster
that comes back is refused by the new one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from .harness import DEADLINE_S, SECRET, Client, NodeProcess, ProcessCluster, find_leader, wait_for
from .membership import role_of, until_each_counts_voters

TASKS = 40


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield Client(session)


def cluster_of(tmp_path, size: int) -> ProcessCluster:
    # No hand-back to the lowest port in the middle of a test: the leader a test found stays.
    return ProcessCluster(tmp_path, size, timings={"leader_settle_ms": 60_000})


async def titles(client: Client, node: NodeProcess) -> list[str] | None:
    tasks = await client.tasks(node, consistency="strong")
    return None if tasks is None else sorted(t["title"] for t in tasks)


async def write(client: Client, node: NodeProcess, title: str) -> None:
    code, body, _ = await client.call("POST", node.url + "/tasks", {"title": title})
    assert code == 201, body


async def cluster_id(client: Client, node: NodeProcess) -> str | None:
    status = await client.status(node)
    return status["cluster_id"] if status else None


async def survivor_of_four(client: Client, cluster: ProcessCluster) -> tuple[NodeProcess, str, list[str]]:
    """Four nodes, ``TASKS`` tasks written; every node but the survivor killed. Returns the survivor,
    the old cluster's id and the titles it holds."""
    cluster.start_all()
    leader = await find_leader(client, cluster)
    written = sorted(f"task {n:02d}" for n in range(TASKS))
    for title in written:
        await write(client, leader, title)
    survivor = next(n for n in reversed(cluster.nodes) if n is not leader)
    await caught_up(client, survivor, leader)
    old_id = await cluster_id(client, survivor)
    assert old_id is not None
    for node in cluster.nodes:
        if node is not survivor:
            cluster.kill(node.index)
    cluster.kill(survivor.index)  # a stopped survivor: recover works on a directory no node runs on
    return survivor, old_id, written


async def caught_up(client: Client, node: NodeProcess, leader: NodeProcess) -> None:
    """Wait until ``node`` has applied everything ``leader`` had committed."""
    committed = (await client.status(leader) or {})["commit_index"]

    async def applied() -> bool:
        status = await client.status(node)
        return bool(status and status["commit_index"] >= committed and status["applied_index"] >= committed)

    await wait_for(applied, DEADLINE_S, f"{node.id} to apply every write")


async def recover(node: NodeProcess, *options: str) -> subprocess.CompletedProcess[str]:
    """``todonode recover --force-new-cluster`` on ``node``'s config, with no terminal to ask on."""
    command = [
        sys.executable,
        "-m",
        "todonode.cli",
        "recover",
        "--force-new-cluster",
        "--config",
        str(node.config),
    ]
    env = {**os.environ, "TODONODE_SECRET": SECRET}  # the config reads the cluster secret from it
    return await asyncio.to_thread(
        subprocess.run,
        [*command, *options],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
    )


async def recover_and_start(client: Client, cluster: ProcessCluster, survivor: NodeProcess) -> str:
    unconfirmed = await recover(survivor)
    assert unconfirmed.returncode == 1 and unconfirmed.stderr.strip().splitlines() == [
        "todonode: refusing without confirmation: run this in a terminal and type the node id, or add "
        "--yes; nothing was changed"
    ]
    recovered = await recover(survivor, "--yes")
    assert recovered.returncode == 0, (recovered.stdout, recovered.stderr)
    assert "May be lost: every write the other voters acknowledged" in recovered.stdout
    assert f"tasks:           {TASKS}" in recovered.stdout
    cluster.start(survivor.index)
    assert await find_leader(client, cluster) is survivor
    new_id = await wait_for(lambda: cluster_id(client, survivor), DEADLINE_S, "the new cluster's id")
    return new_id


async def until_voter(client: Client, leader: NodeProcess, member: str) -> None:
    async def voter() -> bool:
        return await role_of(client, leader, member) == "voter"

    await wait_for(voter, DEADLINE_S, f"{member} to become a voter")


async def test_one_of_four_recovered_serves_all_it_held_takes_writes_grows_back_and_fails_over(
    tmp_path, client
):
    cluster = cluster_of(tmp_path, 4)
    try:
        survivor, old_id, written = await survivor_of_four(client, cluster)
        new_id = await recover_and_start(client, cluster, survivor)
        assert new_id != old_id
        assert await titles(client, survivor) == written
        await write(client, survivor, "after the recovery")

        fresh = [cluster.add_node(join=survivor.url) for _ in range(2)]
        for node in fresh:
            cluster.start(node.index)
            await until_voter(client, survivor, node.id)
        await until_each_counts_voters(client, fresh, 3)
        everything = sorted([*written, "after the recovery"])
        for node in fresh:
            assert await wait_for(lambda n=node: titles(client, n), DEADLINE_S, "the tasks") == everything

        cluster.kill(survivor.index)
        leader = await find_leader(client, cluster)
        assert leader in fresh
        await write(client, leader, "after the failover")
        assert await titles(client, leader) == sorted([*everything, "after the failover"])
        assert await cluster_id(client, leader) == new_id
    finally:
        cluster.close()


# The leader, cut off from its majority, must still lead while it sends the survivor one more entry
# (CheckQuorum deposes it after an election timeout): alone, no CPU-heavy suite starves it that long.
@pytest.mark.alone
async def test_an_entry_the_survivor_never_learned_was_committed_counts_as_committed(tmp_path, client):
    cluster = ProcessCluster(
        tmp_path, 4, timings={"leader_settle_ms": 60_000, "election_timeout_ms": 3000, "heartbeat_ms": 100}
    )
    try:
        cluster.start_all()
        leader = await find_leader(client, cluster)
        await write(client, leader, "committed")
        survivor, paused, dead = [n for n in cluster.nodes if n is not leader]
        await caught_up(client, survivor, leader)
        cluster.kill(dead.index)
        cluster.pause(paused.index)  # the leader and the survivor: two of four, no majority
        code, _, _ = await client.call(
            "POST", leader.url + "/tasks", {"title": "never committed"}, timeout=0.5
        )
        assert code != 201

        async def holds_it_uncommitted() -> bool:
            # As the leader sees it: a follower acknowledges an entry only once it is on its disk.
            code, body, _ = await client.call("GET", leader.url + "/cluster/status", timeout=1)
            matched = (
                [n["match_index"] for n in body["nodes"] if n["id"] == survivor.id] if code == 200 else []
            )
            return bool(matched and matched[0] is not None and matched[0] > body["commit_index"])

        await wait_for(holds_it_uncommitted, DEADLINE_S, f"{survivor.id} to hold an entry not committed")
        for node in (leader, paused, survivor):
            cluster.kill(node.index)
        recovered = await recover(survivor, "--yes")
        assert recovered.returncode == 0, recovered.stderr
        assert "Will now count as committed: the 1 entry after index" in recovered.stdout, recovered.stdout
        assert "(1 create)" in recovered.stdout, recovered.stdout
        cluster.start(survivor.index)
        assert await find_leader(client, cluster) is survivor
        assert await titles(client, survivor) == ["committed", "never committed"]
    finally:
        cluster.close()


async def test_a_running_node_s_directory_is_refused_and_left_alone(tmp_path, client):
    cluster = cluster_of(tmp_path, 1)
    try:
        node = cluster.start(0)
        await find_leader(client, cluster)
        data_dir = tmp_path / f"data{node.port}"
        before = sorted(os.listdir(data_dir))
        refused = await recover(node, "--yes")
        assert refused.returncode == 1
        assert refused.stderr.strip().splitlines() == [
            f"todonode: data directory {data_dir} is in use by another todonode process (pid "
            f"{node.proc.pid}); stop that process first, or give this node a data directory of its own"
        ]
        assert sorted(os.listdir(data_dir)) == before
        assert not [p for p in os.listdir(tmp_path) if ".before-recover-" in p]
        await write(client, node, "still serving")
    finally:
        cluster.close()


async def test_a_node_of_the_old_cluster_that_comes_back_is_refused_by_the_new_one(tmp_path, client):
    cluster = cluster_of(tmp_path, 4)
    try:
        survivor, old_id, written = await survivor_of_four(client, cluster)
        await recover_and_start(client, cluster, survivor)
        # As README says to rebuild: an old node, its data set aside, joins the new cluster under its
        # old port, so under its old id.
        rejoined, stale = [n for n in cluster.nodes if n is not survivor][:2]
        old_data = tmp_path / f"data{rejoined.port}"
        kept = old_data.rename(tmp_path / f"data{rejoined.port}.old")
        text = rejoined.config.read_text()
        rejoined.config.write_text(text.replace("[storage]\n", f'join = "{survivor.url}"\n[storage]\n', 1))
        cluster.start(rejoined.index)
        await until_voter(client, survivor, rejoined.id)
        assert await titles(client, rejoined) == written

        # Its old disk comes back: the same id and URL as a member of the new cluster, another cluster.
        cluster.kill(rejoined.index)
        old_data.rename(tmp_path / f"data{rejoined.port}.new")
        kept.rename(old_data)
        cluster.start(rejoined.index)
        said = f"refusing the streams of {rejoined.id}: {rejoined.id} belongs to cluster {old_id}"
        await wait_for(lambda: _logged(survivor, said), DEADLINE_S, "the new cluster to refuse it")
        assert await _open_stream(client, survivor, rejoined.id, old_id) == (409, "cluster_mismatch")

        # A node of the old cluster that never joined the new one is no member of it.
        cluster.start(stale.index)
        assert await wait_for(lambda: cluster_id(client, stale), DEADLINE_S, "the old node's id") == old_id
        listed = await _members(client, survivor)
        assert stale.id not in listed and sorted(listed) == sorted([survivor.id, rejoined.id])
        assert await _open_stream(client, survivor, stale.id, old_id) == (400, "validation_error")
        status = await client.status(stale)
        assert status is not None and status["leader_id"] is None
        assert await titles(client, stale) is None  # no leader to confirm a read
    finally:
        cluster.close()


async def _open_stream(client: Client, node: NodeProcess, member: str, cluster: str) -> tuple[int, str]:
    """What ``node`` answers ``member`` of ``cluster`` opening its peer stream: status and error code."""
    code, body, _ = await client.call(
        "GET",
        f"{node.url}/internal/raft/stream?from={member}",
        headers={"Authorization": f"Bearer {SECRET}", "X-Todonode-Cluster": cluster},
    )
    return code, body["error"]


async def _logged(node: NodeProcess, text: str) -> bool:
    return text in node.log.read_text()


async def _members(client: Client, node: NodeProcess) -> list[str]:
    code, body, _ = await client.call(
        "GET", node.url + "/cluster/members", headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert code == 200, body
    listed: list[dict[str, Any]] = body["members"]
    return [m["id"] for m in listed]
