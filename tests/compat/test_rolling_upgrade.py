"""A rolling upgrade under load: a four-node cluster of the previous release, taken to this one a node at
a time while clients keep writing, loses nothing, duplicates nothing, never stops taking writes for
longer than one election, and moves to the new formats only once every voter runs this release.
One node also goes back to the previous release before the switch, on the data directory this
release wrote, and forward again.

Two profiles (``TODONODE_UPGRADE=short|long``; ``make test`` runs the short one, ``make upgrade`` the
long one): short stops each node with SIGTERM (a leader hands over first) and takes node 0 back and
forth once; long kills every node with ``kill -9`` and takes three nodes (the leader among them)
forward, back and forward again, with more clients and longer between steps. The figures go to
test-artifacts/rolling-upgrade.json and the end of the test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.harness import Client, NodeProcess, ProcessCluster, wait_for
from todonode.versions import CLUSTER_VERSIONS, STORAGE_FORMAT

from .previous import Release
from .report import record_figures
from .writers import Writers

NEWEST = CLUSTER_VERSIONS.stop - 1
TIMINGS = {"heartbeat_ms": 100, "election_timeout_ms": 1000, "leader_settle_ms": 1000}
# The longest a follower waits for a leader before it campaigns is twice the election timeout
# (the timeout is drawn from [T, 2T)); its campaign then needs a pre-vote and a vote round trip.
# A leader killed with kill -9 (the long profile) costs up to that whole election, so there the bound
# holds on a machine that is not starved of CPU; a leader stopped with SIGTERM hands over at once.
ONE_ELECTION_S = 2 * TIMINGS["election_timeout_ms"] / 1000 + 2 * TIMINGS["heartbeat_ms"] / 1000


NEW, OLD = "this release", "the previous release"


@dataclass(frozen=True)
class Profile:
    name: str
    clients: int
    dwell_s: float  # writes between two steps
    crash: bool  # kill -9 instead of SIGTERM
    # Each step restarts one node on one release; the last one takes the last old node to this one.
    steps: tuple[tuple[int, str], ...]


PROFILES = {
    "short": Profile(
        "short",
        clients=4,
        dwell_s=0.5,
        crash=False,
        steps=((0, NEW), (0, OLD), (0, NEW), (1, NEW), (2, NEW), (3, NEW)),
    ),
    # Three nodes of this release, a leader among them, then all three back, then everyone forward.
    "long": Profile(
        "long",
        clients=8,
        dwell_s=3.0,
        crash=True,
        steps=(
            *((0, NEW), (1, NEW), (2, NEW)),
            *((2, OLD), (1, OLD), (0, OLD)),
            *((0, NEW), (1, NEW), (2, NEW), (3, NEW)),
        ),
    ),
}


class MixedCluster(ProcessCluster):
    """A cluster whose nodes may run different releases: ``pythons[i]`` runs node i."""

    pythons: dict[int, str]

    def command(self, node: NodeProcess) -> list[str]:
        return [self.pythons[node.index], *super().command(node)[1:]]


@dataclass
class Sample:
    at: float
    node: int
    term: int
    role: str
    cluster_version: int | None  # None: the previous release, which reports none
    storage_format: int | None


@dataclass
class Monitor:
    """Polls every node's /status; keeps every answer."""

    session: aiohttp.ClientSession
    nodes: list[NodeProcess]
    samples: list[Sample] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        await asyncio.gather(*(self._watch(n) for n in self.nodes))

    async def _watch(self, node: NodeProcess) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError, ValueError):
                async with self.session.get(
                    node.url + "/status", timeout=aiohttp.ClientTimeout(total=0.5)
                ) as resp:
                    s = await resp.json()
                    self.samples.append(
                        Sample(
                            time.monotonic(),
                            node.index,
                            s["term"],
                            s["role"],
                            s.get("cluster_version"),
                            s.get("storage_format"),
                        )
                    )
            await asyncio.sleep(0.1)

    def latest(self, node: int) -> Sample | None:
        return next((s for s in reversed(self.samples) if s.node == node), None)

    async def all_switched(self) -> bool:
        """Every node last said it runs the newest cluster version and writes the newest format."""
        latest = [self.latest(n.index) for n in self.nodes]
        return all(s and (s.cluster_version, s.storage_format) == (NEWEST, STORAGE_FORMAT) for s in latest)


async def _status(session: aiohttp.ClientSession, node: NodeProcess) -> dict[str, Any] | None:
    with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError, ValueError):
        async with session.get(node.url + "/status", timeout=aiohttp.ClientTimeout(total=1)) as resp:
            return await resp.json() if resp.status == 200 else None
    return None


async def _caught_up(session: aiohttp.ClientSession, cluster: ProcessCluster, node: NodeProcess) -> bool:
    """``node`` follows a leader the others agree on and has applied what that leader has committed."""
    statuses = [await _status(session, n) for n in cluster.nodes]
    mine = statuses[node.index]
    leaders = [s for s in statuses if s and s["is_leader"]]
    if mine is None or len(leaders) != 1 or mine["leader_id"] != leaders[0]["node_id"]:
        return False
    return mine["applied_index"] >= leaders[0]["commit_index"] - 5  # within a few in-flight writes


