"""A cluster seeded from a state (storage/new_cluster.py), with real processes: its one member leads
alone though its config file lists the old cluster's nodes, and a new node joins it with
``[cluster] join`` and is promoted, holding the same tasks."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from todonode.storage.new_cluster import seed_new_cluster

from ..unit.storage.test_new_cluster import INDEX, TERM, old_state
from .harness import DEADLINE_S, Client, ProcessCluster, find_leader, wait_for
from .membership import role_of


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield Client(session)


async def test_a_node_joins_a_seeded_cluster_and_is_promoted_with_its_tasks(tmp_path, client):
    cluster = ProcessCluster(tmp_path, 3, timings={"leader_settle_ms": 60_000})
    try:
        seeded = cluster.nodes[0]
        cluster_id = seed_new_cluster(
            tmp_path / f"data{seeded.port}", seeded.id, seeded.url, old_state(count=30), INDEX, TERM
        )
        cluster.start(seeded.index)  # its two peers in the config file never start: they are gone
        assert await find_leader(client, cluster) is seeded
        code, _, _ = await client.call("POST", seeded.url + "/tasks", {"title": "after the seeding"})
        assert code == 201

        joiner = cluster.add_node(join=seeded.url)
        cluster.start(joiner.index)

        async def voter() -> bool:
            return await role_of(client, seeded, joiner.id) == "voter"

        await wait_for(voter, DEADLINE_S, f"{joiner.id} to become a voter")

        async def knows_the_cluster() -> dict[str, Any] | None:
            status = await client.status(joiner)
            return status if status and status["cluster_id"] == cluster_id else None

        await wait_for(knows_the_cluster, DEADLINE_S, f"{joiner.id} to know the seeded cluster's id")
        tasks = await client.tasks(joiner, consistency="strong")
        assert tasks is not None
        assert sorted(t["title"] for t in tasks) == sorted(
            [*(f"task {n}" for n in range(1, 31)), "after the seeding"]
        )
        status = await client.status(seeded)
        assert status["quorum"]["voters"] == 2 and status["config_disagreement"] is None
    finally:
        cluster.close()
