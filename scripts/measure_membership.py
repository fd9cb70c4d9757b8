"""The figures of membership changes, measured on real processes on this machine:

1. the time from ``todonode cluster add`` to voter for a node joining a cluster that holds
   ``--tasks`` tasks (100,000 by default): the add, the start of the empty node with
   ``cluster.join``, the snapshot and the log, the promotion;
2. write unavailability — the longest gap between acknowledged writes of clients writing
   continuously — during an add (to voter), a remove, and the removal of the leader;
3. the sequential-loss timeline: four voters with ``auto_remove_after_s = 2``, ``min_voters = 2`` and
   ``auto_rejoin`` lose two nodes one after the other and grow back to four.

    .venv/bin/python scripts/measure_membership.py [--tasks 100000] [--json results.json]

Figures are as measured, with whatever else the machine does; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from tests.compat.writers import Writers  # noqa: E402
from tests.integration.harness import (  # noqa: E402
    DEADLINE_S,
    SECRET,
    Client,
    NodeProcess,
    ProcessCluster,
    find_leader,
    wait_for,
)
from tests.integration.membership import (  # noqa: E402
    HEALING,
    change_members,
    leader_of,
    lose_two_and_grow_back,
    role_of,
)

BATCH = 1000
WRITE_CLIENTS = 2
SETTLE_S = 1.0  # writes measured on after each change is done


async def join_under_load(root: Path, tasks: int) -> dict[str, Any]:
    # Snapshots every few entries: the log is compacted, so the new node is sent the whole state.
    cluster = ProcessCluster(root, 3, storage={"snapshot_every": 20}, log_level="info")
    try:
        cluster.start_all()
        async with aiohttp.ClientSession() as session:
            client = Client(session, timeout=60)
            leader = await find_leader(client, cluster)
            for start in range(0, tasks, BATCH):
                batch = [{"title": f"task {n}"} for n in range(start, min(tasks, start + BATCH))]
                code, body, _ = await client.call("POST", leader.url + "/tasks/batch", {"tasks": batch})
                assert code == 201, body
            loaded = (await client.status(leader) or {})["commit_index"]
            new = cluster.add_node(join=leader.url)
            started = time.monotonic()
            add = [sys.executable, "-m", "todonode.cli", "cluster", "add", new.url, "--url", leader.url]
            done = await asyncio.to_thread(
                subprocess.run,
                add,
                capture_output=True,
                text=True,
                env={"TODONODE_SECRET": SECRET, "PATH": ""},
            )
            assert done.returncode == 0, done.stderr
            added = time.monotonic()
            cluster.start(new.index)

            async def voter() -> bool:
                return await role_of(client, await leader_of(client, cluster.nodes[:3]), new.id) == "voter"

            await wait_for(voter, 600, f"{new.id} to become a voter", interval=0.1)
            voted = time.monotonic()
            await wait_for(lambda: _applied(client, new, loaded), 600, f"{new.id} to apply every task")
            applied = time.monotonic()
            return {
                "tasks": tasks,
                "add_answered_s": round(added - started, 2),
                "add_to_voter_s": round(voted - started, 2),
                "add_to_applied_s": round(applied - started, 2),
                "snapshot_installed": "installed a snapshot from the leader" in new.log.read_text(),
            }
    finally:
        cluster.close()


async def _applied(client: Client, node: NodeProcess, index: int) -> bool:
    status = await client.status(node)
    return status is not None and status["applied_index"] >= index


async def unavailability(root: Path) -> dict[str, Any]:
    """The longest write gap during each change, with clients writing throughout."""
    cluster = ProcessCluster(root, 3, log_level="info")
    figures: dict[str, Any] = {}
    try:
        cluster.start_all()
        async with aiohttp.ClientSession() as session:
            client = Client(session)
            await find_leader(client, cluster)
            writers = Writers(session, [n.url for n in cluster.nodes], clients=WRITE_CLIENTS, seed=1)
            running = asyncio.ensure_future(writers.run())
            try:
                await asyncio.sleep(SETTLE_S)

                async def window(name: str, change: Callable[[], Awaitable[None]]) -> None:
                    started = time.monotonic()
                    await change()
                    await asyncio.sleep(SETTLE_S)
                    pause, _ = writers.longest_pause(started, time.monotonic())
                    figures[f"{name}_longest_write_gap_ms"] = round(pause * 1000)
                    figures[f"{name}_took_s"] = round(time.monotonic() - started - SETTLE_S, 2)

                new = cluster.add_node(join=cluster.nodes[0].url)

                async def add() -> None:
                    cluster.start(new.index)
                    writers.urls.append(new.url)

                    async def voter() -> bool:
                        return (
                            await role_of(client, await leader_of(client, cluster.nodes), new.id) == "voter"
                        )

                    await wait_for(voter, DEADLINE_S, f"{new.id} to vote", interval=0.05)

                await window("add", add)
                leader = await leader_of(client, cluster.nodes)
                follower = next(n for n in cluster.nodes if n is not leader)

                async def remove_follower() -> None:
                    writers.urls.remove(follower.url)
                    await change_members(client, leader, "DELETE", f"/cluster/members/{follower.id}")

                await window("remove", remove_follower)

                async def remove_leader() -> None:
                    writers.urls.remove(leader.url)
                    await change_members(client, leader, "DELETE", f"/cluster/members/{leader.id}")
                    await leader_of(client, [n for n in cluster.nodes if n not in (leader, follower)])

                await window("leader_removal", remove_leader)
            finally:
                writers.stopping.set()
                await asyncio.wait_for(running, 90)
            figures["writes_acknowledged"] = len(writers.acks)
            figures["problems"] = writers.problems[:5]
            return figures
    finally:
        cluster.close()


async def sequential_loss(root: Path) -> dict[str, Any]:
    cluster = ProcessCluster(root, 4, timings=HEALING, log_level="info")
    timeline: list[str] = []
    try:
        cluster.start_all()
        async with aiohttp.ClientSession() as session:
            client = Client(session)
            leader = await find_leader(client, cluster)
            first, second = [n for n in cluster.nodes if n is not leader][:2]
            writers = Writers(session, [n.url for n in cluster.nodes], clients=WRITE_CLIENTS, seed=2)
            running = asyncio.ensure_future(writers.run())
            started = time.monotonic()

            def note(what: str) -> None:
                timeline.append(f"{time.monotonic() - started:6.2f} s  {what}")

            try:
                await lose_two_and_grow_back(client, cluster, (first, second), writers, note)
            finally:
                writers.stopping.set()
                await asyncio.wait_for(running, 90)
            pause, at = writers.longest_pause(started, time.monotonic())
            return {
                "timeline": timeline,
                "writes_acknowledged": len(writers.acks),
                "longest_write_gap_ms": round(pause * 1000),
                "longest_gap_began_s": round(at - started, 2),
                "problems": writers.problems[:5],
            }
    finally:
        cluster.close()


async def main(tasks: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="todonode-membership-") as tmp:
        root = Path(tmp)
        return {
            "join": await join_under_load(root / "join", tasks),
            "unavailability": await unavailability(root / "changes"),
            "sequential_loss": await sequential_loss(root / "loss"),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = asyncio.run(main(args.tasks))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