async def _swap(
    session: aiohttp.ClientSession, cluster: MixedCluster, i: int, python: str, profile: Profile
) -> None:
    """Take node i down and bring it back on ``python``'s release, on the same data directory."""
    # In a thread: waiting for the process to exit must not stop the writers' event loop.
    if profile.crash:
        await asyncio.to_thread(cluster.kill, i)
    else:
        assert await asyncio.to_thread(cluster.terminate, i) == 0, f"{cluster.nodes[i].id} did not stop"
    cluster.pythons[i] = python
    cluster.start(i)
    node = cluster.nodes[i]
    await wait_for(lambda: _caught_up(session, cluster, node), 30, f"{node.id} to catch up after its restart")


def _formats_seen(monitor: Monitor, until: float) -> set[tuple[int | None, int | None]]:
    return {(s.cluster_version, s.storage_format) for s in monitor.samples if s.at < until}


async def test_a_rolling_upgrade_under_load_loses_nothing_and_switches_formats_last(
    previous: Release, tmp_path: Path
) -> None:
    profile = PROFILES[os.environ.get("TODONODE_UPGRADE", "short")]
    old, new = str(previous.python), sys.executable
    cluster = MixedCluster(tmp_path / "cluster", 4, timings=TIMINGS, log_level="info")
    cluster.pythons = dict.fromkeys(range(4), old)
    try:
        await _upgrade(cluster, profile, old, new)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.close()


async def _upgrade(cluster: MixedCluster, profile: Profile, old: str, new: str) -> None:
    async with aiohttp.ClientSession() as session:
        cluster.start_all()
        for node in cluster.nodes:
            await wait_for(lambda n=node: _caught_up(session, cluster, n), 30, f"{node.id} to join")
        writers = Writers(session, [n.url for n in cluster.nodes], profile.clients, seed=19)
        monitor = Monitor(session, cluster.nodes)
        running = [asyncio.create_task(writers.run()), asyncio.create_task(monitor.run())]
        try:
            started = time.monotonic()
            timeline = []
            for n, (i, release) in enumerate(profile.steps):
                await asyncio.sleep(profile.dwell_s)
                if n == len(profile.steps) - 1:
                    last_old_gone = time.monotonic()  # this step stops the last old node
                began = time.monotonic() - started
                await _swap(session, cluster, i, new if release == NEW else old, profile)
                timeline.append(f"{began:.1f}-{time.monotonic() - started:.1f} s: node {i} to {release}")
            await wait_for(monitor.all_switched, 15, "every node to move to the new version")
            switched_at = time.monotonic()
            await asyncio.sleep(profile.dwell_s)
        finally:
            writers.stopping.set()
            await asyncio.wait_for(running[0], 90)
            monitor.stopping.set()
            await running[1]
        ended = time.monotonic()
        final = await _converged_tasks(session, cluster)

    assert not writers.problems, writers.problems[:5]
    acked = {a.title for a in writers.acks}
    titles = [t["title"] for t in final]
    assert len(titles) == len(set(titles)), "a write was applied twice"
    assert set(titles) == acked, (
        f"lost: {sorted(acked - set(titles))[:5]}, never acknowledged: {sorted(set(titles) - acked)[:5]}"
    )
    # Before the last previous-release node left, nothing reported the new cluster version or format.
    assert _formats_seen(monitor, last_old_gone) <= {(None, None), (1, 1)}
    assert {(n, s) for n, s in _formats_seen(monitor, ended) if n is not None} >= {(NEWEST, STORAGE_FORMAT)}
    for node in cluster.nodes:
        version_file = (cluster.root / f"data{node.port}" / "VERSION").read_text()
        assert f'"format":{STORAGE_FORMAT}' in version_file

    pause, pause_at = writers.longest_pause(started, ended)
    terms = sorted({s.term for s in monitor.samples})
    figures = {
        "writes_acknowledged": len(writers.acks),
        "longest_write_pause_s": round(pause, 3),
        "longest_pause_began_s_into_the_upgrade": round(pause_at - started, 2),
        "one_election_s": ONE_ELECTION_S,
        "elections": len(terms) - 1,
        "restarts": len(profile.steps),
        "switch_after_last_upgrade_s": round(switched_at - last_old_gone, 2),
        "duration_s": round(ended - started, 1),
        "retried_writes": sum(a.attempts > 1 for a in writers.acks),
        "steps": timeline,
    }
    summary = (
        f"{figures['writes_acknowledged']} writes acknowledged, none lost or duplicated; longest write "
        f"pause {pause * 1000:.0f} ms (one election: {ONE_ELECTION_S * 1000:.0f} ms); "
        f"{figures['elections']} elections over {figures['restarts']} restarts in {figures['duration_s']} s; "
        f"cluster version {NEWEST} {figures['switch_after_last_upgrade_s']} s after the last upgrade"
    )
    record_figures(profile.name, figures, summary)
    print(summary)
    assert pause <= ONE_ELECTION_S, f"writes stopped for {pause:.2f} s: {summary}"


async def _converged_tasks(session: aiohttp.ClientSession, cluster: ProcessCluster) -> list[dict[str, Any]]:
    """The final list, once every node has applied the same index and holds the same tasks."""

    async def same_everywhere() -> list[dict[str, Any]] | None:
        lists = []
        for node in cluster.nodes:
            tasks = await Client(session).tasks(node, consistency="strong")  # a page at a time
            if tasks is None:
                return None
            lists.append(tasks)
        return lists[0] if all(tasks == lists[0] for tasks in lists) else None

    return await wait_for(same_everywhere, 30, "every node to hold the same tasks")


@pytest.fixture(autouse=True)
def _no_stray_profile() -> None:
    profile = os.environ.get("TODONODE_UPGRADE", "short")
    assert profile in PROFILES, f"TODONODE_UPGRADE={profile}: not one of {', '.join(PROFILES)}"
