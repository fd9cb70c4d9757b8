"""Membership with real processes: a node joins and is promoted, a dead node is replaced under
continuous writes, the leader is removed, a node joins during a partition... (docs/guarantees.md#members)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from .harness import DEADLINE_S, SECRET, Client, NodeProcess, ProcessCluster, find_leader, wait_for

ADMIN = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield Client(session)


def cluster_of(tmp_path, size: int, **timings: Any) -> ProcessCluster:
    return ProcessCluster(tmp_path, size, timings=timings)


async def members(client: Client, node: NodeProcess) -> dict[str, Any] | None:
    code, body, _ = await client.call("GET", node.url + "/cluster/members", headers=ADMIN, timeout=2)
    return body if code == 200 and body["view"] == "leader" else None


async def role_of(client: Client, via: NodeProcess, member: str) -> str | None:
    listed = await members(client, via)
    row = next((m for m in listed["members"] if m["id"] == member), None) if listed else None
    return row["role"] if row else None


async def test_a_node_with_join_is_added_as_a_learner_and_promoted_once_caught_up(tmp_path, client):
    cluster = cluster_of(tmp_path, 3)
    try:
        cluster.start_all()
        leader = await find_leader(client, cluster)
        for n in range(20):
            await client.call("POST", leader.url + "/tasks", {"title": f"before {n}"})
        joiner = cluster.add_node(join=cluster.nodes[1].url)
        cluster.start(joiner.index)

        async def voter() -> bool:
            return await role_of(client, leader, joiner.id) == "voter"

        await wait_for(voter, DEADLINE_S, f"{joiner.id} to become a voter")
        status = await client.status(joiner)
        leader_status = await client.status(leader)
        assert status["membership"] == "voter" and status["cluster_id"] == leader_status["cluster_id"]
        tasks = await client.tasks(joiner, consistency="strong")
        assert len(tasks) == 20
    finally:
        cluster.close()
        print(cluster.logs()[-8000:])
