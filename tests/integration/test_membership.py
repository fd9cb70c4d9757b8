"""Membership with real processes: a node joins and is promoted, a dead node is replaced under
continuous writes, the leader is removed, a node of another cluster is refused, four nodes lose two and
grow back, the terminal client drives it all (docs/guarantees.md#members). A join across a real
partition is in tests/chaos/test_membership_partition.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from ..compat.writers import Writers, check_nothing_lost_or_duplicated
from .harness import DEADLINE_S, Client, ProcessCluster, find_leader, free_port, wait_for
from .membership import (
    HEALING,
    ONE_ELECTION_S,
    change_members,
    leader_of,
    lose_two_and_grow_back,
    members,
    members_can_change,
    role_of,
    same_tasks_everywhere,
    voters_of,
)
from .test_cli import run


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield Client(session)


def cluster_of(tmp_path, size: int, **timings: Any) -> ProcessCluster:
    # No hand-back to the lowest port in the middle of a test: the leader a test found stays.
    return ProcessCluster(tmp_path, size, timings={"leader_settle_ms": 60_000, **timings})


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

        async def says_voter() -> dict[str, Any] | None:
            status = await client.status(joiner)
            return status if status and status["membership"] == "voter" else None

        status = await wait_for(says_voter, DEADLINE_S, f"{joiner.id} to know it votes")
        leader_status = await client.status(leader)
        assert status["cluster_id"] == leader_status["cluster_id"]
        tasks = await client.tasks(joiner, consistency="strong")
        assert len(tasks) == 20
        # The founders' files list three nodes; the log, which they follow, has four.
        disagreement = leader_status["config_disagreement"]
        assert disagreement == f"the log has {joiner.id}, which cluster.nodes does not list"
        assert leader_status["quorum"]["voters"] == 4 and status["config_disagreement"] is None
    finally:
        cluster.close()


# ------------------------------------------------------------------------ replacing, under writes


async def test_a_dead_node_is_replaced_by_a_new_one_on_a_new_port_under_writes(tmp_path, client):
    cluster = cluster_of(tmp_path, 3)
    try:
        cluster.start_all()
        await find_leader(client, cluster)
        dead = next(n for n in cluster.nodes if n.index == 2)
        cluster.kill(dead.index)
        alive = cluster.nodes[:2]
        writers = Writers(client.session, [n.url for n in alive], clients=2, seed=14)
        running = asyncio.ensure_future(writers.run())
        started = time.monotonic()
        try:
            new = cluster.add_node(join=alive[1].url)
            # Added first, as an administrator would, then started: its join finds it added already.
            added = await change_members(client, alive[0], "POST", "/cluster/members", {"url": new.url})
            cluster.start(new.index)
            writers.urls.append(new.url)

            async def voter() -> bool:
                return await role_of(client, await leader_of(client, alive), added["id"]) == "voter"

            await wait_for(voter, DEADLINE_S, f"{added['id']} to become a voter")
            await change_members(client, alive[0], "DELETE", f"/cluster/members/{dead.id}")
            listed = await wait_for(lambda: members(client, alive[0]), DEADLINE_S, "the members")
            assert sorted(m["id"] for m in listed["members"]) == sorted([n.id for n in alive] + [added["id"]])
            assert listed["retired"] == [dead.id]
        finally:
            writers.stopping.set()
            await asyncio.wait_for(running, 90)
        ended = time.monotonic()
        final = await same_tasks_everywhere(client, [*alive, new])
        check_nothing_lost_or_duplicated(writers, [t["title"] for t in final])
        pause, _ = writers.longest_pause(started, ended)
        assert pause <= ONE_ELECTION_S, f"writes stopped for {pause:.2f} s"
        assert len(writers.acks) > 0
    finally:
        cluster.close()


# ----------------------------------------------------------------------------- the leader leaves


async def test_removing_the_leader_hands_over_and_it_learns_it_was_removed(tmp_path, client):
    cluster = cluster_of(tmp_path, 3)
    try:
        cluster.start_all()
        leader = await find_leader(client, cluster)
        await change_members(client, leader, "DELETE", f"/cluster/members/{leader.id}")
        others = [n for n in cluster.nodes if n is not leader]
        successor = await leader_of(client, others)
        code, _, _ = await client.call("POST", successor.url + "/tasks", {"title": "after"})
        assert code == 201

        async def says_removed() -> bool:
            status = await client.status(leader)
            return bool(status) and status["membership"] == "removed"

        await wait_for(says_removed, DEADLINE_S, "the old leader to say it was removed")
        code, body, _ = await client.call("POST", leader.url + "/tasks", {"title": "refused"})
        assert code == 410 and body["error"] == "removed_from_cluster", body
        listed = await members(client, successor)
        assert leader.id in listed["retired"] and leader.id not in [m["id"] for m in listed["members"]]
    finally:
        cluster.close()


# -------------------------------------------------------------------------- another cluster's node


async def test_a_node_of_another_cluster_is_refused(tmp_path, client):
    ours = cluster_of(tmp_path / "ours", 3)
    theirs = cluster_of(tmp_path / "theirs", 3)
    try:
        # The same ports, so the same member ids: as if a node were given another cluster's data directory.
        urls = [n.url for n in ours.nodes]
        for mine, other in zip(ours.nodes, theirs.nodes, strict=True):
            other.port, other.config = mine.port, theirs.root / f"node{mine.port}.toml"
            other.log = theirs.root / f"node{mine.port}.log"
            data_dir = theirs.root / f"data{mine.port}"
            other.config.write_text(theirs._config_text(mine.port, urls, data_dir=data_dir))
        theirs_id = await _cluster_id_of_all(client, theirs)
        for i in range(3):
            theirs.kill(i)
        ours_id = await _cluster_id_of_all(client, ours)
        assert ours_id != theirs_id
        ours.kill(2)
        theirs.start(2)  # their node, at the port and under the id of one of ours

        said = (
            f"refusing the streams of {ours.nodes[2].id}: {ours.nodes[2].id} belongs to cluster {theirs_id}"
        )

        async def refused() -> bool:
            return all(said in node.log.read_text() for node in ours.nodes[:2])

        await wait_for(refused, DEADLINE_S, "our nodes to refuse their node")
        status = await client.status(theirs.nodes[2])
        assert status["cluster_id"] == theirs_id and status["leader_id"] is None
    finally:
        ours.close()
        theirs.close()


async def _cluster_id_of_all(client: Client, cluster: ProcessCluster) -> str:
    cluster.start_all()

    async def one_id() -> str | None:
        ids = {(await client.status(node) or {}).get("cluster_id") for node in cluster.nodes}
        return ids.pop() if len(ids) == 1 and None not in ids else None

    return await wait_for(one_id, DEADLINE_S, "every node to know the cluster id")


# ---------------------------------------------------------------------------------- self-healing


async def test_four_nodes_keep_writing_through_losing_two_one_after_the_other_and_grow_back(tmp_path, client):
    cluster = cluster_of(tmp_path, 4, **HEALING)
    timeline: list[str] = []
    try:
        cluster.start_all()
        leader = await find_leader(client, cluster)
        first, second = [n for n in cluster.nodes if n is not leader][:2]
        writers = Writers(client.session, [n.url for n in cluster.nodes], clients=2, seed=4)
        running = asyncio.ensure_future(writers.run())
        started = time.monotonic()

        def note(what: str) -> None:
            timeline.append(f"{time.monotonic() - started:5.1f} s  {what}")

        try:
            await lose_two_and_grow_back(client, cluster, (first, second), writers, note)
        finally:
            writers.stopping.set()
            await asyncio.wait_for(running, 90)
        ended = time.monotonic()
        voters = await voters_of(client, cluster.nodes)
        final = await same_tasks_everywhere(client, cluster.nodes)
        check_nothing_lost_or_duplicated(writers, [t["title"] for t in final])
        pause, _ = writers.longest_pause(started, ended)
        note(f"writes acknowledged: {len(writers.acks)}, longest pause {pause * 1000:.0f} ms")
        print("\n".join(["sequential loss:", *timeline]))
        stayed = [n.id for n in cluster.nodes if n not in (first, second)]
        assert sorted(voters) == sorted([*stayed, f"{first.id}.2", f"{second.id}.2"])  # back under new ids
        assert pause <= ONE_ELECTION_S, f"writes stopped for {pause:.2f} s"
    finally:
        cluster.close()


# ------------------------------------------------------------------------------- the terminal


async def test_the_terminal_client_lists_adds_removes_and_replaces(tmp_path, client):
    cluster = cluster_of(tmp_path, 3)
    try:
        cluster.start_all()
        leader = await find_leader(client, cluster)
        await members_can_change(client, leader)
        at = ("--url", leader.url)
        spare = f"http://127.0.0.1:{free_port()}"
        added = await run("cluster", "add", spare, "--learner", *at, secret=True)
        assert added.returncode == 0 and "as a learner; it stays one" in added.stdout, added.stderr
        spare_id = added.stdout.split()[1]
        removed = await run("cluster", "remove", spare_id, *at, secret=True)
        assert removed.returncode == 0 and f"removed {spare_id}" in removed.stdout, removed.stderr
        refused = await run("cluster", "remove", "nobody", *at, secret=True)
        assert refused.returncode == 1 and "no member has that id" in refused.stderr

        dead = next(n for n in cluster.nodes if n is not leader)
        cluster.kill(dead.index)
        new = cluster.add_node(join=leader.url)
        cluster.start(new.index)
        replaced = await run("cluster", "replace", dead.id, new.url, *at, secret=True)
        assert replaced.returncode == 0, replaced.stderr
        assert replaced.stdout.strip().splitlines()[-1] == f"replaced {dead.id} with {new.id}"

        listed = await run("cluster", "members", *at, secret=True)
        lines = listed.stdout.strip().splitlines()
        rows = {line.split()[0]: line.split()[2] for line in lines[2:-1]}
        assert rows == {n.id: "voter" for n in cluster.nodes if n is not dead}
        assert lines[-1] == f"retired ids (never used again): {', '.join(sorted([spare_id, dead.id]))}"
    finally:
        cluster.close()
